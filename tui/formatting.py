"""Pure formatting: snapshots in, Rich ``Text`` cells and header strings out.

No Textual import and no state, so every function here is tested without an app. Cells are
always ``Text`` (never ``str``): a DataTable parses ``str`` cells as console markup, and a
contract key or a rejection reason must never be read as markup. Text from outside (an event's
reason, a broker's text) also goes through ``core.text.printable``: one line, no ANSI escape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from rich.text import Text

from actors.messages.events import EngineEvent
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, VASnapshot
from core.domain import TradingState
from core.text import printable, short_duration
from tui.risk_cells import RiskTotals, exit_cells, greek_cells, totals_cells

__all__ = [
    "EVENT_STYLES",
    "ORDER_COLUMNS",
    "ORDER_OPTIONAL",
    "POSITION_COLUMNS",
    "POSITION_OPTIONAL",
    "STATE_CLASSES",
    "VA_COLUMNS",
    "VA_OPTIONAL",
    "age_label",
    "clock_label",
    "countdown_label",
    "date_label",
    "day_pnl_pair_text",
    "day_pnl_text",
    "event_line",
    "limits_label",
    "mark_cell",
    "money",
    "order_age_cell",
    "order_cells",
    "position_cells",
    "position_key",
    "position_line",
    "short_order_id",
    "speed_label",
    "va_cells",
    "va_state_cell",
    "va_waiting_cells",
]

#: (column key, header label) of the virtual-account table.
VA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "VA"),
    ("strategy", "Strategy"),
    ("symbol", "Symbol"),
    ("state", "State"),
    ("equity", "Equity"),
    ("day_pnl", "Day P&L"),
    ("total_pnl", "Total P&L"),
    ("drawdown", "DD %"),
    ("wl", "W/L"),
    ("delta", "Delta $"),
    ("theta", "Theta/d"),
    ("margin", "Margin"),
)
#: VA columns shown only while they fit, the most needed first (``KeyedTable``'s ``optional``).
VA_OPTIONAL: tuple[str, ...] = (
    "delta",
    "theta",
    "margin",
    "total_pnl",
    "drawdown",
    "wl",
    "strategy",
)

#: (column key, header label) of the positions table.
POSITION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("va", "VA"),
    ("contract", "Contract"),
    ("qty", "Qty"),
    ("avg", "Avg"),
    ("mark", "Mark"),
    ("pnl", "P&L $"),
    ("pnl_pct", "P&L %"),
    ("target", "Target"),
    ("stop", "Stop"),
    ("time_exit", "Exit by"),
    ("dte", "DTE"),
    ("under", "Und"),
    ("iv", "IV"),
    ("delta_dollars", "Delta $"),
    ("theta", "Theta/d"),
    ("margin", "Margin"),
    ("delta", "Delta"),
)
#: Position columns shown only while they fit, the most needed first.
POSITION_OPTIONAL: tuple[str, ...] = (
    "target",
    "delta_dollars",
    "theta",
    "time_exit",
    "dte",
    "avg",
    "under",
    "iv",
    "margin",
    "pnl_pct",
    "delta",
)

#: (column key, header label) of the working-orders table.
ORDER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "Order"),
    ("va", "VA"),
    ("contract", "Contract"),
    ("side", "Side"),
    ("type", "Type"),
    ("filled", "Filled"),
    ("status", "Status"),
    ("age", "Age"),
)
#: Working-order columns shown only while they fit, the most needed first.
ORDER_OPTIONAL: tuple[str, ...] = ("type", "filled", "id")

#: CSS class of the header's trading-state label per state.
STATE_CLASSES: dict[TradingState, str] = {
    TradingState.ACTIVE: "-active",
    TradingState.REDUCING: "-reducing",
    TradingState.HALTED: "-halted",
    TradingState.FLATTENING: "-flattening",
}

#: Rich style of an event line per ``EngineEvent.kind``.
EVENT_STYLES: dict[str, str] = {
    "fill": "green",
    "reject": "bold red",
    "risk": "yellow",
    "order": "cyan",
    "info": "",
}

_ZERO = Decimal(0)
_VA_STATE_STYLES = {"halted": "bold red", "paused": "yellow", "cooldown": "yellow"}


def money(value: Decimal, *, signed: bool = False) -> str:
    """``1234.5`` -> ``"1,234.50"``; with ``signed`` a ``+`` precedes positive values."""
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def _right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def _pnl(value: Decimal) -> Text:
    style = "green" if value > _ZERO else "red" if value < _ZERO else ""
    return _right(money(value, signed=True), style)


def _pct(value: float, *, signed: bool = True) -> Text:
    style = ("green" if value > 0 else "red" if value < 0 else "") if signed else ""
    return _right(f"{value:+.2f}" if signed else f"{value:.2f}", style)


def _price(value: Decimal | float | None) -> Text:
    return _right("-" if value is None else f"{value:,.2f}")


def position_key(snapshot: PositionSnapshot) -> str:
    """The row key of a position: one row per (VA, contract)."""
    return f"{snapshot.va_id}|{snapshot.contract.key}"


def countdown_label(left: timedelta) -> str:
    """Time left as ``3:12`` (minutes:seconds) or ``1:02:03``; never negative."""
    seconds = max(0, int(left.total_seconds() + 0.999))  # 0.2 s left still reads 0:01
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def va_state_cell(snapshot: VASnapshot, now: datetime) -> Text:
    """``in position``, ``paused``, ``cooldown 3:12`` (time left at exchange time ``now``)."""
    label = snapshot.state.replace("_", " ")
    if snapshot.state == "cooldown" and snapshot.cooldown_until is not None:
        label = f"cooldown {countdown_label(snapshot.cooldown_until - now)}"
    return Text(label, style=_VA_STATE_STYLES.get(snapshot.state, ""))


def va_cells(
    snapshot: VASnapshot,
    now: datetime,
    *,
    stale_marks: bool = False,
    risk: RiskTotals | None = None,
) -> tuple[Text, ...]:
    """One virtual-account row, in ``VA_COLUMNS`` order, at exchange time ``now``; with
    ``stale_marks`` (a position of the VA has a stale mark) the day P&L is flagged STALE;
    ``risk``: the totals of the VA's positions (delta $, theta a day, margin)."""
    drawdown_style = "red" if snapshot.drawdown_pct >= 5 else ""
    day_pnl = _pnl(snapshot.day_pnl)
    if stale_marks:
        day_pnl.append(" STALE", "reverse yellow")
    return (
        Text(snapshot.va_id, style="bold"),
        Text(snapshot.strategy),
        Text(snapshot.symbol or "-"),
        va_state_cell(snapshot, now),
        _right(money(snapshot.equity)),
        day_pnl,
        _pnl(snapshot.equity - snapshot.capital),
        _right(f"{snapshot.drawdown_pct:.2f}", drawdown_style),
        _right(f"{snapshot.wins}/{snapshot.losses}"),
        *totals_cells(risk),
    )


def _optional(value: float | int | None, spec: str) -> Text:
    return _right("-" if value is None else format(value, spec))


def va_waiting_cells(va_id: str) -> tuple[Text, ...]:
    """The row of a configured VA whose first snapshot has not arrived yet."""
    dash = Text("-", style="dim")
    return (
        Text(va_id, style="bold"),
        dash,
        dash,
        Text("waiting", style="dim"),
        *(_right("-", "dim") for _ in VA_COLUMNS[4:]),
    )


def position_cells(snapshot: PositionSnapshot) -> tuple[Text, ...]:
    """One position row, in ``POSITION_COLUMNS`` order: its exits as prices
    (``tui.risk_cells.exit_cells``), days to expiry, the underlying, IV, delta in dollars,
    theta a day and margin (``greek_cells``), and delta per share; dashes where a stock has
    none."""
    target, stop, time_exit = exit_cells(snapshot)
    return (
        Text(snapshot.va_id),
        Text(snapshot.contract.key),
        _right(f"{snapshot.quantity:+d}", "green" if snapshot.quantity > 0 else "red"),
        _price(snapshot.avg_price),
        mark_cell(snapshot),
        _pnl(snapshot.unrealized_pnl),
        _pct(snapshot.unrealized_pct),
        target,
        stop,
        time_exit,
        _optional(snapshot.dte, "d"),
        *greek_cells(snapshot),
        _optional(snapshot.delta, "+.2f"),
    )


def mark_cell(snapshot: PositionSnapshot) -> Text:
    """The mark, flagged ``STALE <age>`` (reverse yellow) when older than exits.stale_mark_s
    while the market is open, and ``DLY`` when it came from delayed data."""
    cell = _price(snapshot.mark)
    if snapshot.mark_stale and snapshot.mark_time is not None:
        cell.append(f" STALE {age_label(snapshot.time - snapshot.mark_time)}", "reverse yellow")
    if snapshot.mark_delayed:
        cell.append(" DLY", "yellow")
    return cell


def position_line(snapshot: PositionSnapshot) -> str:
    """A position as one plain line for the flatten confirmation."""
    return (
        f"{snapshot.va_id:<10} {snapshot.contract.key:<14} {snapshot.quantity:+8d} "
        f"@ {snapshot.avg_price:,.2f}  P&L {money(snapshot.unrealized_pnl, signed=True)}"
    )


def age_label(age: timedelta) -> str:
    """``42s``, ``3m05s``, ``2h07m``; negative ages (clock skew) show as ``0s``."""
    return short_duration(max(0, int(age.total_seconds())))


def order_age_cell(snapshot: OrderSnapshot, now: datetime) -> Text:
    """The age column of a working order at exchange time ``now``."""
    return _right(age_label(now - snapshot.created_at))


def short_order_id(snapshot: OrderSnapshot) -> str:
    """The order id without its ``<va id>-`` prefix (the VA has its own column)."""
    prefix = f"{snapshot.va_id}-"
    order_id = snapshot.order_id
    return (
        order_id[len(prefix) :] if order_id.startswith(prefix) and order_id != prefix else order_id
    )


def order_cells(snapshot: OrderSnapshot, now: datetime) -> tuple[Text, ...]:
    """One working-order row, in ``ORDER_COLUMNS`` order, aged at exchange time ``now``."""
    side_style = "green" if snapshot.side.value == "BUY" else "red"
    return (
        Text(printable(short_order_id(snapshot))),  # an id from the inbox or the broker
        Text(snapshot.va_id),
        Text(printable(snapshot.contract.key)),
        Text(snapshot.side.value, style=side_style),
        Text(f"{snapshot.order_type.value} {snapshot.purpose.value}"),
        _right(f"{snapshot.filled}/{snapshot.quantity}"),
        Text(snapshot.status.value.replace("_", " ")),
        order_age_cell(snapshot, now),
    )


def speed_label(speed: float | None) -> str:
    """Clock speed for the header: ``max`` for None, else ``x30`` / ``x0.5``."""
    if speed is None:
        return "max"
    return f"x{speed:g}"


def date_label(now: datetime) -> str:
    """``2024-05-06 EDT``: the exchange date and zone abbreviation."""
    zone = now.strftime("%Z")
    return f"{now:%Y-%m-%d} {zone}" if zone else f"{now:%Y-%m-%d}"


def clock_label(now: datetime, speed: float | None) -> str:
    """``14:03:22  2024-05-06 EDT  x30``: exchange time, date, zone and speed on one line."""
    return f"{now:%H:%M:%S}  {date_label(now)}  {speed_label(speed)}"


def day_pnl_text(day_pnl: Decimal, daily_loss_limit: Decimal) -> Text:
    """``day P&L -1,200.00 / -5,000.00``; red past half the (negative) limit, amber below 0."""
    if daily_loss_limit < _ZERO and day_pnl <= daily_loss_limit / 2:
        style = "bold red"
    elif day_pnl < _ZERO:
        style = "yellow"
    else:
        style = "green"
    text = Text("day P&L ")
    text.append(money(day_pnl, signed=True), style=style)
    text.append(f" / {money(daily_loss_limit)}")
    return text


def day_pnl_pair_text(
    engine_pnl: Decimal | None,
    account_pnl: Decimal,
    daily_loss_limit: Decimal,
    *,
    judged: Decimal,
    broker: str,
) -> Text:
    """``day P&L engine +735.03 | IB account +767.04 / -5,000.00``: the engine's day P&L (the
    VAs' sum; ``-`` before any VA reported) beside the account's as the broker reports it
    (``broker`` names it), each labelled: they differ by whatever the VAs do not own (manual
    positions, fees, marks taken at other moments). The account figure is styled against the
    loss limit by ``judged``, the figure the daily-loss breaker reads."""
    text = Text("day P&L engine ")
    if engine_pnl is None:
        text.append("-", style="dim")
    else:
        text.append(money(engine_pnl, signed=True), style="yellow" if engine_pnl < _ZERO else "")
    if daily_loss_limit < _ZERO and judged <= daily_loss_limit / 2:
        style = "bold red"
    elif account_pnl < _ZERO or judged < _ZERO:
        style = "yellow"
    else:
        style = "green"
    text.append(f" | {broker} account ")
    text.append(money(account_pnl, signed=True), style=style)
    text.append(f" / {money(daily_loss_limit)}")
    return text


def limits_label(limits: Sequence[tuple[str, str]]) -> str:
    """``trades 3/10  positions 1/5``: the governor's (name, used/max) pairs."""
    return "  ".join(f"{name} {value}" for name, value in limits)


def event_line(event: EngineEvent) -> Text:
    """``10:31:05 fill   VA1  bought 100 AAPL``, styled by the event's kind."""
    line = Text(f"{event.time:%H:%M:%S} ", style="dim")
    line.append(f"{event.kind:<6} ", style=EVENT_STYLES.get(event.kind, ""))
    if event.va_id:
        line.append(f"{printable(event.va_id)} ", style="bold")
    line.append(printable(event.text))  # a reason or a broker's text: one line, no escapes
    return line
