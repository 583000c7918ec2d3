"""Reconciliation passes for the OrderManager: at startup (gating all trading) and after every
reconnect.

A pass reads the broker while the market moves, so a fill can fall between any two reads. It
reads the open orders first, then the executions: an order not open at the first read has
ended, so whatever it filled is in the second. An order not at the broker and not filled by the
executions read is not retired at once (its fill may still be on its way): it leaves the working
orders, so a lost stop is replaced now, and is ended at its second look, at the first reconcile
tick a reconcile interval later on the clock (ticks that queued up behind a slow read are handled
back to back, no time apart: they are not a second look), filled if its executions have added up
by then, else cancelled. Positions are compared only on a consistent read (the broker's
executions the same before and after it) and count as a mismatch only when stable
(``core/rules/reconcile.py``); a pass tells the governor its verdict (a ``reconciled`` notice)
once it has one, at most ``LOOKS`` looks after it began. A pass whose broker read raised (the
actor restarts from the ledger) runs again at the next reconcile tick.

Between passes, ``position_check.py`` compares positions periodically and ``order_check.py``
the working orders; ``stale.py`` cancels stale entries.

``Reconciliation`` is a part of the OrderManager: every method runs on its actor thread. A pass
and a second look are jobs in steps (``read_steps.py``): each broker read is made on a worker
thread while the actor handles fills, so after each read the orders are taken as they are then;
the orders a pass may find gone are those handed to the broker before its open-orders read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger

from actors.messages.events import RiskNotice
from actors.order_manager.broker_reads import BrokerReads
from actors.order_manager.order_check import WorkingOrderCheck
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.proofs import CHECK_HINT, Proofs
from actors.order_manager.read_steps import Steps, open_orders
from actors.order_manager.state import OrderBook, PassKind, WorkingOrder
from actors.order_manager.stop_cover import StopCover
from actors.runtime.context import EngineContext
from core.domain import OrderStatus
from core.rules.reconcile import LOOKS, PositionRead, Verdict, judge_positions
from core.rules.reconcile_text import reconciled_reason

__all__ = ["OpenPass", "PassKind", "Reconciliation"]

#: How each kind of pass words what it finds: (where the order went, when it was not found).
_PASS_WORDING: dict[PassKind, tuple[str, str]] = {
    "startup": ("while the engine was away", "at startup"),
    "reconnect": ("while the connection was down", "after a reconnect"),
}


@dataclass(slots=True)
class OpenPass:
    """A reconciliation pass still without a verdict on positions."""

    kind: PassKind
    differences: list[str] = field(default_factory=list)
    orders_done: bool = False  # False while (or if a broker read failed while) orders are read
    looks: int = 0
    previous: PositionRead | None = None  # the last consistent read of an earlier look


class Reconciliation:
    """The startup and reconnect passes, and the second looks they leave to reconcile ticks."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        orders: OrderUpdates,
        reads: BrokerReads,
        proofs: Proofs,
        stop_cover: StopCover,
        order_check: WorkingOrderCheck,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.orders = orders
        self.reads = reads
        self.proofs = proofs
        self.stop_cover = stop_cover
        self.order_check = order_check
        self.open_pass: OpenPass | None = None
        # When (clock time) the last look of a pass began: the next is a reconcile interval later.
        self._looked_at: datetime | None = None

    def run_pass(self, now: datetime, *, kind: PassKind) -> Steps[None]:
        """A reconciliation pass (``kind`` "startup" before any trading, "reconnect" after a
        connection loss): take in executions the ledger missed, end orders the broker no longer
        has (filled now if their executions add up, else at their second look), re-protect
        positions that lost their stop, list broker orders the ledger lacks, compare positions,
        and tell the governor (which keeps the gate closed until the startup pass is reported).
        """
        if self.open_pass is None:
            self.open_pass = OpenPass(kind)
        open_pass = self.open_pass
        # An earlier pass still open takes this one in (a startup's stays one: its notice opens
        # the gate); one that raised (a broker read failed) is run again at the next tick.
        open_pass.orders_done = False
        self._looked_at = self.ctx.clock.now()
        differences: list[str] = []
        reads = self.reads
        # Only orders handed to the broker before the open-orders read can be missing from it
        # (fills and new orders are handled while the broker is read), and one that ends
        # while it is read may be listed by it.
        tracked = set(self.state.orders)
        handed = {
            o.id
            for o in self.state.orders.values()
            if o.working
            and not (
                kind == "reconnect"
                and o.status is OrderStatus.PENDING_SUBMIT
                and o.handed_at is None
            )
        }
        # Open orders before executions: an order missing from this read has ended, so every
        # fill it will ever have happened before the executions read that follows.
        open_ids = {o.client_order_id for o in (yield from open_orders())}
        yield from reads.read_executions()
        executed = reads.executed_by_order()
        # Fills whose executions IB no longer lists (an earlier day's), proven by its
        # completed orders (``proofs.py``).
        differences += yield from self.proofs.prove_from_completed(
            [
                o
                for o in self.state.orders.values()
                if o.working
                and o.id in handed
                and o.id not in open_ids
                and o.record.parent_id not in open_ids
            ],
            executed,
            now,
        )
        orders = self.state.orders
        for order in list(orders.values()):
            if order.id in open_ids or not order.working or order.id not in handed:
                continue
            if order.record.parent_id in open_ids:
                continue  # an attached stop: the broker holds it with its parent
            if max(order.done, executed.get(order.id, 0)) >= order.record.quantity:
                differences.append(self._end_order_not_at_broker(order, executed, now, kind))
                continue
            differences.append(f"order {order.id} ({order.record.purpose}) is not at the broker")
            # Not ended yet: its fill may still be on its way. Out of the working orders (a lost
            # stop is replaced now), it is ended at its second look.
            self.state.awaiting_second_look[order.id] = (orders.pop(order.id), kind)
        for oid in sorted(open_ids - self.state.orders.keys() - tracked):
            differences.append(f"broker order {oid} is not in the ledger")
        if kind == "startup":
            differences += yield from self.proofs.settle_found(now)  # before positions
        self.stop_cover.restore_stops(now)
        open_pass.differences.extend(differences)
        open_pass.orders_done = True
        yield from self._look_at_positions(now)

    def second_look(self, now: datetime) -> Steps[None]:
        """The second look, at a reconcile tick: end the orders a pass did not find at the
        broker now that their late fills had time to arrive, and look at the positions again
        for a pass without a verdict."""
        if not self.state.awaiting_second_look and self.open_pass is None:
            return
        if self.open_pass is not None and not self.open_pass.orders_done:
            yield from self.run_pass(now, kind=self.open_pass.kind)
            return
        if not self._look_due():
            return
        self._looked_at = self.ctx.clock.now()
        open_ids = {o.client_order_id for o in (yield from open_orders())}
        yield from self.reads.read_executions()
        awaiting, self.state.awaiting_second_look = self.state.awaiting_second_look, {}
        executed = self.reads.executed_by_order() if awaiting else {}
        for oid, (held_back, kind) in sorted(awaiting.items()):
            stored = self.ctx.ledger.order(oid)
            if stored is None or stored.status.is_terminal:
                continue  # ended meanwhile (after a restart of this actor rebuilt it)
            order = self.state.orders.setdefault(oid, held_back)
            if oid in open_ids or order.record.parent_id in open_ids:
                self.order_check.report_once(oid, f"order {oid} is at the broker after all", now)
                continue
            self._end_order_not_at_broker(order, executed, now, kind)
        if awaiting:
            self.stop_cover.restore_stops(now)
        if self.open_pass is not None:
            yield from self._look_at_positions(now)

    def _look_due(self) -> bool:
        """True when the last look began at least a reconcile interval ago on the clock (10 %
        slack for a timer's jitter at real speed). Counting ticks is not enough: ticks that
        queued behind a slow broker read arrive together, no time apart."""
        if self._looked_at is None:
            return True
        interval_s = self.ctx.config.engine.reconcile_interval_s
        elapsed_s = (self.ctx.clock.now() - self._looked_at).total_seconds()
        return elapsed_s >= 0.9 * interval_s

    def _end_order_not_at_broker(
        self, order: WorkingOrder, executed: dict[str, int], now: datetime, kind: PassKind
    ) -> str:
        """End an order the broker no longer works: filled if its executions add up, else
        cancelled with what did fill. Returns the difference to report."""
        away, at = _PASS_WORDING[kind]
        filled = min(max(order.done, executed.get(order.id, 0)), order.record.quantity)
        if filled == order.record.quantity:
            status, reason = OrderStatus.FILLED, f"filled {away}"
        else:
            status, reason = OrderStatus.CANCELLED, f"not at the broker {at}"
        self.orders.set_status(order.id, status, filled, order.avg_fill_price, now, reason)
        return f"order {order.id} ({order.record.purpose}) {reason}"

    def _look_at_positions(self, now: datetime) -> Steps[None]:
        """One look at the positions for the open pass; with a verdict, tell the governor."""
        open_pass = self.open_pass
        assert open_pass is not None
        open_pass.looks += 1
        read = yield from self.reads.read_positions()
        undecided = frozenset(
            order.record.contract_key for order, _ in self.state.awaiting_second_look.values()
        )
        verdict = judge_positions(
            read, open_pass.previous, undecided=undecided, final=open_pass.looks >= LOOKS
        )
        if read.consistent:
            open_pass.previous = read
        if verdict is Verdict.UNSETTLED:
            logger.info(
                "order manager: {} reconciliation, look {}: {}; looking again",
                open_pass.kind,
                open_pass.looks,
                "; ".join(read.differences) or "executions changed during every read",
            )
            return
        self.open_pass = None
        suffix = " (unconfirmed)" if verdict is Verdict.UNCONFIRMED else ""
        differences = open_pass.differences + [line + suffix for line in read.differences]
        mismatch = verdict is Verdict.DIFFER
        summary = "; ".join(differences) if differences else "ledger and broker agree"
        self.ctx.book.tell(
            "governor",
            RiskNotice(
                "reconciled",
                reconciled_reason(open_pass.kind, differences),
                now,
                json.dumps(
                    {
                        "pass": open_pass.kind,
                        "mismatch": mismatch,
                        "verdict": verdict.value,
                        "looks": open_pass.looks,
                        "differences": differences,
                        # What the trader should check when the books differ.
                        "check": CHECK_HINT if mismatch else "",
                        "summary": summary,
                    }
                ),
            ),
        )
