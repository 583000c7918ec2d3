"""The OrderManager's parts, wired together around one shared ``OrderBook``.

Each part is a plain class given its collaborators in its constructor: the engine's context,
the shared state, the paced outbox and the sibling parts it calls, the way Mopidy's ``Core``
builds ``PlaybackController(audio=..., backends=..., core=self)``. The parts import each other
one way only (no import cycle); the two calls that go back up are explicit seams:

* an order's end and status changes reach the parts that follow them through
  ``OrderUpdates.follow`` (``OrderEndListener``, ``OrderChangeListener``);
* a market close (``MarketCloser``) asked by the overfill guard, a refused stop or a re-pricing
  plan goes to ``Placing.close_at_market`` through this object.

Built on the thread that builds the actor; used only on the actor's thread after that.
"""

from __future__ import annotations

from datetime import datetime

from actors.order_manager.broker_reads import BrokerReads
from actors.order_manager.executions import Executions
from actors.order_manager.exits import ExitGuard
from actors.order_manager.flatten import Flatten
from actors.order_manager.margin import MarginGate
from actors.order_manager.order_check import WorkingOrderCheck
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.pacing import PacedOutbox
from actors.order_manager.placing import Placing
from actors.order_manager.position_check import PositionCheck
from actors.order_manager.proofs import Proofs
from actors.order_manager.read_steps import ReadJobs
from actors.order_manager.reconcile import Reconciliation
from actors.order_manager.refusals import Refusals
from actors.order_manager.repricing import RepricePlans
from actors.order_manager.revisions import Revisions
from actors.order_manager.settlement import Settlements
from actors.order_manager.sides import OppositeSides
from actors.order_manager.stale import StaleEntries
from actors.order_manager.state import HeldPosition, OrderBook
from actors.order_manager.stop_cover import StopCover
from actors.order_manager.submission import Submitter
from actors.runtime.context import EngineContext

__all__ = ["OrderManagerParts"]


class OrderManagerParts:
    """Every part of the OrderManager, sharing ``state`` (its orders and positions) and
    ``outbox`` (its paced broker calls); ``address`` is where its own timers tell it."""

    def __init__(self, ctx: EngineContext, *, address: str) -> None:
        self.ctx = ctx
        self.state = state = OrderBook()
        self.outbox = outbox = PacedOutbox(ctx, address=address)
        self.orders = orders = OrderUpdates(ctx, state, outbox)
        self.exits = ExitGuard(ctx, state, closer=self)
        self.submitter = Submitter(ctx, state, orders=orders, exits=self.exits)
        self.sides = OppositeSides(state, outbox, orders=orders, submitter=self.submitter)
        self.margin = MarginGate(ctx, sides=self.sides)
        self.stop_cover = StopCover(ctx, state, outbox, orders=orders, submitter=self.submitter)
        self.repricing = RepricePlans(
            ctx, state, outbox, address=address, orders=orders, closer=self
        )
        self.refusals = Refusals(
            ctx,
            state,
            orders=orders,
            stop_cover=self.stop_cover,
            repricing=self.repricing,
            closer=self,
        )
        self.placing = Placing(
            ctx,
            state,
            orders=orders,
            submitter=self.submitter,
            exits=self.exits,
            sides=self.sides,
            margin=self.margin,
            repricing=self.repricing,
        )
        self.revisions = Revisions(ctx, state, orders=orders)
        self.executions = Executions(
            ctx, state, orders=orders, revisions=self.revisions, exits=self.exits
        )
        self.flatten = Flatten(
            ctx,
            state,
            outbox,
            address=address,
            orders=orders,
            executions=self.executions,
            placing=self.placing,
        )
        self.settlement = Settlements(ctx, state, executions=self.executions)
        self.proofs = Proofs(
            ctx, state, orders=orders, executions=self.executions, settlement=self.settlement
        )
        self.reads = BrokerReads(ctx, state, executions=self.executions)
        self.read_jobs = ReadJobs(ctx, address=address)
        self.order_check = WorkingOrderCheck(ctx, state, orders=orders, stop_cover=self.stop_cover)
        self.reconcile = Reconciliation(
            ctx,
            state,
            orders=orders,
            reads=self.reads,
            proofs=self.proofs,
            stop_cover=self.stop_cover,
            order_check=self.order_check,
        )
        self.position_check = PositionCheck(ctx, state, reconcile=self.reconcile, reads=self.reads)
        self.stale_entries = StaleEntries(
            state, config=lambda: ctx.config.orders, cancel=orders.cancel
        )
        # An order's end, in this order: the entry's stop fitted, the exit guard, the
        # re-pricing plan, the flatten, the option exits held for it; then a stop's refusal.
        orders.follow(
            ended=[self.stop_cover, self.exits, self.repricing, self.flatten, self.sides],
            changed=[self.refusals],
        )

    def close_at_market(
        self, va_id: str, position: HeldPosition, *, reason: str, now: datetime, tag: str
    ) -> None:
        """``MarketCloser`` for the parts below ``Placing``: close with a market exit."""
        self.placing.close_at_market(va_id, position, reason=reason, now=now, tag=tag)
