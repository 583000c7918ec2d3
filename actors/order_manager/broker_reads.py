"""The broker reads a reconciliation makes, for the OrderManager: executions (taken in as
they are read), positions against the ledger's on a consistent read, shares executed per order.

A positions read is consistent when the broker's executions were the same just before and just
after it (``core/rules/reconcile.py``); it is retried up to ``READS_PER_LOOK`` times while they
are not.

``BrokerReads`` is a part of the OrderManager: every method runs on its actor thread and
blocks on the broker (raises ``ConnectionError`` when the link is gone, ``TimeoutError`` when
the broker does not answer in time).
"""

from __future__ import annotations

from dataclasses import replace

from actors.order_manager.executions import Executions
from actors.order_manager.state import OrderBook
from actors.runtime.context import EngineContext
from core.rules.reconcile import PositionRead
from core.rules.reconcile import position_differences as compare_positions

__all__ = ["READS_PER_LOOK", "BrokerReads"]

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

    def read_executions(self) -> frozenset[str]:
        """Read the broker's executions and take in those of our orders (stored once each:
        the ledger skips known ids). Returns the execution ids read."""
        executions = self.ctx.broker.executions()
        awaiting = self.state.awaiting_second_look
        for execution in executions:
            if execution.exec_id in self._exec_ids:
                continue  # taken in at an earlier read
            oid = execution.client_order_id
            if oid in self.state.orders or oid in awaiting or self.ctx.ledger.order(oid):
                self.executions.on_execution(execution)
        self._exec_ids = frozenset(e.exec_id for e in executions)
        return self._exec_ids

    def read_positions(self) -> PositionRead:
        """The broker's positions against the ledger's, read between two executions reads
        (the first is the last ``read_executions``): consistent when both agree, retried up to
        ``READS_PER_LOOK`` times while they do not."""
        read = PositionRead(False)
        for _ in range(READS_PER_LOOK):
            before = self._exec_ids
            theirs: dict[str, int] = {}
            for position in self.ctx.broker.positions():
                key = position.contract.key
                theirs[key] = theirs.get(key, 0) + position.quantity
            after = self.read_executions()
            ours: dict[str, int] = {}
            for (_va, key), held in self.state.positions.items():
                ours[key] = ours.get(key, 0) + held.quantity
            read = replace(compare_positions(ours, theirs), consistent=after == before)
            if read.consistent:
                break
        return read

    def executed_by_order(self) -> dict[str, int]:
        """Shares executed per order, from the ledger."""
        executed: dict[str, int] = {}
        for stored in self.ctx.ledger.executions():
            executed[stored.order_id] = executed.get(stored.order_id, 0) + stored.quantity
        return executed
