"""What the dashboard's confirmations say (pure: no app)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from actors.messages.snapshots import OrderSnapshot, PositionSnapshot
from core.domain import Contract, OrderStatus, OrderType, Purpose, Side
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


def _order(order_id: str, purpose: Purpose, va_id: str = "va1") -> OrderSnapshot:
    return OrderSnapshot(
        order_id=order_id,
        va_id=va_id,
        contract=Contract("AAPL"),
        side=Side.BUY if purpose is Purpose.ENTRY else Side.SELL,
        order_type=OrderType.LMT if purpose is Purpose.ENTRY else OrderType.STP,
        purpose=purpose,
        quantity=10,
        filled=0,
        status=OrderStatus.SUBMITTED,
        limit_price=Decimal(100),
        stop_price=None,
        created_at=NOW,
        updated_at=NOW,
    )


def test_flatten_all_with_nothing_open_says_no_position_is_shown() -> None:
    title, lines = flatten_all_prompt([], [_order("o-1", Purpose.ENTRY)] * 2)
    assert title == "Flatten all: close 0 position(s)?"
    assert lines[0] == "No open position is shown."
    assert "2 working order(s): 2 entry order(s) cancelled at once;" in lines


def test_a_flatten_says_what_happens_to_the_protective_stops() -> None:
    orders = [
        _order("o-1", Purpose.ENTRY),
        _order("o-2", Purpose.STOP),
        _order("o-3", Purpose.STOP),
    ]
    _, lines = flatten_all_prompt([_position("va1", "AAPL")], orders)
    assert "3 working order(s): 1 entry order(s) cancelled at once;" in lines
    assert "  2 protective stop(s) stay until their position is closed." in lines
    _, own = flatten_va_prompt("va2", [], [*orders, _order("o-4", Purpose.STOP, "va2")])
    assert "1 working order(s) of va2: 0 entry order(s) cancelled at once;" in own
    assert "  1 protective stop(s) stay until their position is closed." in own


def test_flattening_one_va_lists_only_that_vas_positions() -> None:
    positions = [_position("va1", "AAPL"), _position("va2", "MSFT"), _position("va1", "SPY")]
    title, lines = flatten_va_prompt("va1", positions, [])
    assert title == "Flatten va1: close its 2 position(s)?"
    assert not any("MSFT" in line for line in lines)
    assert "No working order of va1." in lines
