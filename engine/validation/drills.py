"""The validation's two drills: the emergency halt and the daily-loss circuit breaker.

Threads: both run on the validation's caller thread (``runner.run_validation``), from its poll
loop; they talk to the engine through its public API (asks with timeouts) and to the simulated
TWS through its thread-safe controls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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
    "GAP_CAP_PCT",
    "EmergencyHaltDrill",
    "SellOffDrill",
    "ShortPut",
    "acknowledged_entries",
    "gap_to_trip",
    "governor_status",
    "iso_seconds",
    "loss_at_drop",
    "short_puts",
]

#: How long each step of a drill may wait for the engine or IB (wall seconds).
_DRILL_WAIT_S = 5.0
#: The sell-off of the breaker drill: a move every 10 simulated minutes, at most 8 moves.
_CRASH_EVERY = timedelta(minutes=10)
_CRASH_STEPS = 8
#: The gap aims at this multiple of what the day may still lose (the stops fill at the gapped
#: market; the puts' time value and the other positions' moves make the loss differ).
_GAP_MARGIN = Decimal("1.5")
#: The deepest gap the drill makes (percent).
GAP_CAP_PCT = 40
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


@dataclass(frozen=True, slots=True)
class ShortPut:
    """A short put held, as the sell-off sizes its gap from it (``credit`` per share)."""

    symbol: str
    strike: Decimal
    contracts: int
    multiplier: int
    credit: Decimal


def loss_at_drop(puts: Iterable[ShortPut], mids: Mapping[str, Decimal], drop_pct: int) -> Decimal:
    """What the short puts lose when every underlying falls ``drop_pct`` percent from its mid:
    each put's intrinsic value there less its credit (a put held is worth at least that, so
    this is the least the gap costs). Puts whose underlying has no mid count nothing."""
    loss = Decimal(0)
    for put in puts:
        mid = mids.get(put.symbol)
        if mid is None:
            continue
        intrinsic = max(Decimal(0), put.strike - mid * (100 - drop_pct) / 100)
        loss += (intrinsic - put.credit) * put.contracts * put.multiplier
    return loss


def gap_to_trip(
    puts: Iterable[ShortPut], mids: Mapping[str, Decimal], loss_needed: Decimal, *, least_pct: int
) -> int:
    """The drop (whole percent, ``least_pct`` to ``GAP_CAP_PCT``) at which the puts lose at
    least ``loss_needed``: the smallest such one, else the cap."""
    held = list(puts)
    for drop in range(least_pct, GAP_CAP_PCT + 1):
        if loss_at_drop(held, mids, drop) >= loss_needed:
            return drop
    return GAP_CAP_PCT


class SellOffDrill:
    """A sell-off of the underlyings of the short puts held, to trip the daily-loss breaker.

    The first move is a gap: every underlying held falls at once by the drop at which the puts
    lose 1.5 times what the day may still lose before the limit (``gap_to_trip``), so the
    option stops (3x the credit) fill beyond their price, as on a real gap, instead of bounding
    the loss below the limit. The gap is no larger than that (a VA's drawdown limit should not
    pause it for the rest of the run). If the breaker has not tripped ``_CRASH_EVERY`` later,
    each underlying falls ``step_pct`` more, every ``_CRASH_EVERY``, at most ``_CRASH_STEPS``
    moves in all.

    ``result`` is None until the drill has ended.
    """

    def __init__(self, server: TwsSimServer, *, step_pct: float) -> None:
        self._server = server
        self._step_pct = step_pct
        self._crash_at: datetime | None = None
        self._crashed: tuple[str, ...] = ()
        self._steps = 0
        self._remaining = Decimal(1)  # each underlying's price now, as a share of before
        self._last_step_at: datetime | None = None
        self.result: BreakerDrill | None = None

    @property
    def started(self) -> bool:
        return self._crash_at is not None

    @property
    def running(self) -> bool:
        """Started and not yet ended (a halt and resume now would clear its breaker)."""
        return self.started and self.result is None

    def try_step(self, engine: Engine) -> None:
        """Gap the underlyings once short puts are held and the governor has told its day
        P&L, step the sell-off on, or end it when the breaker tripped or the last move had an
        hour to trip it."""
        now = self._server.now()
        status = governor_status(engine)
        if self._crash_at is None:
            puts = short_puts(engine)
            if not puts or status is None:
                return
            mids = {p.symbol: mid for p in puts if (mid := self._mid(p.symbol)) is not None}
            still = status.day_pnl - status.daily_loss_limit  # what the day may still lose
            drop = gap_to_trip(
                puts, mids, still * _GAP_MARGIN, least_pct=max(1, round(self._step_pct))
            )
            self._crash_at = now
            self._crashed = tuple(sorted(mids))
            self._move(now, drop, f"gap sized to lose {still * _GAP_MARGIN:.0f}")
            return
        tripped = (
            status is not None
            and "daily_loss" in status.reason
            and status.state in (TradingState.REDUCING, TradingState.FLATTENING)
        )
        if tripped:
            self.finish(engine, status)
        elif self._steps < _CRASH_STEPS:
            if self._last_step_at is not None and now - self._last_step_at >= _CRASH_EVERY:
                self._move(now, self._step_pct, "a further step")
        elif self._last_step_at is not None and now - self._last_step_at > timedelta(hours=1):
            self.finish(engine, status)

    def _mid(self, symbol: str) -> Decimal | None:
        quote = self._server.last_quote(symbol)
        return None if quote is None else Decimal(str((quote.bid + quote.ask) / 2))

    def _move(self, now: datetime, drop_pct: float, why: str) -> None:
        share = 1 - Decimal(str(drop_pct)) / 100
        for symbol in self._crashed:
            mid = self._mid(symbol)
            if mid is not None:
                self._server.set_mid(symbol, (mid * share).quantize(Decimal("0.01")))
        self._remaining *= share
        self._steps += 1
        self._last_step_at = now
        logger.info(
            "validate: sell-off move {}: {} down {} % ({})",
            self._steps,
            self._crashed,
            drop_pct,
            why,
        )

    def finish(self, engine: Engine, status: RiskStatus | None = None) -> None:
        """Record the drill's result (the governor asked again when ``status`` is None)."""
        status = status or governor_status(engine)
        tripped = status is not None and "daily_loss" in status.reason
        assert self._crash_at is not None
        self.result = BreakerDrill(
            at=iso_seconds(self._crash_at),
            crashed=self._crashed,
            crash_pct=round(float(100 * (1 - self._remaining)), 1),
            tripped_at=iso_seconds(self._server.now()) if tripped else None,
            state=str(status.state) if status is not None else "unknown",
            reason=status.reason if status is not None else "no answer from the governor",
            day_pnl=float(status.day_pnl) if status is not None else None,
        )
        logger.info("validate: breaker drill {}", self.result)


def short_puts(engine: Engine) -> list[ShortPut]:
    """The short puts the ledger holds, one entry per VA and contract."""
    return [
        ShortPut(
            symbol=p.contract.symbol,
            strike=p.contract.strike,
            contracts=-p.quantity,
            multiplier=p.multiplier,
            credit=p.avg_price,
        )
        for p in engine.ledger.open_positions()
        if p.quantity < 0 and p.contract.right == "P" and p.contract.strike is not None
    ]
