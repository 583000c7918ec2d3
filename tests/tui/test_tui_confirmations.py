"""What the dashboard's confirmations say (pure: no app)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from actors.messages.snapshots import PositionSnapshot
from core.domain import Contract
from tui.confirmations import (
    FLATTEN_LIST_MAX,
    flatten_all_prompt,
    flatten_va_prompt,
    position_lines,
)

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def _position(va_id: str, symbol: str) -> PositionSnapshot:
    return PositionSnapshot(
        va_id=va_id,
        contract=Contract(symbol),
        quantity=10,
        avg_price=Decimal("100"),
        mark=101.0,
        unrealized_pnl=Decimal("10"),
        unrealized_pct=1.0,
        stop_price=None,
        opened_at=NOW,
        time=NOW,
    )


def test_a_long_flatten_list_names_the_first_positions_and_counts_the_rest() -> None:
    positions = [_position("va1", f"S{i}") for i in range(FLATTEN_LIST_MAX + 3)]
    lines = position_lines(positions)
    assert len(lines) == FLATTEN_LIST_MAX + 1
    assert lines[-1] == "... and 3 more"


def test_flatten_all_with_nothing_open_says_no_position_is_shown() -> None:
    title, lines = flatten_all_prompt([], 2)
    assert title == "Flatten all: close 0 position(s)?"
    assert lines[0] == "No open position is shown."
    assert "2 working order(s): entries are cancelled." in lines


def test_flattening_one_va_lists_only_that_vas_positions() -> None:
    positions = [_position("va1", "AAPL"), _position("va2", "MSFT"), _position("va1", "SPY")]
    title, lines = flatten_va_prompt("va1", positions, [])
    assert title == "Flatten va1: close its 2 position(s)?"
    assert not any("MSFT" in line for line in lines)
    assert "0 working order(s) of va1: entries are cancelled." in lines
