"""The OrderManager's parts, built together around one shared ``OrderBook``.

Each part is a plain class with its collaborators given in its constructor: the engine's
context, the shared state, the paced outbox, and ``parts`` (this object) for the siblings it
calls, the way Mopidy's ``Core`` builds ``PlaybackController(audio=..., backends=...,
core=self)``. Calls between parts go through typed attributes here, so mypy checks each
call against the real signature, and a part can be built and tested without an actor.

Built on the thread that builds the actor; used only on the actor's thread after that.
"""

from __future__ import annotations

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
from actors.order_manager.reconcile import Reconciliation
from actors.order_manager.refusals import Refusals
from actors.order_manager.repricing import RepricePlans
from actors.order_manager.revisions import Revisions
from actors.order_manager.settlement import Settlements
from actors.order_manager.sides import OppositeSides
from actors.order_manager.stale import StaleEntries
from actors.order_manager.state import OrderBook
from actors.order_manager.stop_cover import StopCover
from actors.runtime.context import EngineContext

__all__ = ["OrderManagerParts"]


class OrderManagerParts:
    """Every part of the OrderManager, sharing ``state`` (its orders and positions) and
    ``outbox`` (its paced broker calls); ``address`` is where its own timers tell it."""

    def __init__(self, ctx: EngineContext, *, address: str) -> None:
        self.ctx = ctx
        self.state = OrderBook()
        self.outbox = PacedOutbox(ctx, address=address)
        state, outbox = self.state, self.outbox
        self.orders = OrderUpdates(ctx, state, outbox, parts=self)
        self.executions = Executions(ctx, state, parts=self)
        self.revisions = Revisions(ctx, state, parts=self)
        self.placing = Placing(ctx, state, parts=self)
        self.sides = OppositeSides(state, outbox, parts=self)
        self.margin = MarginGate(ctx, parts=self)
        self.exits = ExitGuard(ctx, state, parts=self)
        self.refusals = Refusals(ctx, state, parts=self)
        self.stop_cover = StopCover(ctx, state, outbox, parts=self)
        self.flatten = Flatten(ctx, state, outbox, address=address, parts=self)
        self.repricing = RepricePlans(ctx, state, outbox, address=address, parts=self)
        self.settlement = Settlements(ctx, state, parts=self)
        self.broker_reads = BrokerReads(ctx, state, parts=self)
        self.reconcile = Reconciliation(ctx, state, parts=self)
        self.proofs = Proofs(ctx, state, parts=self)
        self.order_check = WorkingOrderCheck(ctx, state, parts=self)
        self.position_check = PositionCheck(ctx, parts=self)
        self.stale_entries = StaleEntries(
            state, config=lambda: ctx.config.orders, cancel=self.orders.cancel
        )
