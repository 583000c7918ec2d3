"""The dashboard at the four terminal sizes a trader uses (80x24, 120x40, 160x50, 200x50), with
the shipped config.toml's VAs all trading: asserted on the rendered text (``screen_text``).

Every VA of the shipped config is on screen, every shown column's header is whole and no cell
of a VA row is cut, the main tables never scroll sideways, the working orders' Age stays when
the Status column grows, the account line and the short options' exit prices are shown.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets._toast import Toast

from core.config import load_config
from core.domain import Contract, OrderStatus, Side, TradingState
from tests.tui.fakes import FakeEngine, Snapshots, publish_from_thread, wait_for
from tui import EngineApp
from tui.confirmations import flatten_all_prompt
from tui.screens import ConfirmScreen
from tui.screenshot import screen_text
from tui.tables import KeyedTable

SHIPPED = Path(__file__).resolve().parents[2] / "config.toml"
SIZES = [(80, 24), (120, 40), (160, 50), (200, 50)]
FAST = 0.05
EXPIRY = date(2024, 4, 19)
OPTION_SYMBOLS = {"puts-index": "SPY", "puts-amzn": "AMZN", "puts-tsla": "TSLA", "puts-fin": "JPM"}


def shipped_engine() -> FakeEngine:
    engine = FakeEngine()
    engine.config = load_config(SHIPPED)
    return engine


def shipped_vas(engine: FakeEngine) -> list[str]:
    return [account.id for account in engine.config.accounts if account.enabled]


def short_put(va_id: str, symbol: str) -> object:
    return Snapshots.position(
        va_id,
        quantity=-2,
        contract=Contract.option(symbol, EXPIRY, Decimal(500), "P"),
        avg_price=Decimal("4.20"),
        mark=3.10,
        unrealized_pnl=Decimal(220),
        unrealized_pct=26.19,
        stop_price=Decimal("12.60"),
        target_price=Decimal("2.10"),
        time_exit=EXPIRY - timedelta(days=21),
        underlying_price=512.34,
        iv=0.274,
        delta=-0.18,
        delta_dollars=-18_444.0,
        theta_per_day=31.5,
        margin=Decimal("20493.60"),
        dte=37,
        credit=Decimal(840),
    )


def a_busy_day(engine: FakeEngine) -> list[object]:
    """Every shipped VA in position (stocks and short puts), two working orders (one partly
    filled: the widest status), the account reported."""
    items: list[object] = [
        Snapshots.risk(
            TradingState.ACTIVE,
            day_pnl=Decimal("-1820.40"),
            account_day_pnl=Decimal("-1790.15"),
            limits=(
                ("trades", "7/40"),
                ("positions", "9/12"),
                ("margin", "18.2%/80%"),
                ("pacing", "1/40"),
                ("sector", "tech 31%/40%"),
            ),
            account_id="SIM",
            net_liquidation=Decimal("1002345.67"),
            cash=Decimal("950120.00"),
            buying_power=Decimal("3800000.00"),
            excess_liquidity=Decimal("820345.00"),
            maint_margin=Decimal("182000.00"),
        )
    ]
    for va_id in shipped_vas(engine):
        symbol = OPTION_SYMBOLS.get(va_id)
        strategy = "naked_put" if symbol else "ma_cross"
        items.append(Snapshots.va(va_id, strategy=strategy, symbol=symbol or "AAPL"))
        if symbol:
            items.append(short_put(va_id, symbol))
        else:
            items.append(
                Snapshots.position(
                    va_id,
                    "AAPL",
                    120,
                    target_price=Decimal("103.00"),
                    delta_dollars=12_180.0,
                    theta_per_day=0.0,
                    margin=Decimal("3045.00"),
                )
            )
    items.append(Snapshots.order("o-17", va_id="trend-tech", contract=Contract.stock("AAPL")))
    items.append(
        Snapshots.order(
            "o-18",
            OrderStatus.PARTIALLY_FILLED,
            va_id="swing-fin",
            contract=Contract.stock("XOM"),
            side=Side.SELL,
            filled=100,
            quantity=200,
        )
    )
    items.append(Snapshots.event("trend-tech bought 120 AAPL @ 100.00", va_id="trend-tech"))
    return items


async def show(app: EngineApp, engine: FakeEngine, pilot: Pilot[object]) -> str:
    publish_from_thread(engine.bus, a_busy_day(engine))
    await wait_for(pilot, lambda: len(app.working_orders) == 2 and len(app.positions) == 9)
    await pilot.pause(4 * FAST)
    return screen_text(app)


def header_line(text: str, table: KeyedTable) -> str:
    """The screen line that holds ``table``'s column labels."""
    labels = [str(column.label) for column in table.ordered_columns]
    lines = [line for line in text.splitlines() if all(label in line for label in labels[:2])]
    assert lines, f"no header line of #{table.id} on screen"
    return lines[0]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_every_shipped_va_is_on_screen_with_no_cut_column(size: tuple[int, int]) -> None:
    engine = shipped_engine()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=size) as pilot:
        text = await show(app, engine, pilot)
        vas = app.query_one("#vas", KeyedTable)
        va_ids = shipped_vas(engine)
        assert len(va_ids) == 9
        for va_id in va_ids:
            row = [
                line for line in text.splitlines() if f" {va_id} " in line and "position" in line
            ]
            assert row, f"VA {va_id} not on screen at {size}:\n{text}"
            # Every shown cell of the VA's row whole, in order, on its line.
            cells = {
                key: cell.plain
                for key, cell in zip(vas.visible_columns, vas.get_row(va_id), strict=True)
            }
            position = 0
            for key in vas.visible_columns:
                found = row[0].find(cells[key], position)
                assert found >= 0, f"{va_id}'s {key} cell {cells[key]!r} cut at {size}: {row[0]}"
                position = found + len(cells[key])
        for table_id in ("vas", "positions", "orders"):
            table = app.query_one(f"#{table_id}", KeyedTable)
            assert table.border_title is not None and table.border_title.split(" (")[0] in text
            if size == (80, 24) and table_id == "orders":
                continue  # every VA and two positions shown: the orders pane is its title line
            line = header_line(text, table)
            for column in table.ordered_columns:
                assert str(column.label) in line, f"#{table_id} {column.label} cut at {size}"
            assert table.virtual_size.width <= table.scrollable_content_region.width, (
                f"#{table_id} scrolls sideways at {size}"
            )
            assert table.max_scroll_x == 0
        orders = app.query_one("#orders", KeyedTable)
        assert {"age", "status"} <= set(orders.visible_columns)
        if size[1] >= 32:  # 80x24 shows the first working order only
            assert "partially filled" in text
        assert "net liq 1,002,346" in text and "BP 3,800,000" in text
        assert "sector tech" in text and "31%/40%" in text
        assert "…" not in text, f"a label is cut at {size}:\n{text}"


@pytest.mark.parametrize("size", [(120, 40), (160, 50), (200, 50)], ids=["120", "160", "200"])
async def test_short_puts_show_their_exits_as_prices_at_120_columns_and_above(
    size: tuple[int, int],
) -> None:
    engine = shipped_engine()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=size) as pilot:
        text = await show(app, engine, pilot)
        puts = [line for line in text.splitlines() if "puts-tsla" in line and "P 500" in line]
        assert puts, text
        # Buy-back target (half the 4.20 credit), the 3x stop, the time-exit date, delta $.
        for shown in ("2.10", "12.60", "03-29", "-18,444", "+31.50"):
            assert shown in puts[0], f"{shown} missing at {size}: {puts[0]}"
        totals = app.query_one("#vas", KeyedTable).border_subtitle or ""
        assert "portfolio delta $ -12,876" in totals  # 5 x 12,180 - 4 x 18,444
        assert "theta/d +126.00" in totals and "margin 97,199" in totals


async def test_the_age_column_stays_when_the_status_column_grows() -> None:
    engine = shipped_engine()
    app = EngineApp(engine, flush_interval_s=FAST)
    put = Contract.option("TSLA", EXPIRY, Decimal(230), "P")
    order = Snapshots.order(
        "puts-tsla-e3091f-23.exit", va_id="puts-tsla", contract=put, side=Side.BUY
    )
    async with app.run_test(size=(200, 50)) as pilot:  # orders beside positions: the narrowest
        publish_from_thread(engine.bus, [*a_busy_day(engine)[:-3], order])
        orders = app.query_one("#orders", KeyedTable)
        await wait_for(pilot, lambda: len(app.working_orders) == 1)
        await pilot.pause(4 * FAST)
        assert "age" in orders.visible_columns
        grown = replace(order, status=OrderStatus.PARTIALLY_FILLED, filled=1)
        publish_from_thread(engine.bus, [grown])
        key = order.order_id
        await wait_for(pilot, lambda: orders.row_cells(key)[6].plain == "partially filled")
        await pilot.pause(4 * FAST)
        text = screen_text(app)
        lines = [line for line in text.splitlines() if "partially filled" in line]
        assert lines and "42s" in lines[0], f"the status or the age is cut:\n{text}"
        assert "Age" in header_line(text, orders)
        assert orders.virtual_size.width <= orders.scrollable_content_region.width


async def test_empty_panes_collapse_to_their_title_line() -> None:
    engine = shipped_engine()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(4 * FAST)
        for table_id in ("positions", "orders"):
            table = app.query_one(f"#{table_id}", KeyedTable)
            assert table.has_class("-empty")
            assert table.outer_size.height == 1
        text = screen_text(app)
        assert "Working orders (0)" in text or "Working orders" in text


@pytest.mark.parametrize("size", SIZES[1:], ids=[f"{w}x{h}" for w, h in SIZES[1:]])
async def test_notices_cover_no_table_row_and_go_soon(size: tuple[int, int]) -> None:
    engine = shipped_engine()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=size, notifications=True) as pilot:
        await show(app, engine, pilot)
        for n in range(4):
            app.notify(f"Flatten va{n} sent.", severity="warning")
        await wait_for(pilot, lambda: len(app.screen.query(Toast)) >= 3)
        await pilot.pause(2 * FAST)
        tables = [app.query_one(f"#{t}", KeyedTable).region for t in ("vas", "positions", "orders")]
        toasts = [toast.region for toast in app.screen.query(Toast) if toast.region.height]
        assert toasts
        for toast in toasts:
            assert toast.height == 1, "a notice is one line"
            for table in tables:
                assert not toast.overlaps(table), f"a notice covers a table at {size}"
        assert app.NOTIFICATION_TIMEOUT <= 3


async def test_the_flatten_dialog_cuts_no_line_at_80x24() -> None:
    engine = shipped_engine()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await show(app, engine, pilot)
        await pilot.press("f")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.pause(2 * FAST)
        text = screen_text(app)
        title, lines = flatten_all_prompt(list(app.positions), app.working_orders)
        assert title in text
        shown = [line for line in lines if line[:24] in text]
        assert len(shown) >= 4, text
        for line in shown:
            assert line in text, f"cut in the dialog: {line!r}\n{text}"


@pytest.mark.parametrize("size", SIZES[1:], ids=[f"{w}x{h}" for w, h in SIZES[1:]])
async def test_every_key_fits_the_footer_at_120_columns_and_above(size: tuple[int, int]) -> None:
    engine = shipped_engine()
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: "Quit" in screen_text(app).splitlines()[-1])
        footer = screen_text(app).splitlines()[-1]
        for label in ("Halt", "Resume", "Flatten all", "Pause VA", "Filter", "Trades", "Quit"):
            assert label in footer, (label, footer)
        assert "READ-ONLY" not in footer
