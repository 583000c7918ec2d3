"""The validation's end: the ledger compared with what IB says, and the engine's answers to
each fault the simulated TWS fired.

Threads: ``EngineEventLog`` is called on the bus's threads and read on the validation's
caller thread (a lock guards it); everything else runs on the caller thread.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from actors.messages.events import EngineEvent
from broker.ib import IBBroker
from broker.tws.server import TwsSimServer
from core.domain import OrderStatus
from engine.engine import Engine
from engine.validation.broker_view import read_broker_view
from engine.validation.drills import iso_seconds
from engine.validation.report import Comparison, FaultOutcome

__all__ = ["EngineEventLog", "compare_with_broker", "fault_outcomes"]

#: A rejection for an off-tick price: IB's 110 text, or our simulator's "110 ..." reason.
_TICK_REJECTION = re.compile(r"\b110\b|minimum price variation", re.IGNORECASE)
#: The engine's answer to a fault: what it said from a minute before (its clock may trail
#: TWS's by seconds) until the next fault, an hour at most (simulated time).
_ANSWER_WINDOW = timedelta(hours=1)
_LEAD = timedelta(minutes=1)


class EngineEventLog:
    """The engine's risk, reject and info events (a bus subscriber), kept for the fault
    answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[EngineEvent] = []

    def __call__(self, item: object) -> None:
        if isinstance(item, EngineEvent) and item.kind in ("risk", "reject", "info"):
            with self._lock:
                self.items.append(item)

    def between(self, start: datetime, end: datetime) -> list[str]:
        with self._lock:
            found = [e for e in self.items if start <= e.time <= end]
        return [f"{e.time:%H:%M:%S} {e.kind}: {e.text}" for e in found]


def compare_with_broker(
    engine: Engine, *, port: int, view_client_id: int, broker: IBBroker | None
) -> Comparison:
    """The ledger's positions, executions and working orders against IB's, read through a
    second API client (``view_client_id``); IB's 110 notices counted by ``broker``."""
    engine.wait_idle(timeout_s=10.0)
    ledger = engine.ledger
    orders = ledger.orders()
    ours = {o.id for o in orders}
    ledger_positions: dict[str, int] = {}
    for position in ledger.open_positions():
        key = position.contract_key
        ledger_positions[key] = ledger_positions.get(key, 0) + position.quantity
    pending = tuple(o.id for o in orders if o.status is OrderStatus.PENDING_SUBMIT)
    ticks = tuple(
        o.id
        for o in orders
        if o.status is OrderStatus.REJECTED and _TICK_REJECTION.search(o.reason or "")
    )
    working = {o.id for o in orders if not o.status.is_terminal}
    errors: list[str] = []
    notices = broker.notice_counts() if broker is not None else {}
    try:
        view = read_broker_view(port, view_client_id)
    except (TimeoutError, ConnectionError, OSError) as err:
        errors.append(f"could not read IB's view: {str(err) or type(err).__name__}")
        return Comparison(
            {k: v for k, v in ledger_positions.items() if v},
            {},
            (),
            (),
            (),
            pending,
            ticks,
            notices.get(110, 0),
            tuple(errors),
        )
    stored = {_exec_base(e.exec_id) for e in ledger.executions()}
    missing = tuple(
        sorted(
            exec_id
            for exec_id, ref in view.executions.items()
            if ref in ours and _exec_base(exec_id) not in stored
        )
    )
    at_ib = view.working_refs & ours
    return Comparison(
        ledger_positions={k: v for k, v in ledger_positions.items() if v},
        broker_positions=dict(view.positions),
        executions_missing_in_ledger=missing,
        ledger_working_not_at_broker=tuple(sorted(working - at_ib)),
        broker_working_not_in_ledger=tuple(sorted(at_ib - working)),
        pending_submit=pending,
        tick_rejections=ticks,
        tick_notices=notices.get(110, 0),
        errors=tuple(errors),
    )


def fault_outcomes(
    engine: Engine, server: TwsSimServer, events: EngineEventLog, *, tz: ZoneInfo
) -> list[FaultOutcome]:
    """Each fault fired, with what the engine said around it: its live events and the
    risk events it stored (a refused modification, a notice, a reconciliation)."""
    stored = engine.ledger.risk_events()
    fired = sorted(server.fired_faults(), key=lambda f: f.time)
    out = []
    for i, f in enumerate(fired):
        # An armed fault (the next order, modification, execution) acts at the client's
        # next move: look until the next fault fired, an hour at most.
        later = [g.time for g in fired[i + 1 :] if g.time > f.time]
        lo, hi = f.time - _LEAD, min([f.time + _ANSWER_WINDOW, *later])
        kept = [
            f"{e.time.astimezone(tz):%H:%M:%S} {e.kind}: {e.reason}"
            for e in stored
            if lo <= e.time <= hi and e.kind not in ("day_reset", "day_start")
        ]
        answers = tuple(dict.fromkeys([*events.between(lo, hi), *kept]))
        out.append(FaultOutcome(iso_seconds(f.time), f.kind, f.detail, answers[:6]))
    return out


def _exec_base(exec_id: str) -> str:
    """An execution id without its correction suffix (IB corrects ``.01`` with ``.02``)."""
    head, dot, _ = exec_id.rpartition(".")
    return head if dot else exec_id
