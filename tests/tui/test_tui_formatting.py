"""The pure side of the dashboard: cell text, labels and the trading mode."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.config import BrokerSettings, IbSettings
from core.domain import Contract, OrderStatus
from tests.tui.fakes import NOW, FakeConfig, Snapshots
from tui.controls import TradingMode, trading_mode
from tui.formatting import (
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    VA_COLUMNS,
    age_label,
    clock_label,
    countdown_label,
    day_pnl_text,
    event_line,
    limits_label,
    money,
    order_cells,
    position_cells,
    short_order_id,
    speed_label,
    va_cells,
    va_state_cell,
)


def plain(cells: tuple[object, ...]) -> list[str]:
    return [str(cell) for cell in cells]


def test_a_va_row_shows_equity_pnl_drawdown_and_wins_over_losses() -> None:
    cells = va_cells(Snapshots.va(day_pnl=Decimal("-120.25")), NOW)
    assert len(cells) == len(VA_COLUMNS)
    assert plain(cells) == [
        "va1",
        "ma_cross",
        "AAA",
        "in position",
        "101,250.50",
        "-120.25",
        "+1,250.50",
        "1.50",
        "3/1",
        "-",
        "-",
        "-",
    ]


def test_a_va_without_a_symbol_in_play_shows_a_dash() -> None:
    assert str(va_cells(Snapshots.va(symbol=None), NOW)[2]) == "-"


@pytest.mark.parametrize(
    ("left_s", "label"),
    [
        (192, "cooldown 3:12"),
        (191.2, "cooldown 3:12"),
        (0.2, "cooldown 0:01"),
        (-5, "cooldown 0:00"),
        (3723, "cooldown 1:02:03"),
    ],
)
def test_a_va_in_cooldown_shows_the_time_left_at_exchange_time(left_s: float, label: str) -> None:
    snapshot = Snapshots.va(state="cooldown", cooldown_until=NOW + timedelta(seconds=left_s))
    cell = va_state_cell(snapshot, NOW)
    assert str(cell) == label
    assert str(cell.style) == "yellow"


def test_a_paused_va_shows_paused_even_with_a_cooldown_pending() -> None:
    snapshot = Snapshots.va(state="paused", cooldown_until=NOW + timedelta(seconds=60))
    assert str(va_state_cell(snapshot, NOW)) == "paused"


@pytest.mark.parametrize(
    ("seconds", "label"), [(0, "0:00"), (59, "0:59"), (60, "1:00"), (3600, "1:00:00")]
)
def test_a_countdown_reads_minutes_and_seconds_or_hours(seconds: int, label: str) -> None:
    assert countdown_label(timedelta(seconds=seconds)) == label


def test_a_position_row_signs_the_quantity_and_colors_the_pnl() -> None:
    cells = position_cells(Snapshots.position(quantity=-50, unrealized_pnl=Decimal(-75)))
    assert len(cells) == len(POSITION_COLUMNS)
    assert plain(cells) == [
        "va1",
        "AAA",
        "-50",
        "100.00",
        "101.50",
        "-75.00",
        "+1.50",
        "-",  # target: none reported
        "98.00",
        "-",  # exit by, DTE, underlying, IV, delta $, theta/d, margin, delta
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
    ]
    assert str(cells[5].style) == "red"


def test_an_option_position_shows_delta_theta_per_day_and_days_to_expiry() -> None:
    contract = Contract.option("SPY", date(2026, 12, 18), Decimal(565), "P")
    snapshot = Snapshots.position(
        contract=contract, quantity=-3, delta=-0.21, theta_per_day=41.5, dte=32
    )
    cells = dict(
        zip((key for key, _ in POSITION_COLUMNS), plain(position_cells(snapshot)), strict=True)
    )
    assert cells["contract"] == "SPY 20261218 P 565"
    assert (cells["delta"], cells["theta"], cells["dte"]) == ("-0.21", "+41.50", "32")


def test_a_short_put_shows_its_exits_as_prices_and_its_risk_in_dollars() -> None:
    contract = Contract.option("SPY", date(2026, 12, 18), Decimal(565), "P")
    snapshot = Snapshots.position(
        contract=contract,
        quantity=-3,
        stop_price=Decimal("17.22"),
        target_price=Decimal("2.85"),
        time_exit=date(2026, 11, 27),
        underlying_price=571.234,
        iv=0.1834,
        delta_dollars=-35_981.5,
        theta_per_day=41.5,
        margin=Decimal("33612.40"),
    )
    cells = dict(
        zip((key for key, _ in POSITION_COLUMNS), plain(position_cells(snapshot)), strict=True)
    )
    assert [cells[key] for key in ("target", "stop", "time_exit", "under", "iv")] == [
        "2.85",
        "17.22",
        "11-27",
        "571.23",
        "18%",
    ]
    assert [cells[key] for key in ("delta_dollars", "theta", "margin")] == [
        "-35,982",
        "+41.50",
        "33,612",
    ]


def test_a_position_without_mark_or_stop_shows_dashes() -> None:
    cells = position_cells(Snapshots.position(mark=None, stop_price=None))
    assert (str(cells[4]), str(cells[8])) == ("-", "-")


def test_an_order_row_shows_its_age_at_exchange_time() -> None:
    cells = order_cells(Snapshots.order(), NOW)
    assert len(cells) == len(ORDER_COLUMNS)
    assert plain(cells) == ["o-1", "va1", "AAA", "BUY", "LMT entry", "0/100", "submitted", "42s"]


def test_an_order_id_loses_its_va_prefix_and_a_status_its_underscores() -> None:
    order = Snapshots.order(
        "trend-tech-28a4ae-12.stop", OrderStatus.PARTIALLY_FILLED, va_id="trend-tech", filled=40
    )
    cells = plain(order_cells(order, NOW))
    assert cells[0] == "28a4ae-12.stop"
    assert cells[5:7] == ["40/100", "partially filled"]
    assert short_order_id(Snapshots.order("va1-", va_id="va1")) == "va1-"


def test_cells_are_text_so_brackets_in_names_are_not_read_as_markup() -> None:
    cells = position_cells(Snapshots.position(symbol="X[bold]Y"))
    assert str(cells[1]) == "X[bold]Y"


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(-3, "0s"), (0, "0s"), (59, "59s"), (60, "1m00s"), (3599, "59m59s"), (7260, "2h01m")],
)
def test_ages_read_in_seconds_minutes_or_hours(seconds: int, label: str) -> None:
    assert age_label(timedelta(seconds=seconds)) == label


@pytest.mark.parametrize(("speed", "label"), [(None, "max"), (30.0, "x30"), (0.5, "x0.5")])
def test_the_speed_is_max_or_a_multiplier(speed: float | None, label: str) -> None:
    assert speed_label(speed) == label


def test_the_clock_label_has_time_date_zone_and_speed() -> None:
    assert clock_label(NOW, 30) == "10:15:30  2024-03-13 EDT  x30"


def test_money_groups_thousands_and_signs_on_request() -> None:
    assert money(Decimal("1234.5")) == "1,234.50"
    assert money(Decimal("1234.5"), signed=True) == "+1,234.50"
    assert money(Decimal(-2), signed=True) == "-2.00"


def test_the_day_pnl_turns_red_past_half_the_loss_limit() -> None:
    calm = day_pnl_text(Decimal(-100), Decimal(-5000))
    alarming = day_pnl_text(Decimal(-2600), Decimal(-5000))
    assert str(calm) == "day P&L -100.00 / -5,000.00"
    assert "yellow" in {str(span.style) for span in calm.spans}
    assert "bold red" in {str(span.style) for span in alarming.spans}


def test_limits_read_as_name_and_used_over_max() -> None:
    assert limits_label((("trades", "3/10"), ("positions", "1/5"))) == "trades 3/10  positions 1/5"


def test_an_event_line_has_time_kind_va_and_text() -> None:
    assert (
        str(event_line(Snapshots.event("bought 100 AAA"))) == "10:15:30 fill   va1 bought 100 AAA"
    )


@pytest.mark.parametrize(
    ("broker", "mode"),
    [
        (BrokerSettings(), TradingMode.SIM),
        (BrokerSettings(kind="ib"), TradingMode.PAPER),
        (BrokerSettings(kind="ib", ib=IbSettings(port=4002)), TradingMode.PAPER),
        (BrokerSettings(kind="ib", ib=IbSettings(port=7496, allow_live=True)), TradingMode.LIVE),
        (BrokerSettings(kind="ib", ib=IbSettings(port=4001, allow_live=True)), TradingMode.LIVE),
        (BrokerSettings(kind="ib", ib=IbSettings(port=9000, allow_live=True)), TradingMode.LIVE),
        (BrokerSettings(kind="ib", ib=IbSettings(port=9000)), TradingMode.PAPER),
    ],
)
def test_the_mode_is_live_only_when_real_money_may_be_at_stake(
    broker: BrokerSettings, mode: TradingMode
) -> None:
    assert trading_mode(FakeConfig(broker)) is mode
