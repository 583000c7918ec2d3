"""The validation's two drills: the emergency halt and the daily-loss circuit breaker.

Threads: both run on the validation's caller thread (``runner.run_validation``), from its poll
loop; they talk to the engine through its public API (asks with timeouts) and to the simulated
TWS through its thread-safe controls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal

import pykka
from loguru import logger

from actors.messages.snapshots import OrderSnapshot, RiskStatus
from broker.tws.server import TwsSimServer
from core.domain import OrderStatus, Purpose, TradingState
from engine.engine import Engine
from engine.validation.broker_view import BrokerViewSession
from engine.validation.report import BreakerDrill, HaltDrill

__all__ = [
    "EmergencyHaltDrill",
    "SellOffDrill",
    "acknowledged_entries",
    "governor_status",
    "iso_seconds",
]

#: How long each step of a drill may wait for the engine or IB (wall seconds).
_DRILL_WAIT_S = 5.0
#: The sell-off of the breaker drill: a step every 10 simulated minutes, at most 8 steps.
_CRASH_EVERY = timedelta(minutes=10)
_CRASH_STEPS = 8
#: Statuses of an entry that IB has acknowledged and still works.
_ACKNOWLEDGED = frozenset({OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED})


def iso_seconds(moment: datetime) -> str:
    """A moment as the report shows it (ISO 8601, whole seconds)."""
    return moment.isoformat(timespec="seconds")


def governor_status(engine: Engine) -> RiskStatus | None:
    """The risk governor's status, or None when it is busy or restarting (asked again later)."""
    try:
        status = engine.ask_snapshot("governor", timeout_s=2.0)
    except (pykka.Timeout, pykka.ActorDeadError):
        return None
    return status if isinstance(status, RiskStatus) else None


def acknowledged_entries(orders: Iterable[OrderSnapshot]) -> frozenset[str] | None:
    """The ids of the working entries when IB has acknowledged every one of them; None when
    there is no working entry or one is still PENDING_SUBMIT.

    Why the halt drill waits for this: an entry still waiting for IB's acknowledgement cannot
    end until IB answers (the cancel of an unacknowledged order waits for its ack), so a halt
    pressed then would time IB's acknowledgement, not the halt. The drill's bound
    (``report.HALT_BOUND_MS``) measures how fast a halt ends orders IB is working.
    """
    entries = [o for o in orders if o.purpose is Purpose.ENTRY and o.status.is_working]
    if not entries or any(o.status not in _ACKNOWLEDGED for o in entries):
        return None
    return frozenset(o.order_id for o in entries)


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> float | None:
    """Wall milliseconds until ``predicate`` held (polled every 20 ms), None after timeout."""
    start = time.monotonic()
    pause = threading.Event()
    while time.monotonic() - start < timeout_s:
        if predicate():
            return (time.monotonic() - start) * 1000.0
        pause.wait(0.02)
    return None


def _working(engine: Engine) -> tuple[OrderSnapshot, ...]:
    try:
        return engine.working_orders(timeout_s=2.0)
    except (pykka.Timeout, pykka.ActorDeadError):  # busy: the drill waits for a later poll
        return ()


class EmergencyHaltDrill:
    """Halt the engine while entries of ours work at IB, time the halt, then resume.

    ``result`` is None until the drill has run.
    """

    def __init__(self, server: TwsSimServer, *, view_client_id: int) -> None:
        self._server = server
        self._view_client_id = view_client_id
        self.result: HaltDrill | None = None

    def try_run(self, engine: Engine) -> None:
        """Halt at the first poll that finds entries of ours working and acknowledged by IB
        (``acknowledged_entries``), measure until the governor reports HALTED and until every
        such entry has ended in the ledger with none working at IB, then resume."""
        entries = acknowledged_entries(_working(engine))
        if entries is None:
            return
        at = self._server.now()
        started = time.monotonic()
        engine.halt("validation drill: emergency halt")

        def halted() -> bool:
            status = governor_status(engine)
            return status is not None and status.state is TradingState.HALTED

        halted_ms = _wait_for(halted, _DRILL_WAIT_S)
        with BrokerViewSession(self._server.port, self._view_client_id) as view:

            def entries_gone() -> bool:
                for order_id in entries:
                    record = engine.ledger.order(order_id)
                    if record is None or not record.status.is_terminal:
                        return False
                return not (view.working_order_refs() & entries)

            gone = _wait_for(entries_gone, _DRILL_WAIT_S)
        gone_ms = None if gone is None else (time.monotonic() - started) * 1000.0
        engine.resume("validation drill: resume after the emergency halt")

        def active() -> bool:
            status = governor_status(engine)
            return status is not None and status.state is TradingState.ACTIVE

        resumed = _wait_for(active, _DRILL_WAIT_S) is not None
        self.result = HaltDrill(iso_seconds(at), halted_ms, gone_ms, len(entries), resumed)
        logger.info("validate: halt drill {}", self.result)


class SellOffDrill:
    """A sell-off of the underlyings of the short puts held: each falls ``step_pct`` every
    ``_CRASH_EVERY`` of simulated time until the governor trips its daily-loss breaker, at most
    ``_CRASH_STEPS`` times (enough to trip it, no more: a larger crash would also pause the VAs
    for drawdown and end their trading for the run).

    ``result`` is None until the drill has ended.
    """

    def __init__(self, server: TwsSimServer, *, step_pct: float) -> None:
        self._server = server
        self._step_pct = step_pct
        self._crash_at: datetime | None = None
        self._crashed: tuple[str, ...] = ()
        self._steps = 0
        self._last_step_at: datetime | None = None
        self.result: BreakerDrill | None = None

    @property
    def started(self) -> bool:
        return self._crash_at is not None

    def try_step(self, engine: Engine) -> None:
        """Start the sell-off once short puts are held, step it, or end it when the breaker
        tripped or the last step had an hour to trip it."""
        now = self._server.now()
        if self._crash_at is None:
            held = _short_option_underlyings(engine)
            if not held:
                return
            self._crash_at = now
            self._crashed = held
            self._step(now)
            return
        status = governor_status(engine)
        tripped = (
            status is not None
            and "daily_loss" in status.reason
            and status.state in (TradingState.REDUCING, TradingState.FLATTENING)
        )
        if tripped:
            self.finish(engine, status)
        elif self._steps < _CRASH_STEPS:
            if self._last_step_at is not None and now - self._last_step_at >= _CRASH_EVERY:
                self._step(now)
        elif self._last_step_at is not None and now - self._last_step_at > timedelta(hours=1):
            self.finish(engine, status)

    def _step(self, now: datetime) -> None:
        step = Decimal(str(self._step_pct)) / 100
        for symbol in self._crashed:
            quote = self._server.last_quote(symbol)
            if quote is None:
                continue
            mid = Decimal(str((quote.bid + quote.ask) / 2))
            self._server.set_mid(symbol, (mid * (1 - step)).quantize(Decimal("0.01")))
        self._steps += 1
        self._last_step_at = now
        logger.info(
            "validate: sell-off step {}: {} down {} %", self._steps, self._crashed, self._step_pct
        )

    def finish(self, engine: Engine, status: RiskStatus | None = None) -> None:
        """Record the drill's result (the governor asked again when ``status`` is None)."""
        status = status or governor_status(engine)
        tripped = status is not None and "daily_loss" in status.reason
        assert self._crash_at is not None
        fallen = 100 * (1 - (1 - self._step_pct / 100) ** self._steps)
        self.result = BreakerDrill(
            at=iso_seconds(self._crash_at),
            crashed=self._crashed,
            crash_pct=round(fallen, 1),
            tripped_at=iso_seconds(self._server.now()) if tripped else None,
            state=str(status.state) if status is not None else "unknown",
            reason=status.reason if status is not None else "no answer from the governor",
            day_pnl=float(status.day_pnl) if status is not None else None,
        )
        logger.info("validate: breaker drill {}", self.result)


def _short_option_underlyings(engine: Engine) -> tuple[str, ...]:
    symbols = {
        p.contract_key.split()[0]
        for p in engine.ledger.open_positions()
        if p.quantity < 0 and len(p.contract_key.split()) == 4
    }
    return tuple(sorted(symbols))
