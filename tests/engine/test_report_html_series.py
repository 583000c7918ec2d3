"""The numbers behind the HTML report's charts (``engine/report_html/series.py``), each worked
out by hand in the test's comments."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.domain import Side
from db.records import AccountRecord, ExecutionRecord, GreeksSampleRecord
from engine.report_html.series import (
    TOTAL,
    EquityPoint,
    ExitReason,
    GreeksPoint,
    daily_pnl,
    equity_curves,
    exits_by_reason,
    flat_times,
    greeks_over_time,
    trade_bars,
    trade_pnls,
)

NY = ZoneInfo("America/New_York")
T1 = datetime(2026, 11, 16, 10, 0, tzinfo=NY)
T2 = T1 + timedelta(minutes=30)
T3 = T1 + timedelta(days=1)  # the next exchange day


def _fill(
    n: int,
    va: str,
    contract: str,
    side: Side,
    qty: int,
    price: str,
    commission: str,
    time: datetime,
    multiplier: int = 1,
) -> ExecutionRecord:
    return ExecutionRecord(
        exec_id=f"e{n}",
        order_id=f"o{n}",
        va_id=va,
        contract_key=contract,
        side=side,
        quantity=qty,
        price=Decimal(price),
        commission=Decimal(commission),
        time=time,
        multiplier=multiplier,
    )


ACCOUNTS = [
    AccountRecord("a", "demo", Decimal(1000), T1),
    AccountRecord("b", "demo", Decimal(500), T1),
]
FILLS = [
    _fill(1, "a", "X", Side.BUY, 10, "10", "1", T1),  # a: -1 commission -> 999
    _fill(2, "a", "X", Side.SELL, 10, "12", "1", T2),  # a: +2 x 10 - 1 = +19 -> 1018
    _fill(3, "b", "Y", Side.SELL, 5, "20", "0.5", T2),  # b: short, -0.5 -> 499.5
    _fill(4, "b", "Y", Side.BUY, 5, "22", "0.5", T3),  # b: -(22 - 20) x 5 - 0.5 = -10.5 -> 489
]


def test_equity_steps_at_each_execution_net_of_commissions_with_drawdown_from_the_peak() -> None:
    curves = equity_curves(ACCOUNTS, FILLS)
    d = Decimal
    assert curves["a"] == [
        EquityPoint(T1, d(1000), d(0)),
        EquityPoint(T1, d(999), d(-1)),
        EquityPoint(T2, d(1018), d(0)),
    ]
    assert curves["b"] == [
        EquityPoint(T1, d(500), d(0)),
        EquityPoint(T2, d("499.5"), d("-0.5")),
        EquityPoint(T3, d(489), d(-11)),
    ]
    # Both executions at T2 are one point: 1499 + 19 - 0.5 = 1517.5; then 1517.5 - 10.5 = 1507.
    assert curves[TOTAL] == [
        EquityPoint(T1, d(1500), d(0)),
        EquityPoint(T1, d(1499), d(-1)),
        EquityPoint(T2, d("1517.5"), d(0)),
        EquityPoint(T3, d(1507), d("-10.5")),
    ]


def test_equity_holds_its_last_value_until_the_ledgers_last_record() -> None:
    end = T3 + timedelta(hours=5)
    curves = equity_curves(ACCOUNTS, FILLS[:2], until=end)
    # a: 1000, 999, 1018, then 1018 held to the end; b never traded: 500 from start to end.
    assert [(p.time, p.equity) for p in curves["a"]][-2:] == [(T2, Decimal(1018)), (end, 1018)]
    assert [(p.time, p.equity) for p in curves["b"]] == [(T1, Decimal(500)), (end, 500)]
    # An end no later than a curve's last point adds nothing.
    assert equity_curves(ACCOUNTS, FILLS[:2], until=T1) == equity_curves(ACCOUNTS, FILLS[:2])


def test_the_last_equity_point_is_capital_plus_the_realized_pnl_of_an_option_round_trip() -> None:
    # Sell 2 puts at 1.50 and buy them back at 0.75, x100: (1.50 - 0.75) x 2 x 100 = 150, less
    # 2 x 1.30 commission = 147.40.
    fills = [
        _fill(1, "p", "SPY P", Side.SELL, 2, "1.50", "1.30", T1, multiplier=100),
        _fill(2, "p", "SPY P", Side.BUY, 2, "0.75", "1.30", T2, multiplier=100),
    ]
    curve = equity_curves([AccountRecord("p", "naked_put", Decimal(10000), T1)], fills)["p"]
    assert [p.equity for p in curve] == [Decimal(10000), Decimal("9998.70"), Decimal("10147.40")]


def test_no_execution_gives_no_curve_and_no_day() -> None:
    assert equity_curves(ACCOUNTS, []) == {}
    assert daily_pnl([], tz=NY) == {}


def test_a_va_that_trades_without_a_stored_account_starts_at_zero() -> None:
    curves = equity_curves([], FILLS[:2])
    assert [p.equity for p in curves["a"]] == [Decimal(0), Decimal(-1), Decimal(18)]


def test_daily_pnl_is_realized_net_of_commissions_per_exchange_day_and_va() -> None:
    # Day 1: a -1 + 19 = 18, b -0.5; day 2: b -10.5.
    assert daily_pnl(FILLS, tz=NY) == {
        date(2026, 11, 16): {"a": Decimal(18), "b": Decimal("-0.5")},
        date(2026, 11, 17): {"b": Decimal("-10.5")},
    }


def test_daily_pnl_counts_a_fill_on_its_exchange_day_not_its_utc_day() -> None:
    # 19:30 in New York is 00:30 UTC the next day: it belongs to the 16th.
    late = datetime(2026, 11, 16, 19, 30, tzinfo=NY)
    fills = [_fill(1, "a", "X", Side.BUY, 1, "10", "2", late)]
    assert daily_pnl(fills, tz=NY) == {date(2026, 11, 16): {"a": Decimal(-2)}}


def _trade(reason: str, pnl: float, va: str = "a", minute: int = 0) -> dict[str, object]:
    entry = T1 + timedelta(minutes=minute)
    return {
        "va": va,
        "contract": "X",
        "side": "LONG",
        "entry_time": entry.isoformat(),
        "exit_time": (entry + timedelta(minutes=5)).isoformat(),
        "pnl": pnl,
        "exit_reason": reason,
    }


def test_exits_are_counted_by_reason_most_first_with_their_summed_pnl() -> None:
    trades = [_trade("stop", -10.0), _trade("target", 5.5), _trade("stop", -2.25), _trade("", 1)]
    assert exits_by_reason(trades) == [
        ExitReason("stop", 2, Decimal("-12.25")),
        ExitReason("-", 1, Decimal(1)),
        ExitReason("target", 1, Decimal("5.5")),
    ]
    assert trade_pnls(trades) == [Decimal("-10.0"), Decimal("5.5"), Decimal("-2.25"), Decimal(1)]


def test_timeline_bars_come_in_entry_order_with_aware_times() -> None:
    bars = trade_bars([_trade("stop", -1.0, "b", minute=20), _trade("target", 2.0, "a")])
    assert [(b.va, b.entry_time, b.exit_time, b.exit_reason) for b in bars] == [
        ("a", T1, T1 + timedelta(minutes=5), "target"),
        ("b", T1 + timedelta(minutes=20), T1 + timedelta(minutes=25), "stop"),
    ]


def test_a_va_is_flat_only_when_every_contract_it_held_is_closed() -> None:
    fills = [
        _fill(1, "p", "P1", Side.SELL, 1, "1", "0", T1, multiplier=100),
        _fill(2, "p", "P2", Side.SELL, 1, "1", "0", T1, multiplier=100),
        _fill(3, "p", "P1", Side.BUY, 1, "0.5", "0", T2, multiplier=100),  # P2 still held
        _fill(4, "p", "P2", Side.BUY, 1, "0.5", "0", T3, multiplier=100),  # now flat
    ]
    assert flat_times(fills) == {"p": [T3]}


def test_greeks_series_are_the_samples_of_option_vas_with_zero_once_flat() -> None:
    samples = [
        GreeksSampleRecord(T2, "p", -4000.0, 12.5, Decimal(9000), 1),
        GreeksSampleRecord(T1, "p", -5000.0, 11.0, Decimal(9500), 1),
        GreeksSampleRecord(T1, "stocks", 1000.0, 0.0, Decimal(300), 1),
    ]
    series = greeks_over_time(samples, option_vas={"p", "q"}, flats={"p": [T3], "q": [T2]})
    assert series == {
        "p": [
            GreeksPoint(T1, -5000.0, 11.0, Decimal(9500)),
            GreeksPoint(T2, -4000.0, 12.5, Decimal(9000)),
            GreeksPoint(T3, 0.0, 0.0, Decimal(0)),
        ],
        "q": [],  # no sample: the chart says so rather than draw a line of flat zeros
    }
