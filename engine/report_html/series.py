"""The numbers behind the HTML report's charts, shaped from ledger records. Pure: no I/O, no
plotting library; runs on the calling thread (``main.py report --html``'s main thread).

Equity here is *realized* equity: a VA's capital plus the P&L its executions realized
(average cost, ``core.rules.positions.apply_execution``) minus every commission paid, stepped
at each execution. The ledger stores fills, not marks, so open positions count at cost; the
last point equals the text report's ``balance``. Drawdown is equity minus its running peak
(zero or negative, in dollars).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Protocol

from core.rules.positions import apply_execution
from core.rules.trades import ExecutionLike

__all__ = [
    "TOTAL",
    "AccountLike",
    "EquityPoint",
    "ExitReason",
    "GreeksPoint",
    "GreeksSampleLike",
    "TradeBar",
    "daily_pnl",
    "equity_curves",
    "exits_by_reason",
    "flat_times",
    "greeks_over_time",
    "trade_bars",
    "trade_pnls",
]

TOTAL = "TOTAL"
"""The key of the curve that sums every VA."""

_ZERO = Decimal(0)


class AccountLike(Protocol):
    """What the shaping reads of a VA (``db.records.AccountRecord``)."""

    @property
    def id(self) -> str: ...
    @property
    def capital(self) -> Decimal: ...


class GreeksSampleLike(Protocol):
    """A stored sample of a VA's option risk (``db.records.GreeksSampleRecord``)."""

    @property
    def time(self) -> datetime: ...
    @property
    def va_id(self) -> str: ...
    @property
    def delta_dollars(self) -> float: ...
    @property
    def theta_per_day(self) -> float: ...
    @property
    def margin(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """Realized equity and drawdown (dollars, <= 0) just after the executions at ``time``."""

    time: datetime
    equity: Decimal
    drawdown: Decimal


@dataclass(frozen=True, slots=True)
class ExitReason:
    """How many closed trades ended for ``reason`` and their summed P&L (dollars)."""

    reason: str
    count: int
    pnl: Decimal


@dataclass(frozen=True, slots=True)
class TradeBar:
    """One closed trade on the timeline: who, what, from when to when, and its P&L."""

    va: str
    contract: str
    side: str
    entry_time: datetime
    exit_time: datetime
    pnl: Decimal
    exit_reason: str


@dataclass(frozen=True, slots=True)
class GreeksPoint:
    """A VA's option risk at ``time``: delta in dollars, theta per day, margin in use."""

    time: datetime
    delta_dollars: float
    theta_per_day: float
    margin: Decimal


def _realized_steps(
    executions: Iterable[ExecutionLike],
) -> list[tuple[datetime, str, Decimal]]:
    """``(time, va, change of realized P&L net of commission)`` for each execution, in ledger
    order (time, then insertion)."""
    books: dict[tuple[str, str], tuple[int, Decimal]] = {}
    steps = []
    for ex in executions:
        key = (ex.va_id, ex.contract_key)
        quantity, avg_price = books.get(key, (0, _ZERO))
        sign = 1 if str(ex.side) == "BUY" else -1
        step = apply_execution(quantity, avg_price, sign * ex.quantity, ex.price, ex.multiplier)
        books[key] = (step.quantity, step.avg_price)
        steps.append((ex.time, ex.va_id, step.realized - ex.commission))
    return steps


def _with_drawdown(points: Sequence[tuple[datetime, Decimal]]) -> list[EquityPoint]:
    curve = []
    peak: Decimal | None = None
    for time, equity in points:
        peak = equity if peak is None else max(peak, equity)
        curve.append(EquityPoint(time, equity, equity - peak))
    return curve


def equity_curves(
    accounts: Iterable[AccountLike],
    executions: Iterable[ExecutionLike],
    *,
    until: datetime | None = None,
) -> dict[str, list[EquityPoint]]:
    """Realized equity and drawdown per VA and in ``TOTAL`` (every VA's capital summed).

    Each curve starts at its capital at the first execution's time and has one point per
    execution time after it (executions at the same instant are one point), and a last point
    at ``until`` (the ledger's last record) when that is later: the equity held since. A VA
    with no execution has its capital only; with no execution anywhere every curve is empty.
    VAs that trade without a stored account (older ledgers) start at 0.
    """
    capital = {a.id: a.capital for a in accounts}
    steps = _realized_steps(executions)
    if not steps:
        return {}
    start = steps[0][0]
    for _, va, _ in steps:
        capital.setdefault(va, _ZERO)
    raw: dict[str, list[tuple[datetime, Decimal]]] = {va: [(start, c)] for va, c in capital.items()}
    raw[TOTAL] = [(start, sum(capital.values(), _ZERO))]
    for time, va, change in steps:
        for key in (va, TOTAL):
            points = raw[key]
            last_time, last_equity = points[-1]
            equity = last_equity + change
            if last_time == time and len(points) > 1:
                points[-1] = (time, equity)
            else:
                points.append((time, equity))
    if until is not None:
        for points in raw.values():
            if until > points[-1][0]:
                points.append((until, points[-1][1]))
    return {key: _with_drawdown(points) for key, points in raw.items()}


def daily_pnl(executions: Iterable[ExecutionLike], *, tz: tzinfo) -> dict[date, dict[str, Decimal]]:
    """Realized P&L net of commissions per exchange day (``tz``) and VA, days in order."""
    days: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for time, va, change in _realized_steps(executions):
        days[time.astimezone(tz).date()][va] += change
    return {day: dict(by_va) for day, by_va in sorted(days.items())}


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else _ZERO


def exits_by_reason(trades: Iterable[Mapping[str, Any]]) -> list[ExitReason]:
    """Closed trades (the report's ``trades`` rows) counted by ``exit_reason``, most first
    (ties by name); a trade with no reason counts as ``"-"``."""
    counts: dict[str, int] = defaultdict(int)
    pnls: dict[str, Decimal] = defaultdict(Decimal)
    for trade in trades:
        reason = trade["exit_reason"] or "-"
        counts[reason] += 1
        pnls[reason] += _decimal(trade["pnl"])
    order = sorted(counts, key=lambda r: (-counts[r], r))
    return [ExitReason(r, counts[r], pnls[r]) for r in order]


def trade_pnls(trades: Iterable[Mapping[str, Any]]) -> list[Decimal]:
    """Each closed trade's P&L (dollars, net of commissions), in the report's order."""
    return [_decimal(trade["pnl"]) for trade in trades]


def trade_bars(trades: Iterable[Mapping[str, Any]]) -> list[TradeBar]:
    """The report's ``trades`` rows (ISO times) as timeline bars, by entry time."""
    bars = [
        TradeBar(
            va=t["va"],
            contract=t["contract"],
            side=t["side"],
            entry_time=datetime.fromisoformat(t["entry_time"]),
            exit_time=datetime.fromisoformat(t["exit_time"]),
            pnl=_decimal(t["pnl"]),
            exit_reason=t["exit_reason"] or "-",
        )
        for t in trades
    ]
    return sorted(bars, key=lambda b: (b.entry_time, b.va))


def greeks_over_time(
    samples: Iterable[GreeksSampleLike],
    *,
    option_vas: Iterable[str],
    flats: Mapping[str, Sequence[datetime]],
) -> dict[str, list[GreeksPoint]]:
    """The stored greeks samples of each VA in ``option_vas`` with a zero point at each time
    in ``flats`` (``flat_times``: no sample is stored for a VA that holds nothing), by time.
    A VA with no sample maps to an empty list (the chart then says so)."""
    series: dict[str, list[GreeksPoint]] = {va: [] for va in sorted(set(option_vas))}
    for sample in samples:
        if sample.va_id in series:
            series[sample.va_id].append(
                GreeksPoint(sample.time, sample.delta_dollars, sample.theta_per_day, sample.margin)
            )
    for va, points in series.items():
        if points:
            points.extend(GreeksPoint(t, 0.0, 0.0, _ZERO) for t in flats.get(va, ()))
            points.sort(key=lambda p: p.time)
    return series


def flat_times(executions: Iterable[ExecutionLike]) -> dict[str, list[datetime]]:
    """Per VA, the times its last open position closed (every contract flat again): from
    then on it holds no risk, and the PositionMonitor publishes no totals for it."""
    held: dict[tuple[str, str], int] = {}
    flats: dict[str, list[datetime]] = defaultdict(list)
    for ex in executions:
        key = (ex.va_id, ex.contract_key)
        sign = 1 if str(ex.side) == "BUY" else -1
        before = held.get(key, 0)
        held[key] = before + sign * ex.quantity
        still_held = any(q for (va, _), q in held.items() if va == ex.va_id)
        if before != 0 and held[key] == 0 and not still_held:
            flats[ex.va_id].append(ex.time)
    return dict(flats)
