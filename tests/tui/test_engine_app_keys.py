"""Keys: halt at once, resume and flatten after a confirmation, quit that asks when trades are
open. The fake engine records calls; nothing waits for its reaction."""

from __future__ import annotations

import threading

from rich.text import Text
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import Static

from core.domain import OrderStatus, TradingState
from core.gate import GateState
from tests.tui.fakes import FakeEngine, Snapshots, publish_from_thread, wait_for
from tui import EngineApp, QuitChoice
from tui.screens import ConfirmScreen, QuitScreen

FAST = 0.05  # flush interval for tests, seconds


def dialog_text(app: EngineApp) -> str:
    parts = []
    for widget in app.screen.query(".dialog-title, .dialog-body").results(Static):
        content = widget.content
        parts.append(content.plain if isinstance(content, Text) else str(content))
    return "\n".join(parts)


async def show_open_trades(app: EngineApp, engine: FakeEngine, pilot: Pilot[object]) -> None:
    publish_from_thread(
        engine.bus,
        [
            Snapshots.position("va1", "AAA", 100),
            Snapshots.position("va2", "BBB", -50),
            Snapshots.order("o-1"),
        ],
    )
    await wait_for(pilot, lambda: len(app.positions) == 2 and len(app.working_orders) == 1)


async def test_h_halts_once_at_once_without_a_dialog(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        await pilot.press("h")

        assert engine.calls == [("halt", "halt key")]
        assert engine.gate.state is GateState.CLOSED
        assert not isinstance(app.screen, ModalScreen)


async def test_h_still_halts_while_the_screen_shows_halted(engine: FakeEngine) -> None:
    """The screen may be a tick behind the engine (another dashboard may have resumed it): the
    kill switch is never greyed out by what the screen last showed."""
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        publish_from_thread(engine.bus, [Snapshots.risk(TradingState.HALTED)])
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)
        assert app.check_action("halt", ()) is True

        await pilot.press("h")

        assert engine.calls == [("halt", "halt key")]


async def test_h_still_halts_while_a_dialog_is_open(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)

        await pilot.press("h")

        assert engine.calls == [("halt", "halt key")]
        await pilot.press("n")
        assert engine.calls == [("halt", "halt key")]


async def test_r_asks_first_and_y_resumes(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        publish_from_thread(engine.bus, [Snapshots.risk(TradingState.HALTED, reason="halt key")])
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)

        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        assert "HALTED (halt key)" in dialog_text(app)
        assert engine.calls == []

        await pilot.press("y")

        assert engine.calls == [("resume", "resume key")]
        assert not isinstance(app.screen, ModalScreen)


async def test_r_then_n_does_not_resume(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        await pilot.press("r", "n")

        assert engine.calls == []
        assert not isinstance(app.screen, ModalScreen)


async def test_f_lists_the_positions_and_y_flattens(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)

        await pilot.press("f")

        assert isinstance(app.screen, ConfirmScreen)
        text = dialog_text(app)
        assert "close 2 position(s)" in text
        assert "va1" in text and "AAA" in text and "+100" in text
        assert "va2" in text and "BBB" in text and "-50" in text
        assert "1 working order(s)" in text
        await pilot.press("y")
        assert engine.calls == [("flatten", "flatten key")]


async def test_the_flatten_dialog_follows_positions_that_close_while_it_is_open(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)
        await pilot.press("f")
        assert isinstance(app.screen, ConfirmScreen)
        assert "BBB" in dialog_text(app)

        publish_from_thread(engine.bus, [Snapshots.position("va2", "BBB", 0)])  # it closed

        await wait_for(pilot, lambda: "close 1 position(s)" in dialog_text(app))
        assert "BBB" not in dialog_text(app)
        await pilot.press("y")
        assert engine.calls == [("flatten", "flatten key")]


async def test_f_then_escape_does_not_flatten(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)

        await pilot.press("f", "escape")

        assert engine.calls == []
        assert not isinstance(app.screen, ModalScreen)


async def test_q_with_nothing_open_quits_at_once(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        await pilot.press("q")
        assert app.return_value is QuitChoice.NOTHING_OPEN
    assert engine.calls == []


async def test_q_with_an_open_position_asks_and_l_quits_leaving_it(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)

        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        assert "2 open position(s) and 1 working order(s)" in dialog_text(app)
        assert app.return_value is None

        await pilot.press("l")
        assert app.return_value is QuitChoice.LEAVE
    assert engine.calls == []


async def test_q_then_f_flattens_and_quits_once_nothing_is_open(
    engine: FakeEngine, alice: str
) -> None:
    release = threading.Event()
    closing = [
        Snapshots.position("va1", "AAA", 0),
        Snapshots.position("va2", "BBB", 0),
        Snapshots.order("o-1", OrderStatus.CANCELLED),
    ]

    def actor() -> None:
        release.wait(5)
        for item in closing:
            engine.bus.publish(item)

    # The engine's reaction comes later, on an actor thread, never inside the UI's call.
    closer = threading.Thread(target=actor, name="fake-order-manager", daemon=True)
    engine.on_flatten = closer.start
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)

        await pilot.press("q", "f")

        assert engine.calls == [("flatten", "quit: flatten first")]
        assert engine.asked_by == [alice]  # the quit's flatten says who asked too
        await pilot.pause(0.2)
        assert app.return_value is None, "quit before the positions were closed"
        release.set()
        await wait_for(pilot, lambda: app.return_value is QuitChoice.FLATTEN)
    closer.join(5)
    assert not closer.is_alive()


async def test_q_then_escape_stays(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)

        await pilot.press("q", "escape")

        assert not isinstance(app.screen, ModalScreen)
        assert app.return_value is None
        assert engine.calls == []


async def test_enter_in_a_confirmation_answers_no_because_no_has_the_focus(
    engine: FakeEngine,
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)

        await pilot.press("f", "enter")

        assert engine.calls == []
        assert not isinstance(app.screen, ModalScreen)


async def test_clicking_yes_in_a_confirmation_flattens(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)
        await pilot.press("f")

        await pilot.click("#yes")

        assert engine.calls == [("flatten", "flatten key")]


async def test_the_quit_dialog_also_halts_on_h_and_keeps_asking(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)

        await pilot.press("q", "h")

        assert engine.calls == [("halt", "halt key")]
        assert isinstance(app.screen, QuitScreen)
        await pilot.click("#cancel")
        assert not isinstance(app.screen, ModalScreen)
        assert app.return_value is None


async def test_a_stop_request_from_a_signal_handler_ends_the_app_without_asking(
    engine: FakeEngine,
) -> None:
    stop = threading.Event()
    app = EngineApp(engine, flush_interval_s=FAST, stop_requested=stop)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_open_trades(app, engine, pilot)
        await pilot.pause(3 * FAST)
        assert app.is_running, "nothing asked it to stop yet"

        threading.Thread(target=stop.set, name="signal-handler").start()

        await wait_for(pilot, lambda: not app.is_running)
        assert not isinstance(app.screen, QuitScreen), "a signal never waits for a dialog"
    assert app.return_value is None, "None: the caller stops the engine as the config says"
    assert engine.calls == [], "neither flattened nor halted by the app itself"
