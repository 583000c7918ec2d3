"""``OrderFlow``: the order in which order events leave the adapter (pure; loop thread only).

IB reports a fill as ``execDetails``, then ``orderStatus``, then ``commissionReport``; after a
reconnect the same execution comes again from ``reqExecutions``. The engine wants:

* every execution exactly once per ``execId``, carrying its commission: an execution waits for
  its commission report (at most ``commission_wait_s``, then it leaves with what is known, zero
  if nothing, and ``late_commissions`` counts it); a report that comes after that leaves as a
  ``CommissionReported`` (IB sends ``commissionReport`` on its own, sometimes late:
  tws-api executions_commissions.html; pst-group/pysystemtrade PR #1661);
* a correction (an ``execId`` that differs from a delivered one only after its last period,
  ``core/exec_ids.py``) as an ``ExecutionCorrected`` with the execution it replaces, never as
  a second fill; a correction of an execution still waiting for its commission simply takes
  its place; an older revision seen after a newer one (a replay) is dropped;
* no status that reports more filled than the executions already delivered for that order (the
  OrderManager refits a protective stop to the position when an entry ends; a FILLED status
  ahead of its executions would look like an empty position). Such a status waits for the
  executions, at most ``status_wait_s``;
* one terminal status per order, and no repeat of an unchanged status.

What it remembers of ended orders and delivered executions is bounded: ``forget_ended``, called
once a trading day (``broker/ib/retention.py`` says why that is safe), forgets what had already
ended at its previous call.

Times are monotonic seconds supplied by the caller.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from broker.ib.parsing.retired import Retired
from core.domain import OrderStatus
from core.events import (
    BrokerEvent,
    CommissionReported,
    ExecutionCorrected,
    ExecutionEvent,
    OrderStatusEvent,
)
from core.exec_ids import exec_id_parts

__all__ = ["OrderFlow"]

_ZERO = Decimal(0)


@dataclass(slots=True)
class _PendingExecution:
    event: ExecutionEvent
    since_s: float
    replaces: ExecutionEvent | None = None  # the delivered execution this one corrects


@dataclass(slots=True)
class _OrderLine:
    executed: int = 0  # shares/contracts of the executions delivered
    last: tuple[OrderStatus, int] | None = None  # the last status delivered (status, filled)
    terminal: bool = False
    held: deque[tuple[OrderStatusEvent, float]] = field(default_factory=deque)


class OrderFlow:
    """Pairs executions with commissions, de-duplicates them and holds statuses back until
    the executions they count have been delivered. Every method returns the events to deliver
    now, in order."""

    def __init__(self, *, commission_wait_s: float = 5.0, status_wait_s: float = 5.0) -> None:
        self.commission_wait_s = commission_wait_s
        self.status_wait_s = status_wait_s
        self._seen: set[str] = set()  # execution ids delivered or waiting
        self._pending: dict[str, _PendingExecution] = {}
        self._commissions: dict[str, Decimal] = {}  # reports that came before their execution
        self._lines: dict[str, _OrderLine] = {}
        # The latest revision of every execution, by the id before its last period: the
        # delivered event, or the id of the one still waiting for its commission.
        self._delivered: dict[str, ExecutionEvent] = {}
        self._waiting: dict[str, str] = {}
        self._uncommissioned: dict[str, ExecutionEvent] = {}  # delivered without a report
        self.late_commissions = 0
        self.corrections = 0
        self.released_statuses = 0
        self._ended_lines: Retired[str] = Retired()
        self._settled_execs: Retired[str] = Retired()

    def forget_ended(self) -> int:
        """Forget the orders that were terminal (nothing held back) and the executions that
        were delivered (or whose report came first) at the previous call and still are: the
        bound on what the flow keeps. Returns how many entries went."""
        lines = self._ended_lines.roll(
            cid for cid, line in self._lines.items() if line.terminal and not line.held
        )
        for cid in lines:
            del self._lines[cid]
        settled = (e for e in [*self._seen, *self._commissions] if e not in self._pending)
        execs = self._settled_execs.roll(settled)
        for exec_id in execs:
            self._seen.discard(exec_id)
            self._commissions.pop(exec_id, None)
            self._uncommissioned.pop(exec_id, None)
            base = exec_id_parts(exec_id)[0]
            delivered = self._delivered.get(base)
            if delivered is not None and delivered.exec_id == exec_id:
                del self._delivered[base]
        return len(lines) + len(execs)

    def sizes(self) -> dict[str, int]:
        """How many entries each of its maps holds (for tests and the soak benchmark)."""
        return {
            "seen": len(self._seen),
            "pending": len(self._pending),
            "commissions": len(self._commissions),
            "lines": len(self._lines),
            "delivered": len(self._delivered),
            "uncommissioned": len(self._uncommissioned),
        }

    # -- inputs ---------------------------------------------------------------------------------
    def execution(
        self, event: ExecutionEvent, now_s: float, *, commission: Decimal | None = None
    ) -> list[BrokerEvent]:
        """An execution (live or replayed). ``commission`` when it is already known."""
        exec_id = event.exec_id
        if exec_id in self._seen:
            if commission is not None:
                return self.commission(exec_id, commission, now_s)
            return []
        self._seen.add(exec_id)
        base, revision = exec_id_parts(exec_id)
        replaces: ExecutionEvent | None = None
        waiting = self._waiting.get(base)
        if waiting is not None:
            if exec_id_parts(waiting)[1] > revision:
                return []  # an older revision after a newer one
            earlier = self._pending.pop(waiting)  # never delivered: simply replaced
            replaces = earlier.replaces
            del self._waiting[base]
        delivered = self._delivered.get(base)
        if delivered is not None and replaces is None:
            if exec_id_parts(delivered.exec_id)[1] > revision:
                return []
            replaces = delivered
        known = commission if commission is not None else self._commissions.pop(exec_id, None)
        if known is None:
            self._pending[exec_id] = _PendingExecution(event, now_s, replaces)
            self._waiting[base] = exec_id
            return []
        return self._deliver(_with_commission(event, known), replaces)

    def commission(self, exec_id: str, commission: Decimal, now_s: float) -> list[BrokerEvent]:
        """A commission report for ``exec_id``."""
        pending = self._pending.pop(exec_id, None)
        if pending is None:
            late = self._uncommissioned.pop(exec_id, None)
            if late is not None:
                return [CommissionReported(exec_id, late.client_order_id, commission, late.time)]
            if exec_id not in self._seen:
                self._commissions[exec_id] = commission
            return []
        del self._waiting[exec_id_parts(exec_id)[0]]
        return self._deliver(_with_commission(pending.event, commission), pending.replaces)

    def status(self, event: OrderStatusEvent, now_s: float) -> list[BrokerEvent]:
        """A status from the broker (or the adapter)."""
        line = self._lines.setdefault(event.client_order_id, _OrderLine())
        if line.terminal:
            return []
        if line.held or event.filled > line.executed:
            line.held.append((event, now_s))
            return []
        return self._emit_status(line, event)

    def expire(self, now_s: float) -> list[BrokerEvent]:
        """Deliver what has waited too long: executions without a commission report (with
        zero commission) and statuses whose executions never came."""
        out: list[BrokerEvent] = []
        for exec_id, pending in list(self._pending.items()):
            if now_s - pending.since_s >= self.commission_wait_s:
                del self._pending[exec_id]
                del self._waiting[exec_id_parts(exec_id)[0]]
                self.late_commissions += 1
                self._uncommissioned[exec_id] = pending.event
                out.extend(self._deliver(pending.event, pending.replaces))
        for line in self._lines.values():
            while line.held and now_s - line.held[0][1] >= self.status_wait_s:
                event, _ = line.held.popleft()
                self.released_statuses += 1
                out.extend(self._emit_status(line, event))
                out.extend(self._release(line))
        return out

    # -- reads ----------------------------------------------------------------------------------
    def is_terminal(self, client_order_id: str) -> bool:
        line = self._lines.get(client_order_id)
        return line is not None and line.terminal

    def executed(self, client_order_id: str) -> int:
        line = self._lines.get(client_order_id)
        return line.executed if line else 0

    def waiting(self) -> int:
        """Executions and statuses held back now."""
        return len(self._pending) + sum(len(line.held) for line in self._lines.values())

    # -- internals ------------------------------------------------------------------------------
    def _deliver(self, event: ExecutionEvent, replaces: ExecutionEvent | None) -> list[BrokerEvent]:
        self._delivered[exec_id_parts(event.exec_id)[0]] = event
        line = self._lines.setdefault(event.client_order_id, _OrderLine())
        if replaces is None:
            line.executed += event.quantity
            return [event, *self._release(line)]
        self.corrections += 1
        self._uncommissioned.pop(replaces.exec_id, None)  # its report no longer matters
        line.executed += event.quantity - replaces.quantity
        return [ExecutionCorrected(replaces, event), *self._release(line)]

    def _release(self, line: _OrderLine) -> list[BrokerEvent]:
        out: list[BrokerEvent] = []
        while line.held and line.held[0][0].filled <= line.executed:
            event, _ = line.held.popleft()
            out.extend(self._emit_status(line, event))
        return out

    @staticmethod
    def _emit_status(line: _OrderLine, event: OrderStatusEvent) -> list[BrokerEvent]:
        if line.terminal:
            return []
        key = (event.status, event.filled)
        if key == line.last and not event.status.is_terminal:
            return []
        line.last = key
        line.terminal = event.status.is_terminal
        return [event]


def _with_commission(event: ExecutionEvent, commission: Decimal) -> ExecutionEvent:
    if event.commission == commission:
        return event
    return ExecutionEvent(
        event.exec_id,
        event.client_order_id,
        event.contract,
        event.side,
        event.quantity,
        event.price,
        commission,
        event.time,
    )
