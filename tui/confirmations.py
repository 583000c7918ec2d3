"""What the dashboard's confirmations say before a resume or a flatten: a title and the lines
under it (pure: no widget, no engine). The dialogs ask again while open (``ConfirmScreen``'s
``live``), so what they list is what is shown now.

Threads: none of its own (the UI thread calls it).
"""

from __future__ import annotations

from collections.abc import Iterable

from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus
from core.domain import Purpose
from core.rules.reconcile_text import difference_lines
from core.text import printable
from tui.formatting import position_line

__all__ = [
    "FLATTEN_LIST_MAX",
    "flatten_all_prompt",
    "flatten_va_prompt",
    "order_lines",
    "position_lines",
    "resume_lines",
]

_HOW_CLOSED = "Positions close at the touch, re-priced, then at market."

#: Positions listed by name in a flatten confirmation; the rest are counted.
FLATTEN_LIST_MAX = 12


def position_lines(positions: list[PositionSnapshot]) -> list[str]:
    """The positions a flatten closes, one line each up to ``FLATTEN_LIST_MAX``."""
    lines = [position_line(p) for p in positions[:FLATTEN_LIST_MAX]]
    if len(positions) > FLATTEN_LIST_MAX:
        lines.append(f"... and {len(positions) - FLATTEN_LIST_MAX} more")
    if not positions:
        lines.append("No open position is shown.")
    return lines


def resume_lines(status: RiskStatus | None) -> list[str]:
    """The resume confirmation: the state, what the last reconciliation found apart."""
    lines = [f"State: {status.state.value} ({printable(status.reason)})"] if status else []
    if status is not None and status.differences:
        lines.append("The last reconciliation found ledger and broker apart:")
        lines.extend(printable(line) for line in difference_lines(status.differences))
    lines.append("New entries will be allowed again.")
    return lines


def order_lines(orders: Iterable[OrderSnapshot], owner: str = "") -> list[str]:
    """What a flatten does to the working orders (``owner``: ``" of va1"``): entries are
    cancelled; a protective stop stays until its position is closed (then it is cancelled).
    Each line fits an 80-column terminal's dialog."""
    orders = list(orders)
    if not orders:
        return [f"No working order{owner}.", _HOW_CLOSED]
    stops = sum(1 for o in orders if o.purpose is Purpose.STOP)
    entries = sum(1 for o in orders if o.purpose is Purpose.ENTRY)
    return [
        f"{len(orders)} working order(s){owner}: {entries} entry order(s) cancelled at once;",
        f"  {stops} protective stop(s) stay until their position is closed.",
        _HOW_CLOSED,
    ]


def flatten_all_prompt(
    positions: list[PositionSnapshot], orders: Iterable[OrderSnapshot]
) -> tuple[str, list[str]]:
    """The flatten-all confirmation: every position shown, what happens to the working
    orders."""
    lines = position_lines(positions)
    lines.extend(order_lines(orders))
    lines.append("Trading is HALTED once everything is flat.")
    return f"Flatten all: close {len(positions)} position(s)?", lines


def flatten_va_prompt(
    va_id: str, positions: Iterable[PositionSnapshot], orders: Iterable[OrderSnapshot]
) -> tuple[str, list[str]]:
    """The confirmation to flatten one VA: its positions and working orders."""
    own = [p for p in positions if p.va_id == va_id]
    lines = position_lines(own)
    lines.extend(order_lines((o for o in orders if o.va_id == va_id), f" of {va_id}"))
    lines.append(f"{va_id} is paused afterwards (p unpauses it); the other VAs trade on.")
    return f"Flatten {va_id}: close its {len(own)} position(s)?", lines
