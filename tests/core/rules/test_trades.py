"""Positions and round-trip trades derived from executions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.domain import Side
from core.rules.trades import PositionState, Trade, derive_positions_and_trades
from db.records import ExecutionRecord

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Fill:
    """An in-memory fill: any object with these attributes works."""

    order_id: str
    va_id: str
    contract_key: str
    side: str
    quantity: int
    price: Decimal
    commission: Decimal
    multiplier: int
    time: datetime


@dataclass(frozen=True, slots=True)
class Order:
    va_id: str
    purpose: str
    reason: str = ""


def _fill(
    order_id: str,
    side: str,
    quantity: int,
    price: str,
    *,
    second: int,
    commission: str = "0",
    va: str = "va1",
    contract: str = "SPY",
    multiplier: int = 1,
) -> Fill:
    return Fill(
        order_id,
        va,
        contract,
        side,
        quantity,
        Decimal(price),
        Decimal(commission),
        multiplier,
        T0 + timedelta(seconds=second),
    )


ORDERS = {
    "entry": Order("va1", "entry"),
    "stop": Order("va1", "stop"),
    "target": Order("va1", "exit", "profit_target"),
    "time": Order("va1", "exit", "time"),
}


def test_a_long_round_trip_is_one_trade_net_of_commissions() -> None:
    fills = [
        _fill("entry", "BUY", 10, "100", second=0, commission="1"),
        _fill("target", "SELL", 10, "101.5", second=60, commission="1"),
    ]

    positions, trades = derive_positions_and_trades(fills, ORDERS)

    assert trades == [
        Trade(
            va_id="va1",
            contract_key="SPY",
            side="LONG",
            quantity=10,
            entry_time=T0,
            exit_time=T0 + timedelta(seconds=60),
            entry_price=Decimal("100"),
            exit_price=Decimal("101.5"),
            pnl=Decimal("13"),
            commissions=Decimal("2"),
            exit_reason="profit_target",
        )
    ]
    assert positions == {
        ("va1", "SPY"): PositionState(
            "va1", "SPY", 0, Decimal(0), realized_pnl=Decimal("13"), commissions=Decimal("2")
        )
    }


def test_a_short_round_trip_profits_when_the_price_falls() -> None:
    fills = [
        _fill("entry", "SELL", 5, "50", second=0, commission="0.5"),
        _fill("stop", "BUY", 5, "48", second=9, commission="0.5"),
    ]

    _, trades = derive_positions_and_trades(fills, ORDERS)

    assert [(t.side, t.quantity, t.pnl, t.exit_reason) for t in trades] == [
        ("SHORT", 5, Decimal("9"), "stop")  # reason empty: the order's purpose
    ]


def test_partial_entry_fills_average_into_the_entry_price() -> None:
    fills = [
        _fill("entry", "BUY", 3, "10", second=0),
        _fill("entry", "BUY", 7, "11", second=1),
        _fill("target", "SELL", 10, "12", second=2),
    ]

    positions, trades = derive_positions_and_trades(fills, ORDERS)

    assert trades[0].entry_price == Decimal("10.7")
    assert trades[0].quantity == 10
    assert trades[0].pnl == Decimal("13")
    assert trades[0].entry_time == T0
    assert positions[("va1", "SPY")].realized_pnl == Decimal("13")


def test_partial_exits_accumulate_into_one_trade_closed_by_the_last_exit() -> None:
    fills = [
        _fill("entry", "BUY", 10, "100", second=0, commission="1"),
        _fill("target", "SELL", 4, "102", second=1, commission="0.4"),
    ]

    positions, trades = derive_positions_and_trades(fills, ORDERS)

    assert trades == []
    assert positions[("va1", "SPY")] == PositionState(
        "va1",
        "SPY",
        6,
        Decimal("100"),
        realized_pnl=Decimal("8") - Decimal("1.4"),
        commissions=Decimal("1.4"),
        opened_at=T0,
    )

    fills.append(_fill("time", "SELL", 6, "99", second=2, commission="0.6"))
    positions, trades = derive_positions_and_trades(fills, ORDERS)

    (trade,) = trades
    assert trade.exit_price == Decimal("100.2")  # (4 x 102 + 6 x 99) / 10
    assert trade.pnl == Decimal("2") - Decimal("2")  # +8 - 6 gross, 2 commissions
    assert trade.exit_reason == "time"
    assert positions[("va1", "SPY")].realized_pnl == trade.pnl
    assert positions[("va1", "SPY")].quantity == 0


def test_an_option_trade_multiplies_by_the_contract_multiplier() -> None:
    put = "SPY 20240315 P 450"
    records = [
        ExecutionRecord(
            "x1",
            "entry",
            "va1",
            put,
            Side.SELL,
            2,
            Decimal("1.50"),
            Decimal("1.30"),
            T0,
            multiplier=100,
        ),
        ExecutionRecord(
            "x2",
            "target",
            "va1",
            put,
            Side.BUY,
            2,
            Decimal("0.75"),
            Decimal("1.30"),
            T0 + timedelta(hours=2),
            multiplier=100,
        ),
    ]

    positions, trades = derive_positions_and_trades(records, ORDERS)

    assert trades[0].pnl == Decimal("147.40")  # 0.75 x 2 x 100 - 2.60
    assert trades[0].multiplier == 100
    assert positions[("va1", put)].realized_pnl == Decimal("147.40")


def test_a_flip_closes_the_trade_at_flat_and_opens_the_remainder() -> None:
    fills = [
        _fill("entry", "BUY", 5, "10", second=0, commission="0.5"),
        _fill("target", "SELL", 8, "12", second=1, commission="0.8"),
    ]

    positions, trades = derive_positions_and_trades(fills, ORDERS)

    (trade,) = trades
    assert (trade.side, trade.quantity, trade.exit_price) == ("LONG", 5, Decimal("12"))
    assert trade.commissions == Decimal("1.0")  # 0.5 + 5/8 of 0.8
    assert trade.pnl == Decimal("9.0")
    assert positions[("va1", "SPY")] == PositionState(
        "va1",
        "SPY",
        -3,
        Decimal("12"),
        realized_pnl=Decimal("10") - Decimal("1.3"),
        commissions=Decimal("1.3"),
        opened_at=T0 + timedelta(seconds=1),
    )

    fills.append(_fill("stop", "BUY", 3, "13", second=2))
    _, trades = derive_positions_and_trades(fills, ORDERS)
    assert [(t.side, t.quantity, t.pnl) for t in trades] == [
        ("LONG", 5, Decimal("9.0")),
        ("SHORT", 3, Decimal("-3.3")),  # -1 x 3, minus 3/8 of 0.8
    ]


def test_executions_are_walked_in_time_order_per_va_and_contract() -> None:
    fills = [
        _fill("target", "SELL", 1, "11", second=5),
        _fill("entry", "BUY", 1, "10", second=0),
        _fill("entry", "BUY", 2, "20", second=1, va="va2"),
        _fill("entry", "SELL", 1, "30", second=2, contract="QQQ"),
    ]

    positions, trades = derive_positions_and_trades(fills, ORDERS)

    assert [(t.va_id, t.contract_key, t.pnl) for t in trades] == [("va1", "SPY", Decimal("1"))]
    assert {key: p.quantity for key, p in positions.items()} == {
        ("va1", "SPY"): 0,
        ("va2", "SPY"): 2,
        ("va1", "QQQ"): -1,
    }
    assert positions[("va2", "SPY")].avg_price == Decimal("20")
    assert positions[("va2", "SPY")].opened_at == T0 + timedelta(seconds=1)


def test_an_exit_whose_order_is_unknown_has_an_empty_reason() -> None:
    fills = [_fill("entry", "BUY", 1, "10", second=0), _fill("manual", "SELL", 1, "9", second=1)]

    _, trades = derive_positions_and_trades(fills, ORDERS)

    assert trades[0].exit_reason == ""
    assert trades[0].pnl == Decimal("-1")


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=1, max_value=500),
        st.integers(min_value=100, max_value=20_000),  # price in cents
        st.integers(min_value=0, max_value=300),  # commission in cents
    ),
    min_size=1,
    max_size=30,
)


@given(steps=_STEPS, multiplier=st.sampled_from([1, 100]))
def test_when_flat_the_realized_pnl_is_the_sum_of_the_trades(
    steps: list[tuple[str, int, int, int]], multiplier: int
) -> None:
    """Whatever the path (adds, partial exits, flips), once the position is flat again the
    cash it made is what its trades say, and every commission is in exactly one trade."""
    fills = [
        _fill(f"o{i}", side, qty, f"{cents / 100:.2f}", second=i,
              commission=f"{fee / 100:.2f}", multiplier=multiplier)
        for i, (side, qty, cents, fee) in enumerate(steps)
    ]  # fmt: skip
    held = 0
    for f in fills:
        held += f.quantity if f.side == "BUY" else -f.quantity
    if held:  # close it at the last price so the walk ends flat
        side = "SELL" if held > 0 else "BUY"
        fills.append(
            _fill("close", side, abs(held), str(fills[-1].price), second=len(fills),
                  multiplier=multiplier)
        )  # fmt: skip
    positions, trades = derive_positions_and_trades(fills, {})
    state = positions[("va1", "SPY")]
    assert state.quantity == 0 and state.avg_price == 0
    # Average cost divides (1.00, 1.00, 1.01 -> 1.00333...): equal to far below a cent.
    assert abs(state.realized_pnl - sum((t.pnl for t in trades), Decimal(0))) < Decimal("1e-18")
    assert state.commissions == sum((f.commission for f in fills), Decimal(0))
    split = sum((t.commissions for t in trades), Decimal(0))  # a flip's is split pro rata
    assert abs(split - state.commissions) < Decimal("1e-18")
