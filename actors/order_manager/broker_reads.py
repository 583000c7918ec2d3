"""The broker reads a reconciliation makes, for the OrderManager: executions (taken in as
they are read), positions against the ledger's on a consistent read, shares executed per order.

A positions read is consistent when the broker's executions were the same just before and just
after it (``core/rules/reconcile.py``), and the OrderManager booked no execution meanwhile that
the read after it did not list (it handles fills while the broker is read: such a fill is in
the ledger's positions and maybe not in the broker's); it is retried up to ``READS_PER_LOOK``
times while it is not.

``BrokerReads`` is a part of the OrderManager: every method runs on its actor thread; the reads
are steps of a job (``read_steps.py``): they yield to the worker thread that makes them, and the
read raises there (``ConnectionError`` when the link is gone, ``TimeoutError`` when the broker
does not answer in time).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from actors.order_manager.executions import Executions
from actors.order_manager.read_steps import Steps, executions, positions
from actors.order_manager.state import OrderBook
from actors.runtime.context import EngineContext
from core.rules.reconcile import PositionRead
from core.rules.reconcile import position_differences as compare_positions

if TYPE_CHECKING:
    from db.ledger import Ledger

__all__ = ["READS_PER_LOOK", "BrokerReads", "executed_by_order"]

#: Positions reads per look before the look counts as inconsistent (the market kept filling).
READS_PER_LOOK = 3


class BrokerReads:
    """Reads the broker for a reconciliation and takes in the executions it finds."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        executions: Executions,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.executions = executions
        self._exec_ids: frozenset[str] = frozenset()  # the broker's executions at the last read

    def read_executions(self) -> Steps[frozenset[str]]:
        """Read the broker's executions and take in those of our orders (stored once each:
        the ledger skips known ids). Returns the execution ids read."""
        found = yield from executions()
        awaiting = self.state.awaiting_second_look
        for execution in found:
            if execution.exec_id in self._exec_ids:
                continue  # taken in at an earlier read
            oid = execution.client_order_id
            if oid in self.state.orders or oid in awaiting or self.ctx.ledger.order(oid):
                self.executions.on_execution(execution)
        self._exec_ids = frozenset(e.exec_id for e in found)
        return self._exec_ids

    def read_positions(self) -> Steps[PositionRead]:
        """The broker's positions against the ledger's, read between two executions reads
        (the first is the last ``read_executions``): consistent when both agree and every
        execution booked since the positions read began is in the second; retried up to
        ``READS_PER_LOOK`` times while not."""
        read = PositionRead(False)
        for _ in range(READS_PER_LOOK):
            before = self._exec_ids
            booked = self.state.watch_booked()
            try:
                theirs: dict[str, int] = {}
                for position in (yield from positions()):
                    key = position.contract.key
                    theirs[key] = theirs.get(key, 0) + position.quantity
                after = yield from self.read_executions()
            finally:
                self.state.stop_watching_booked()
            ours: dict[str, int] = {}
            for (_va, key), held in self.state.positions.items():
                ours[key] = ours.get(key, 0) + held.quantity
            consistent = after == before and booked <= after
            read = replace(compare_positions(ours, theirs), consistent=consistent)
            if read.consistent:
                break
        return read

    def executed_by_order(self) -> dict[str, int]:
        """Shares executed per order, from the ledger."""
        return executed_by_order(self.ctx.ledger)


def executed_by_order(ledger: Ledger) -> dict[str, int]:
    """Shares executed per order, from ``ledger``."""
    executed: dict[str, int] = {}
    for stored in ledger.executions():
        executed[stored.order_id] = executed.get(stored.order_id, 0) + stored.quantity
    return executed
