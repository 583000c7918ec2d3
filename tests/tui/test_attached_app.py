"""The dashboard attached to a scripted engine over a real Unix socket: a full state replaces
what is shown, commands' outcomes are told, a read-only viewer is refused every trading key,
the banner while the engine is away, and leaving (detach, or stop and wait for the bye)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual import events

from core.domain import TradingState
from engine.control.wire import Reply, Request
from tests.support.engine import make_config
from tests.tui.fakes import RecordingApp, Snapshots, wait_for
from tests.tui.scripted_engine import ScriptedEngine, state
from tui import EngineApp, QuitChoice
from tui.attached import LinkBanner
from tui.config_screen import ConfigScreen
from tui.event_log import EventLog
from tui.help import READ_ONLY_HEAD, HelpScreen
from tui.inspector import InspectorScreen
from tui.remote import RemoteEngine
from tui.screens import DetachScreen
from tui.tables import KeyedTable

FAST = 0.05
REFUSAL = "read-only viewer: attach without --read-only to trade"


def open_trades(seq: int = 1) -> Any:
    return state(
        seq,
        full=True,
        vas=(Snapshots.va("va1"), Snapshots.va("va2")),
        positions=(Snapshots.position("va1", "AAA"), Snapshots.position("va2", "BBB", -50)),
        orders=(Snapshots.order("o-1"),),
        risk=Snapshots.risk(),
        events=(Snapshots.event("filled AAA"),),
    )


@pytest.fixture
def sock_path() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="tui", dir="/tmp")
    yield str(Path(directory) / "e.sock")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def engines() -> Iterator[list[ScriptedEngine]]:
    started: list[ScriptedEngine] = []
    yield started
    for engine in started:
        engine.stop()


@pytest.fixture
def remotes() -> Iterator[list[RemoteEngine]]:
    opened: list[RemoteEngine] = []
    yield opened
    for remote in opened:
        remote.close()


def serve(engines: list[ScriptedEngine], path: str, **kwargs: Any) -> ScriptedEngine:
    engine = ScriptedEngine(path, first=kwargs.pop("first", open_trades), **kwargs)
    engines.append(engine)
    return engine


def attach(remotes: list[RemoteEngine], path: str, **kwargs: Any) -> RemoteEngine:
    remote = RemoteEngine(path, reconnect_s=0.05, **kwargs)
    remotes.append(remote)
    remote.start()
    remote.wait_attached(5)
    return remote


def shown_symbols(app: EngineApp) -> set[str]:
    return {position.contract.symbol for position in app.positions}


async def test_a_full_state_replaces_what_the_dashboard_shows(engines, remotes, sock_path) -> None:
    engine = serve(engines, sock_path)
    app = RecordingApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: shown_symbols(app) == {"AAA", "BBB"})
        assert [o.order_id for o in app.working_orders] == ["o-1"]
        assert app.trading_state is TradingState.ACTIVE
        events = app.query_one("#events", EventLog)
        assert [e.text for e in events.events] == ["filled AAA"]

        engine.push(state(2, full=True, positions=(Snapshots.position("va2", "CCC"),)))

        await wait_for(pilot, lambda: shown_symbols(app) == {"CCC"})
        assert app.working_orders == ()
        assert app.va_snapshot("va1") is None  # back to waiting for its snapshot
        assert app.risk_status is None and app.trading_state is None
        assert events.events == ()


async def test_h_is_sent_at_once_and_the_engines_confirmation_is_told(
    engines, remotes, sock_path
) -> None:
    halted = threading.Event()

    def answer(request: Request) -> Reply:
        halted.set()
        return Reply(request.id, True)

    serve(engines, sock_path, answer=answer)
    app = RecordingApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("h")
        assert app.told[0] == "Halt sent to the engine."
        await wait_for(pilot, lambda: app.told[1:] == ["Halt confirmed: the gate is closed"])
        assert halted.is_set()


async def test_the_kill_switch_on_the_input_thread_sends_who_asked(
    engines, remotes, sock_path, alice
) -> None:
    asked: list[dict[str, Any]] = []
    halted = threading.Event()

    def answer(request: Request) -> Reply:
        if request.op == "halt":
            asked.append(dict(request.args))
            halted.set()
        return Reply(request.id, True)

    serve(engines, sock_path, answer=answer)
    app = RecordingApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        driver = app.get_driver_class()(app, debug=False, mouse=False)
        pressed = threading.Thread(
            target=lambda: driver.process_message(events.Key("h", "h")), name="terminal-input"
        )
        pressed.start()
        pressed.join(timeout=5)
        assert halted.wait(5)
        await wait_for(pilot, lambda: "Halt confirmed: the gate is closed" in app.told)
    assert asked == [{"reason": "halt key", "by": alice}]


async def test_a_read_only_viewer_is_refused_every_trading_key(engines, remotes, sock_path) -> None:
    engine = serve(engines, sock_path)
    app = RecordingApp(attach(remotes, sock_path, read_only=True), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: shown_symbols(app) == {"AAA", "BBB"})
        assert app.check_action("halt", ()) is None  # greyed out in the footer
        assert app.check_action("viewer", ()) is True  # "v READ-ONLY viewer" in the footer

        for key in ("h", "r", "f", "x", "p"):
            await pilot.press(key)
        assert app.told == [REFUSAL] * 5
        assert isinstance(app.screen, type(app.screen)) and len(app.screen_stack) == 1

        await pilot.press("c")
        assert isinstance(app.screen, ConfigScreen)
        assert app.check_action("flatten_va", ()) is False  # the dashboard's own: hidden here
        await pilot.press("R")
        assert app.told[-1] == REFUSAL
        told = len(app.told)
        await pilot.press("T")  # a test notification is a command too
        assert app.told[told:] == [REFUSAL]
        await pilot.press("escape")

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert READ_ONLY_HEAD in str(app.screen.query_one("#help-text").render())
        await pilot.press("escape")

        await pilot.press("q")
        assert isinstance(app.screen, DetachScreen)
        await pilot.press("s")
        assert app.told[-1] == REFUSAL
        assert app.return_value is None
        # Nothing but the config screen's read of the notification settings reached the engine.
        assert [request.op for request in engine.requests] == ["notify_status"]


async def test_the_banner_says_the_engine_is_away_and_a_restarted_engine_replaces_the_screen(
    engines, remotes, sock_path
) -> None:
    first = serve(engines, sock_path)
    app = RecordingApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: shown_symbols(app) == {"AAA", "BBB"})
        banner = app.query_one("#link-banner", LinkBanner)
        assert not banner.display

        first.stop()

        await wait_for(pilot, lambda: banner.text.startswith(f"engine not running at {sock_path}"))
        assert banner.display and "reattaching every 0.05 s" in banner.text
        assert app.query_one("#body").has_class("-stale")
        assert shown_symbols(app) == {"AAA", "BBB"}  # the last state, kept

        serve(engines, sock_path, first=lambda: state(1, full=True, vas=(Snapshots.va("va2"),)))

        await wait_for(pilot, lambda: not banner.display)
        await wait_for(pilot, lambda: not app.positions)
        assert not app.query_one("#body").has_class("-stale")
        assert app.va_snapshot("va2") is not None and app.va_snapshot("va1") is None
        assert f"Reattached to the engine at {sock_path}." in app.told


async def test_q_then_enter_detaches_and_leaves_the_engine_alone(
    engines, remotes, sock_path
) -> None:
    engine = serve(engines, sock_path)
    app = RecordingApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.positions))
        await pilot.press("q")
        assert isinstance(app.screen, DetachScreen)
        await pilot.press("enter")
        assert app.return_value is QuitChoice.DETACH
    assert engine.requests == []


@pytest.mark.parametrize(
    ("key", "choice", "flatten"),
    [("s", QuitChoice.STOP, False), ("f", QuitChoice.STOP_FLATTEN, True)],
)
async def test_q_then_stop_asks_the_engine_to_stop_and_quits_once_it_said_bye(
    engines, remotes, sock_path, key: str, choice: QuitChoice, flatten: bool
) -> None:
    engine: ScriptedEngine

    def answer(request: Request) -> Reply:
        threading.Timer(0.2, engine.bye, args=("stopped over the control channel",)).start()
        return Reply(request.id, True)

    engine = serve(engines, sock_path, answer=answer)
    app = RecordingApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.positions))
        await pilot.press("q", key)
        await wait_for(pilot, lambda: app.return_value is choice)
    assert [(r.op, r.args) for r in engine.requests] == [("stop", {"flatten": flatten})]


async def test_a_stop_without_a_bye_is_told_and_the_dashboard_stays(
    engines, remotes, sock_path
) -> None:
    serve(engines, sock_path)  # answers the stop, never says bye
    app = RecordingApp(attach(remotes, sock_path, stop_timeout_s=0.2), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("q", "s")
        expected = (
            "Stop NOT confirmed: the engine did not say bye within 0.2 s; "
            "the dashboard stays attached."
        )
        await wait_for(pilot, lambda: expected in app.told)
        assert app.return_value is None and app.is_running


async def test_the_inspector_says_busy_when_the_engine_answers_timeout(
    engines, remotes, sock_path
) -> None:
    def answer(request: Request) -> Reply:
        return Reply(request.id, False, error="va:va1 did not answer within 1.0s", code="timeout")

    serve(engines, sock_path, answer=answer)
    app = EngineApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.selected_va == "va1")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        await wait_for(pilot, lambda: screen.answer_line == "actor busy: no answer in 1.0 s")


async def test_a_reload_the_engine_never_answers_is_shown_on_the_config_screen(
    engines, remotes, sock_path
) -> None:
    serve(engines, sock_path, answer=lambda request: None)
    app = EngineApp(attach(remotes, sock_path, command_timeout_s=0.2), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        assert "/etc/engine.toml" in str(screen.query_one("#config-title").render())
        await pilot.press("R")
        expected = "reload not confirmed: reload_config: no answer from the engine within 0.4 s"
        await wait_for(pilot, lambda: expected in screen.result_text)


async def test_an_engines_refusal_is_shown_as_it_is_never_read_as_markup(
    engines, remotes, sock_path
) -> None:
    def answer(request: Request) -> Reply:
        return Reply(request.id, False, error="refused [/] by [bold]policy", code="failed")

    serve(engines, sock_path, answer=answer)
    app = EngineApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.selected_va == "va1")
        await pilot.press("p")
        expected = "Pause va1 NOT confirmed: refused [/] by [bold]policy"

        def shown() -> bool:
            return expected in [str(toast.render()) for toast in app.query("Toast")]

        await wait_for(pilot, shown)
        assert app.is_running


async def test_an_engine_restarted_with_other_vas_gets_their_rows(
    engines, remotes, sock_path
) -> None:
    first = serve(engines, sock_path, first=lambda: state(1, full=True, vas=(Snapshots.va("va1"),)))
    app = EngineApp(attach(remotes, sock_path), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        vas = app.query_one("#vas", KeyedTable)
        await wait_for(pilot, lambda: list(vas.keys()) == ["va1", "va2"])
        first.stop()
        config = make_config()
        only_va3 = (config.accounts[0].model_copy(update={"id": "va3"}),)
        dump = config.model_copy(update={"accounts": only_va3}).model_dump(mode="json")

        serve(engines, sock_path, first=lambda: state(1, full=True), config=dump)

        await wait_for(pilot, lambda: list(vas.keys()) == ["va3"])
