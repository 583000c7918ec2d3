"""Per-VA keys on the dashboard: ``x`` flattens the selected VA after a confirmation naming it and
its positions, ``p`` pauses or unpauses it, ``enter`` opens its inspector and escape comes back;
``c`` and ``?`` open the config and the help."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.screen import ModalScreen

from tests.tui.fakes import FakeEngine, Snapshots, publish_from_thread, wait_for
from tests.tui.test_engine_app_keys import dialog_text
from tui import EngineApp
from tui.config_screen import ConfigScreen
from tui.help import HelpScreen
from tui.inspector import InspectorScreen
from tui.screens import ConfirmScreen, QuitScreen
from tui.tables import KeyedTable

FAST = 0.05  # flush interval for tests, seconds


async def show_two_vas(app: EngineApp, engine: FakeEngine, pilot: Pilot[object]) -> None:
    """va1 (one position, one order) above va2 (one position); the cursor on va1."""
    publish_from_thread(
        engine.bus,
        [
            Snapshots.va("va1"),
            Snapshots.va("va2", strategy="external", symbol="BBB"),
            Snapshots.position("va1", "AAA", 100),
            Snapshots.position("va2", "BBB", -50),
            Snapshots.order("o-1"),
        ],
    )
    await wait_for(pilot, lambda: len(app.query_one("#vas", KeyedTable)) == 2)
    await wait_for(pilot, lambda: len(app.positions) == 2 and len(app.working_orders) == 1)


async def test_x_names_the_selected_va_and_its_positions_and_y_flattens_only_it(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await show_two_vas(app, engine, pilot)
        await pilot.press("down")
        assert app.selected_va == "va2"

        await pilot.press("x")

        assert isinstance(app.screen, ConfirmScreen)
        text = dialog_text(app)
        assert "Flatten va2: close its 1 position(s)?" in text
        assert "BBB" in text and "-50" in text
        assert "AAA" not in text, "another VA's position is listed"
        assert "No working order of va2." in text
        assert engine.calls == []
        await pilot.press("y")
        assert engine.calls == [("flatten_va", "va2: flatten va2 key")]
        assert not isinstance(app.screen, ModalScreen)


async def test_x_then_n_or_escape_flattens_nothing(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await show_two_vas(app, engine, pilot)

        await pilot.press("x")
        assert "Flatten va1" in dialog_text(app)
        await pilot.press("n")
        assert not isinstance(app.screen, ModalScreen)
        await pilot.press("x", "escape")

        assert not isinstance(app.screen, ModalScreen)
        assert engine.calls == []


async def test_x_and_p_work_on_a_configured_va_before_its_first_snapshot(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        assert app.selected_va == "va1" and app.va_snapshot("va1") is None

        await pilot.press("p", "x")

        assert engine.calls_named("pause_va") == [("pause_va", "va1 True pause key")]
        assert "Flatten va1: close its 0 position(s)?" in dialog_text(app)
        await pilot.press("escape")
        assert engine.calls_named("flatten_va") == []


async def test_p_pauses_the_selected_va_and_p_again_unpauses_it_once_it_reads_paused(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await show_two_vas(app, engine, pilot)

        await pilot.press("p")

        assert engine.calls_named("pause_va") == [("pause_va", "va1 True pause key")]
        assert not isinstance(app.screen, ModalScreen), "pause needs no confirmation"
        # The VA confirms on its own thread; the row follows.
        publish_from_thread(engine.bus, [Snapshots.va("va1", state="paused")])
        vas = app.query_one("#vas", KeyedTable)
        await wait_for(pilot, lambda: str(vas.row_cells("va1")[3]) == "paused")

        await pilot.press("p")

        assert engine.calls_named("pause_va") == [
            ("pause_va", "va1 True pause key"),
            ("pause_va", "va1 False unpause key"),
        ]


async def test_enter_on_a_va_row_opens_its_inspector_and_escape_comes_back(
    engine: FakeEngine,
) -> None:
    engine.inspections["va2"] = Snapshots.inspection("va2")
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await show_two_vas(app, engine, pilot)
        await pilot.press("down", "enter")

        assert isinstance(app.screen, InspectorScreen)
        assert app.screen.va_id == "va2"

        await pilot.press("escape")

        assert not isinstance(app.screen, InspectorScreen)
        assert len(app.screen_stack) == 1
        assert app.selected_va == "va2", "the cursor moved while inspecting"


async def test_enter_on_a_position_or_an_order_inspects_its_va(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await show_two_vas(app, engine, pilot)
        app.query_one("#positions", KeyedTable).focus()
        await pilot.press("down", "enter")
        assert isinstance(app.screen, InspectorScreen) and app.screen.va_id == "va2"
        await pilot.press("escape")

        app.query_one("#orders", KeyedTable).focus()
        await pilot.press("enter")
        assert isinstance(app.screen, InspectorScreen) and app.screen.va_id == "va1"


async def test_enter_with_the_focus_elsewhere_inspects_the_va_under_the_cursor(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await show_two_vas(app, engine, pilot)
        app.query_one("#events").focus()
        await pilot.press("enter")
        assert isinstance(app.screen, InspectorScreen) and app.screen.va_id == "va1"


async def test_c_opens_the_config_and_escape_comes_back(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST, config_path="config.toml")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, ConfigScreen)
        await pilot.press("escape")
        assert len(app.screen_stack) == 1


async def test_question_mark_opens_the_help_and_escape_or_question_mark_closes_it(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert len(app.screen_stack) == 1
        await pilot.press("question_mark", "question_mark")
        assert len(app.screen_stack) == 1


async def test_h_halts_from_every_screen(engine: FakeEngine) -> None:
    engine.inspections["va1"] = Snapshots.inspection()
    app = EngineApp(engine, flush_interval_s=FAST, config_path="config.toml")
    async with app.run_test(size=(140, 40)) as pilot:
        await show_two_vas(app, engine, pilot)
        for opening, screen_type in (
            ("enter", InspectorScreen),
            ("c", ConfigScreen),
            ("question_mark", HelpScreen),
            ("q", QuitScreen),
        ):
            await pilot.press(opening)
            assert isinstance(app.screen, screen_type)
            await pilot.press("h")
            assert isinstance(app.screen, screen_type), "h closed the screen"
            await pilot.press("escape")
        assert engine.calls_named("halt") == [("halt", "halt key")] * 4
        assert len(app.screen_stack) == 1


async def test_dashboard_keys_are_hidden_on_the_config_screen(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        await show_two_vas(app, engine, pilot)
        await pilot.press("c")
        assert app.check_action("flatten_va", ()) is False
        await pilot.press("x", "p")
        assert engine.calls_named("flatten_va") == [] and engine.calls_named("pause_va") == []
        assert isinstance(app.screen, ConfigScreen)
