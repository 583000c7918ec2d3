"""The dashboard shows what actors publish on their own threads, after a flush on the UI thread."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from rich.text import Text
from textual.widgets import Static

from core.config import BrokerSettings, IbSettings
from core.domain import OrderStatus, TradingState
from tests.tui.fakes import NOW, FakeEngine, Snapshots, publish_from_thread, wait_for
from tui import EngineApp
from tui.event_log import EventLog
from tui.tables import KeyedTable

FAST = 0.05  # flush interval for tests, seconds


def cells(app: EngineApp, table_id: str, key: str) -> list[str]:
    table = app.query_one(f"#{table_id}", KeyedTable)
    return [str(cell) for cell in table.row_cells(key)] if key in table else []


def rows(app: EngineApp, table_id: str) -> list[str]:
    return list(app.query_one(f"#{table_id}", KeyedTable).keys())


def label(app: EngineApp, widget_id: str) -> str:
    content = app.query_one(f"#{widget_id}", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def test_a_va_snapshot_from_an_actor_thread_becomes_a_row(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        assert rows(app, "vas") == ["va1", "va2"], "a row per configured VA from the start"
        assert cells(app, "vas", "va1")[:4] == ["va1", "-", "-", "waiting"]

        publish_from_thread(engine.bus, [Snapshots.va("va1"), Snapshots.va("va2", wins=0)])

        await wait_for(pilot, lambda: cells(app, "vas", "va2")[8:9] == ["0/1"])
        assert rows(app, "vas") == ["va1", "va2"]

        assert cells(app, "vas", "va1") == [
            "va1",
            "ma_cross",
            "AAA",
            "in position",
            "101,250.50",
            "-120.25",
            "+1,250.50",
            "1.50",
            "3/1",
            "-",  # delta $, theta a day and margin: no position reported
            "-",
            "-",
        ]
        publish_from_thread(engine.bus, [Snapshots.va("va1", state="paused")])
        await wait_for(pilot, lambda: cells(app, "vas", "va1")[3] == "paused")


async def test_a_va_in_cooldown_shows_the_time_left_and_it_counts_down_with_the_clock(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        until = NOW + timedelta(minutes=3, seconds=12)
        publish_from_thread(engine.bus, [Snapshots.va(state="cooldown", cooldown_until=until)])
        await wait_for(pilot, lambda: cells(app, "vas", "va1")[3:4] == ["cooldown 3:12"])

        engine.clock.advance(70)

        await wait_for(pilot, lambda: cells(app, "vas", "va1")[3] == "cooldown 2:02")
        publish_from_thread(engine.bus, [Snapshots.va(state="idle")])
        await wait_for(pilot, lambda: cells(app, "vas", "va1")[3] == "idle")
        engine.clock.advance(10)
        await pilot.pause(3 * FAST)
        assert cells(app, "vas", "va1")[3] == "idle"


async def test_a_position_row_appears_and_disappears_when_its_quantity_is_zero(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(engine.bus, [Snapshots.position("va1", "AAA", 100)])
        await wait_for(pilot, lambda: rows(app, "positions") == ["va1|AAA"])
        assert cells(app, "positions", "va1|AAA")[:3] == ["va1", "AAA", "+100"]
        assert [p.quantity for p in app.positions] == [100]

        publish_from_thread(engine.bus, [Snapshots.position("va1", "AAA", 0)])

        await wait_for(pilot, lambda: rows(app, "positions") == [])
        assert app.positions == ()
        assert app.query_one("#positions", KeyedTable).border_title == "Positions (0)"


async def test_an_order_row_disappears_when_its_status_is_terminal(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(engine.bus, [Snapshots.order("o-1"), Snapshots.order("o-2")])
        await wait_for(pilot, lambda: rows(app, "orders") == ["o-1", "o-2"])

        publish_from_thread(
            engine.bus,
            [
                Snapshots.order("o-1", OrderStatus.PARTIALLY_FILLED, filled=40),
                Snapshots.order("o-2", OrderStatus.CANCELLED),
            ],
        )

        await wait_for(pilot, lambda: rows(app, "orders") == ["o-1"])
        assert cells(app, "orders", "o-1")[5:7] == ["40/100", "partially filled"]
        publish_from_thread(engine.bus, [Snapshots.order("o-1", OrderStatus.FILLED, filled=100)])
        await wait_for(pilot, lambda: rows(app, "orders") == [])


async def test_an_order_ages_as_the_exchange_clock_moves(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(engine.bus, [Snapshots.order("o-1")])
        await wait_for(pilot, lambda: "o-1" in rows(app, "orders"))
        assert cells(app, "orders", "o-1")[7] == "42s"

        engine.clock.advance(60)

        await wait_for(pilot, lambda: cells(app, "orders", "o-1")[7] == "1m42s")


async def test_the_header_shows_mode_clock_speed_connection_and_the_trading_state(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: label(app, "clock") != "")
        assert label(app, "mode").strip() == "SIM"
        assert label(app, "clock").split() == ["10:15:30", "2024-03-13", "EDT", "x30"]
        assert label(app, "state").strip() == "WAITING"
        assert label(app, "connection").strip() == "BROKER ?"
        assert label(app, "flags") == "gate open"

        publish_from_thread(engine.bus, [Snapshots.risk(TradingState.REDUCING)])

        await wait_for(pilot, lambda: label(app, "state").strip() == "REDUCING")
        assert app.query_one("#state").has_class("-reducing")
        assert app.trading_state is TradingState.REDUCING
        assert label(app, "pnl") == "day P&L engine - | sim account -120.25 / -5,000.00"
        assert label(app, "limits") == "trades 3/10  positions 1/5"
        assert label(app, "flags") == "gate open  test"  # why it is not ACTIVE
        assert label(app, "connection").strip() == "CONNECTED"
        assert app.query_one("#connection").has_class("-connected")

        publish_from_thread(engine.bus, [Snapshots.risk(TradingState.REDUCING, data_stale=True)])

        await wait_for(pilot, lambda: label(app, "connection").strip() == "DATA STALE")
        assert app.query_one("#connection").has_class("-stale")
        assert not app.query_one("#connection").has_class("-connected")

        publish_from_thread(engine.bus, [Snapshots.risk(TradingState.HALTED, connected=False)])

        await wait_for(pilot, lambda: label(app, "state").strip() == "HALTED")
        assert app.query_one("#state").has_class("-halted")
        assert not app.query_one("#state").has_class("-reducing")
        assert label(app, "connection").strip() == "DISCONNECTED"
        assert label(app, "flags") == "gate open  test  (r: resume)"
        assert app.query_one("#connection").has_class("-disconnected")
        assert not app.query_one("#connection").has_class("-connected")


async def test_a_live_account_is_labelled_live_in_red_and_max_speed_reads_max() -> None:
    live = BrokerSettings(kind="ib", ib=IbSettings(port=7496, allow_live=True))
    engine = FakeEngine(broker=live, speed=None)
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: label(app, "clock").endswith("max"))
        assert label(app, "mode").strip() == "LIVE"
        assert app.query_one("#mode").has_class("-live")


async def test_events_are_listed_newest_first(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(
            engine.bus,
            [
                Snapshots.event("bought 100 AAA"),
                Snapshots.event("order refused", kind="reject"),
                Snapshots.event("daily loss breaker", kind="risk", va_id=None),
            ],
        )
        log = app.query_one(EventLog)
        await wait_for(pilot, lambda: len(log.events) == 3)

        assert [e.text for e in log.events] == [
            "daily loss breaker",
            "order refused",
            "bought 100 AAA",
        ]
        text = str(log.query_one("#event-lines", Static).content)
        assert text.index("daily loss breaker") < text.index("bought 100 AAA")


async def test_a_burst_from_an_actor_thread_returns_fast_and_shows_the_latest_values(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        burst = [Snapshots.va("va1", equity=Decimal(n)) for n in range(5000)]
        started = time.monotonic()
        publish_from_thread(engine.bus, burst)
        assert time.monotonic() - started < 2.0

        await wait_for(pilot, lambda: cells(app, "vas", "va1")[4:5] == ["4,999.00"])


async def test_publishing_on_the_ui_thread_works_too(engine: FakeEngine) -> None:
    # call_from_thread raises on the app's own thread; the bridge must not depend on it.
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        engine.bus.publish(Snapshots.va("va1"))
        await wait_for(pilot, lambda: cells(app, "vas", "va1")[1:2] == ["ma_cross"])


async def test_the_bridge_is_subscribed_while_the_app_runs_and_removed_after(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: engine.bus.subscribers == 1)
    assert engine.bus.subscribers == 0
    publish_from_thread(engine.bus, [Snapshots.va("late")])  # after exit: harmless


async def test_the_first_snapshots_are_asked_and_what_the_bus_brought_meanwhile_wins(
    engine: FakeEngine,
) -> None:
    engine.snapshots = {
        "governor": Snapshots.risk(TradingState.HALTED, reason="recovered"),
        "position_monitor": [Snapshots.position("va1", "AAA", 100)],
        "va:va1": Snapshots.va("va1", state="idle"),
        "va:va2": Snapshots.va("va2", state="idle"),
    }
    engine.snapshots_ready.clear()  # the actors answer late
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(engine.bus, [Snapshots.va("va2", state="paused")])
        await wait_for(pilot, lambda: cells(app, "vas", "va2")[3:4] == ["paused"])

        engine.snapshots_ready.set()

        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)
        await wait_for(pilot, lambda: rows(app, "vas") == ["va1", "va2"])  # the config's order
        await wait_for(pilot, lambda: rows(app, "positions") == ["va1|AAA"])
        await pilot.pause(3 * FAST)
        assert cells(app, "vas", "va1")[3] == "idle"
        assert cells(app, "vas", "va2")[3] == "paused", "an older asked snapshot won"


async def test_vas_the_config_does_not_list_go_last_by_id_and_the_cursor_stays_on_its_va(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        publish_from_thread(engine.bus, [Snapshots.va("zeta"), Snapshots.va("va2")])
        await wait_for(pilot, lambda: rows(app, "vas") == ["va1", "va2", "zeta"])
        await pilot.press("down", "down")
        assert app.selected_va == "zeta"

        publish_from_thread(engine.bus, [Snapshots.va("alpha")])

        await wait_for(pilot, lambda: rows(app, "vas") == ["va1", "va2", "alpha", "zeta"])
        assert app.selected_va == "zeta"
