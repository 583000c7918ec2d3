"""The dashboard shows what the market data is worth: DELAYED and LOGGED OUT in the header,
stale marks flagged in the positions table, the VA rows and the inspector."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from textual.widgets import Static

from core.domain import TradingState
from tests.tui.fakes import NOW, FakeEngine, Snapshots, publish_from_thread, wait_for
from tui import EngineApp
from tui.inspect_view import holdings_text
from tui.tables import KeyedTable

FAST = 0.05


def _label(app: EngineApp, widget_id: str) -> str:
    content = app.query_one(f"#{widget_id}", Static).content
    return content.plain if isinstance(content, Text) else str(content)


def _cells(app: EngineApp, table_id: str, key: str) -> list[str]:
    table = app.query_one(f"#{table_id}", KeyedTable)
    return [str(cell) for cell in table.row_cells(key)] if key in table else []


async def test_the_header_shows_delayed_data_and_a_logged_out_broker(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(engine.bus, [Snapshots.risk(TradingState.ACTIVE, data_delayed=True)])
        await wait_for(pilot, lambda: _label(app, "connection").strip() == "DELAYED")
        assert app.query_one("#connection").has_class("-stale")

        stale_and_delayed = Snapshots.risk(data_delayed=True, data_stale=True)
        publish_from_thread(engine.bus, [stale_and_delayed])
        await wait_for(pilot, lambda: _label(app, "connection").strip() == "DATA STALE")

        logged_out = Snapshots.risk(connected=False, logged_out=True)
        publish_from_thread(engine.bus, [logged_out])
        await wait_for(pilot, lambda: _label(app, "connection").strip() == "LOGGED OUT")
        assert app.query_one("#connection").has_class("-disconnected")

        publish_from_thread(engine.bus, [Snapshots.risk()])
        await wait_for(pilot, lambda: _label(app, "connection").strip() == "CONNECTED")


async def test_a_stale_mark_is_flagged_in_its_position_row_and_its_va_row(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        stale = Snapshots.position(
            mark_time=NOW - timedelta(minutes=5, seconds=2), mark_stale=True, mark_delayed=True
        )
        publish_from_thread(engine.bus, [Snapshots.va(), stale])
        await wait_for(pilot, lambda: bool(_cells(app, "positions", "va1|AAA")))
        mark = _cells(app, "positions", "va1|AAA")[4]
        assert mark == "101.50 STALE 5m02s DLY"
        await wait_for(pilot, lambda: "STALE" in " ".join(_cells(app, "vas", "va1")))
        assert "STALE" not in " ".join(_cells(app, "vas", "va2"))

        publish_from_thread(engine.bus, [Snapshots.position(mark_time=NOW)])
        await wait_for(pilot, lambda: _cells(app, "positions", "va1|AAA")[4] == "101.50")
        await wait_for(pilot, lambda: "STALE" not in " ".join(_cells(app, "vas", "va1")))


def test_the_inspector_flags_a_stale_holding_with_its_age() -> None:
    inspection = Snapshots.inspection(mark_ages=(("AAA", 302.0, True, True),))
    assert holdings_text(inspection).plain == (
        "AAA          +100 @ 100.00  mark 101.50  STALE 5m02s old  delayed"
    )
    fresh = Snapshots.inspection(mark_ages=(("AAA", 2.0, False, False),))
    assert holdings_text(fresh).plain == "AAA          +100 @ 100.00  mark 101.50  2s old"
