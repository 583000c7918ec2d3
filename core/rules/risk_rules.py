"""Global risk limits applied by the RiskGovernor. Pure functions of numbers and states."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.domain import Purpose, TradingState
from core.numbers_text import distinct_pair
from core.rules.decision import OK, Decision, reject
from core.rules.greek_limits import (
    NO_GREEK_LIMITS,
    NO_GREEKS,
    GreekLimits,
    NetGreeks,
    check_greek_limits,
)

__all__ = [
    "EntryFigures",
    "Pacer",
    "check_broker_link",
    "check_concurrent_positions",
    "check_entry_limits",
    "check_margin",
    "check_sector",
    "check_state",
    "check_trades_per_day",
    "daily_loss_limit",
    "daily_loss_tripped",
    "margin_utilization_pct",
    "sector_concentration_pct",
]


def check_state(state: TradingState, purpose: Purpose) -> Decision:
    """Entries only while ACTIVE; exits while ACTIVE, REDUCING or FLATTENING; nothing HALTED."""
    if state is TradingState.ACTIVE:
        return OK
    if state is TradingState.HALTED:
        return reject("trading_state", "HALTED: no new orders")
    if purpose is Purpose.ENTRY:
        return reject("trading_state", f"{state.value}: exits only")
    return OK


def check_broker_link(*, connected: bool, data_stale: bool) -> Decision:
    """Entries need the broker connected and its market data live (stale data freezes entries:
    exits, stops and flatten still pass)."""
    if not connected:
        return reject("connection", "broker disconnected")
    if data_stale:
        return reject("data_stale", "market data stale: entries frozen until quotes return")
    return OK


def check_trades_per_day(trades_today: int, max_trades: int) -> Decision:
    if trades_today >= max_trades:
        return reject("max_trades_per_day", f"{trades_today}/{max_trades}")
    return OK


def check_concurrent_positions(open_positions: int, pending_entries: int, max_pos: int) -> Decision:
    used = open_positions + pending_entries
    if used >= max_pos:
        return reject("max_concurrent_positions", f"{used}/{max_pos}")
    return OK


def margin_utilization_pct(
    maint_margin: Decimal, order_margin: Decimal, net_liquidation: Decimal
) -> Decimal | None:
    """Maintenance margin after the order, in percent of net liquidation (None if netliq <= 0)."""
    if net_liquidation <= 0:
        return None
    return (maint_margin + order_margin) / net_liquidation * 100


def check_margin(
    maint_margin: Decimal, order_margin: Decimal, net_liquidation: Decimal, max_pct: float
) -> Decision:
    """Maintenance margin after the order over net liquidation must stay within ``max_pct``."""
    used = margin_utilization_pct(maint_margin, order_margin, net_liquidation)
    if used is None:
        return reject("margin_utilization", f"net liquidation {net_liquidation:.2f} <= 0")
    if used > Decimal(str(max_pct)):
        shown, limit = distinct_pair(used, max_pct, places=1)
        return reject("margin_utilization", f"{shown}% > {limit}%")
    return OK


def sector_concentration_pct(
    exposure_by_sector: Mapping[str, Decimal],
    sector: str,
    order_notional: Decimal,
    net_liquidation: Decimal,
) -> Decimal | None:
    """One sector's gross exposure after the order, in percent of the larger of the portfolio's
    gross exposure after the order and net liquidation (None without any base).

    The denominator is floored at net liquidation so that the first position of a quiet day is
    measured against the account rather than against itself (which would always be 100%)."""
    gross_after = sum(exposure_by_sector.values(), Decimal(0)) + order_notional
    denominator = max(gross_after, net_liquidation)
    if denominator <= 0:
        return None
    return (exposure_by_sector.get(sector, Decimal(0)) + order_notional) / denominator * 100


def check_sector(
    exposure_by_sector: Mapping[str, Decimal],
    sector: str,
    order_notional: Decimal,
    net_liquidation: Decimal,
    max_pct: float,
) -> Decision:
    """The sector's concentration after the order must stay within ``max_pct``."""
    pct = sector_concentration_pct(exposure_by_sector, sector, order_notional, net_liquidation)
    if pct is None:
        return reject("sector_concentration", "no exposure base")
    if pct > Decimal(str(max_pct)):
        shown, limit = distinct_pair(pct, max_pct, places=1)
        return reject("sector_concentration", f"{sector} {shown}% > {limit}%")
    return OK


@dataclass(frozen=True, slots=True)
class EntryFigures:
    """The account's figures one entry is judged on (money in the account's currency).

    ``pending_new_positions``: entries approved but not yet filled that will open a position
    not already held (an entry filling in parts is a held position: counted once).
    ``used_margin``: the margin in use, pending entries included, before this order."""

    trades_today: int
    open_positions: int
    pending_new_positions: int
    used_margin: Decimal
    order_margin: Decimal
    net_liquidation: Decimal
    sector_exposure: Mapping[str, Decimal]
    sector: str
    order_notional: Decimal
    # The portfolio's net greeks before this order (positions and approved entries) and the
    # order's own (``core.rules.greek_limits``); zero when no greek limit is set.
    greeks_before: NetGreeks = NO_GREEKS
    greeks_entry: NetGreeks = NO_GREEKS


def check_entry_limits(
    figures: EntryFigures,
    *,
    max_trades_per_day: int,
    max_concurrent_positions: int,
    max_margin_utilization_pct: float,
    max_sector_concentration_pct: float,
    greek_limits: GreekLimits = NO_GREEK_LIMITS,
) -> Decision:
    """The global limits of an entry, in order (trades per day, concurrent positions, margin,
    sector concentration, the portfolio greeks); the first refusal wins."""
    for decision in (
        check_trades_per_day(figures.trades_today, max_trades_per_day),
        check_concurrent_positions(
            figures.open_positions, figures.pending_new_positions, max_concurrent_positions
        ),
        check_margin(
            figures.used_margin,
            figures.order_margin,
            figures.net_liquidation,
            max_margin_utilization_pct,
        ),
        check_sector(
            figures.sector_exposure,
            figures.sector,
            figures.order_notional,
            figures.net_liquidation,
            max_sector_concentration_pct,
        ),
        check_greek_limits(figures.greeks_before, figures.greeks_entry, greek_limits),
    ):
        if not decision:
            return decision
    return OK


def daily_loss_limit(day_start_net_liquidation: Decimal, limit_pct: float) -> Decimal:
    """The day's loss limit in money (a negative number)."""
    return -(day_start_net_liquidation * Decimal(str(limit_pct)) / 100)


def daily_loss_tripped(
    day_pnl: Decimal, day_start_net_liquidation: Decimal, limit_pct: float
) -> bool:
    """True when realized plus unrealized P&L of the day is at or below the limit."""
    if day_start_net_liquidation <= 0:
        return False
    return day_pnl <= daily_loss_limit(day_start_net_liquidation, limit_pct)


class Pacer:
    """A sliding one-second window of broker messages shared by the whole engine.

    ``max_per_s`` messages may leave in any second. Entries may use the window only while at
    least ``reserve`` slots stay free for exits and cancels, and are refused (never queued)
    when they would not fit; exits and cancels ask ``delay_for`` how long to wait instead.
    Times are seconds on any monotonic scale (the engine passes clock time)."""

    def __init__(self, max_per_s: int, reserve: int = 5) -> None:
        self.max_per_s = max_per_s
        self.reserve = min(reserve, max_per_s - 1) if max_per_s > 1 else 0
        self._sent: deque[float] = deque()

    def resized(self, max_per_s: int, reserve: int) -> Pacer:
        """A pacer with new limits that remembers what this one sent in the last second (a
        config reload must not hand out a fresh window)."""
        pacer = Pacer(max_per_s, reserve)
        pacer._sent = deque(self._sent)
        return pacer

    def _trim(self, now_s: float) -> None:
        while self._sent and now_s - self._sent[0] >= 1.0:
            self._sent.popleft()

    def used(self, now_s: float) -> int:
        self._trim(now_s)
        return len(self._sent)

    def try_entry(self, now_s: float, messages: int) -> Decision:
        """Take ``messages`` slots for an entry now, or refuse it."""
        used = self.used(now_s)
        if used + messages > self.max_per_s - self.reserve:
            return reject("order_pacing", f"{used}+{messages}/{self.max_per_s} msgs in 1s")
        self._sent.extend([now_s] * messages)
        return OK

    def delay_for_peek(self, now_s: float) -> float:
        """Seconds until one more message may leave, without taking the slot."""
        used = self.used(now_s)
        if used < self.max_per_s:
            return 0.0
        return max(0.0, 1.0 - (now_s - self._sent[used - self.max_per_s]))

    def delay_for(self, now_s: float, messages: int = 1) -> float:
        """Seconds until ``messages`` more may leave (0 = now, and they are counted as sent).

        Raises:
            ValueError: if ``messages`` exceeds what one second allows.
        """
        if not 0 < messages <= self.max_per_s:
            raise ValueError(f"messages must be 1..{self.max_per_s} (got {messages})")
        used = self.used(now_s)
        if used + messages <= self.max_per_s:
            self._sent.extend([now_s] * messages)
            return 0.0
        index = used + messages - self.max_per_s - 1
        return max(0.0, 1.0 - (now_s - self._sent[index]))
