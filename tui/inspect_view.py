"""Pure formatting for the VA inspector: a ``VASnapshot`` / ``VAInspection`` in, ``Text`` out.

No Textual import and no state; tested without an app. Every time shown is engine time (the
clock the VA trades by), as everywhere else on the dashboard: the messages handled are listed
by type with the engine time of the last one (``handled_stats_text``); ``handled_text``, the
wall-clock list of the last messages, is for an engine that sends no statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from rich.text import Text

from actors.messages.queries import HandledStats, VAInspection
from actors.messages.snapshots import OrderSnapshot, VASnapshot
from core.text import printable
from tui.config_view import MASK, is_secret
from tui.formatting import age_label, countdown_label, money, va_state_cell

__all__ = [
    "account_text",
    "config_text",
    "decisions_text",
    "equity_label",
    "handled_stats_text",
    "handled_text",
    "holdings_text",
    "orders_text",
    "title_text",
]

_LABEL_WIDTH = 13
_ZERO = Decimal(0)


def _row(text: Text, label: str, value: str | Text, style: str = "") -> None:
    if text:
        text.append("\n")
    text.append(f"{label:<{_LABEL_WIDTH}}", style="dim")
    if isinstance(value, Text):
        text.append_text(value)
    else:
        text.append(value, style=style)


def _signed_style(value: Decimal) -> str:
    return "green" if value > _ZERO else "red" if value < _ZERO else ""


def title_text(
    va_id: str, snapshot: VASnapshot | None, now: datetime, *, crashes: int | None = None
) -> Text:
    """``va1  ma_cross  in position  mailbox 0  crashes 0`` at exchange time ``now``."""
    text = Text(f" {va_id} ", style="bold reverse")
    if snapshot is None:
        text.append("  no snapshot yet", style="dim")
        return text
    text.append(f"  {snapshot.strategy}  ")
    text.append_text(va_state_cell(snapshot, now))
    text.append(f"  mailbox {snapshot.mailbox}", style="bold" if snapshot.mailbox else "")
    if crashes is not None:
        text.append(f"  crashes {crashes}", style="bold red" if crashes else "")
    return text


def account_text(snapshot: VASnapshot, now: datetime, *, crashes: int | None = None) -> Text:
    """State, P&L, drawdown, counters, cooldown left at exchange time ``now``, mailbox depth."""
    text = Text()
    _row(text, "state", va_state_cell(snapshot, now))
    _row(text, "symbol", snapshot.symbol or "-")
    _row(text, "capital", money(snapshot.capital))
    _row(text, "equity", money(snapshot.equity))
    _row(text, "day P&L", money(snapshot.day_pnl, signed=True), _signed_style(snapshot.day_pnl))
    total = snapshot.equity - snapshot.capital
    _row(text, "total P&L", money(total, signed=True), _signed_style(total))
    _row(text, "realized", money(snapshot.realized_pnl, signed=True))
    _row(text, "unrealized", money(snapshot.unrealized_pnl, signed=True))
    drawdown_style = "red" if snapshot.drawdown_pct >= 5 else ""
    _row(
        text,
        "drawdown",
        f"{snapshot.drawdown_pct:.2f} % (peak {money(snapshot.peak_equity)})",
        drawdown_style,
    )
    _row(text, "wins/losses", f"{snapshot.wins}/{snapshot.losses}")
    streak_style = "yellow" if snapshot.consecutive_losses else ""
    _row(text, "loss streak", str(snapshot.consecutive_losses), streak_style)
    if snapshot.cooldown_until is None:
        _row(text, "cooldown", "none")
    else:
        left = countdown_label(snapshot.cooldown_until - now)
        _row(text, "cooldown", f"{left} left (until {snapshot.cooldown_until:%H:%M:%S})", "yellow")
    _row(text, "positions", f"{snapshot.open_positions} open")
    _row(text, "working", f"{snapshot.working_orders} order(s)")
    _row(text, "mailbox", f"{snapshot.mailbox} queued", "bold" if snapshot.mailbox else "")
    if crashes is not None:
        _row(text, "crashes", str(crashes), "bold red" if crashes else "")
    return text


def holdings_text(inspection: VAInspection) -> Text:
    """``AAA  +100 @ 100.00  mark 101.50`` per holding, with its mark's age (STALE when older
    than exits.stale_mark_s) and "delayed" for delayed data; then the last margin checks of
    short option entries: the broker's what-if initial margin beside our Reg-T estimate."""
    ages = {key: (age_s, stale, delayed) for key, age_s, stale, delayed in inspection.mark_ages}
    text = Text()
    for n, (contract, quantity, avg_price, mark) in enumerate(inspection.holdings):
        mark_text = "-" if mark is None else f"{mark:,.2f}"
        if n:
            text.append("\n")
        text.append(f"{contract:<12} {quantity:+d} @ {avg_price:,.2f}  mark {mark_text}")
        age_s, stale, delayed = ages.get(contract, (None, False, False))
        if age_s is not None:
            label = f"  {'STALE ' if stale else ''}{age_label(timedelta(seconds=age_s))} old"
            text.append(label, "reverse yellow" if stale else "dim")
        if delayed:
            text.append("  delayed", "yellow")
    if not inspection.holdings:
        text = Text("flat", style="dim")
    if inspection.margin_checks:
        text.append("\nmargin checks (broker what-if vs our Reg-T)", style="dim")
        for line in inspection.margin_checks:
            text.append(f"\n{line}", style="" if " passed " in line else "yellow")
    return text


def orders_text(
    order_ids: Sequence[str], known: Mapping[str, OrderSnapshot], now: datetime
) -> Text:
    """One line per working order id; details where the dashboard has its snapshot."""
    if not order_ids:
        return Text("none", style="dim")
    text = Text()
    for order_id in order_ids:
        if text:
            text.append("\n")
        text.append(printable(order_id), style="bold")
        order = known.get(order_id)
        if order is not None:
            text.append(
                f"  {order.side.value} {order.order_type.value} {order.purpose.value}"
                f" {order.contract.key} {order.filled}/{order.quantity} {order.status.value}"
                f" {age_label(now - order.created_at)}"
            )
    return text


def config_text(pairs: Iterable[tuple[str, str]]) -> Text:
    """The VA's flattened account config as ``key = value`` lines, values as the actor wrote
    them (secrets masked)."""
    lines = [f"{key} = {MASK if is_secret(key) and value else value}" for key, value in pairs]
    return Text("\n".join(lines)) if lines else Text("(empty)", style="dim")


def decisions_text(decisions: Sequence[str]) -> Text:
    """The VA's last decisions with their reasons, newest first (as the VA keeps them)."""
    lines = [printable(decision) for decision in decisions]  # reasons: text from outside
    return Text("\n".join(lines)) if lines else Text("none yet", style="dim")


def handled_stats_text(stats: Sequence[HandledStats]) -> Text:
    """The messages handled, one line per type, the most handled first:
    ``QuotesReady        1,204   0.03   0.41  10:31:05`` (count since the actor started, median
    and 99th percentile handling time in ms of the latest ones, engine time of the last)."""
    if not stats:
        return Text("none yet", style="dim")
    text = Text(f"{'type':<18} {'count':>7} {'p50 ms':>7} {'p99 ms':>7}  last", style="dim")
    for row in stats:
        text.append(f"\n{printable(row.name)[:18]:<18} {row.count:>7,} {row.p50_ms:>7.2f} ")
        text.append(f"{row.p99_ms:>7.2f}", style="bold red" if row.p99_ms >= 50 else "")
        last = "-" if row.last is None else f"{row.last:%H:%M:%S}"
        text.append(f"  {last}", style="dim")
    return text


def equity_label(points: Sequence[float]) -> Text:
    """The line under the sparkline: first, last, low and high of the equity shown."""
    if not points:
        return Text("equity: no samples yet", style="dim")
    change = points[-1] - points[0]
    text = Text(f"equity, 1 point a minute (engine time), last {len(points)} min: ", style="dim")
    text.append(f"{points[-1]:,.2f} ")
    text.append(f"({change:+,.2f})", style="green" if change > 0 else "red" if change < 0 else "")
    text.append(f"  low {min(points):,.2f}  high {max(points):,.2f}", style="dim")
    return text


def handled_text(handled: Sequence[tuple[str, float, float]], now: datetime) -> Text:
    """The last messages handled, newest first: wall time (in ``now``'s zone), type, duration."""
    if not handled:
        return Text("none yet", style="dim")
    text = Text()
    for name, wall_s, elapsed_ms in reversed(handled):
        if text:
            text.append("\n")
        wall = datetime.fromtimestamp(wall_s, tz=now.tzinfo)
        text.append(f"{wall:%H:%M:%S}.{wall.microsecond // 1000:03d} ", style="dim")
        text.append(f"{name:<16} ")
        slow = elapsed_ms >= 50
        text.append(f"{elapsed_ms:8.2f} ms", style="bold red" if slow else "")
    return text
