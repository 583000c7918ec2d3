"""The kill switch's own lane (``tui.kill_switch``): ``h`` read by the terminal's input thread
halts there, while the UI thread is busy; the UI thread only says so afterwards."""

from __future__ import annotations

import threading
from typing import Any

from textual import events
from textual.driver import Driver
from textual.message import Message

from core.gate import GateState
from tests.tui.fakes import FakeEngine, RecordingApp
from tui.kill_switch import KillSwitchSent, express_driver

FAST = 0.05


def on_an_input_thread(driver: Driver, key: str) -> str:
    """Feed ``key`` to ``driver`` as its input thread does, while the calling (UI) thread
    waits for it: nothing on the UI loop can run meanwhile. The input thread's name."""
    seen: list[str] = []

    def feed() -> None:
        seen.append(threading.current_thread().name)
        driver.process_message(events.Key(key, key))

    thread = threading.Thread(target=feed, name="terminal-input")
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    return seen[0]


async def test_h_halts_on_the_input_thread_while_the_ui_thread_is_blocked(
    engine: FakeEngine,
) -> None:
    app = RecordingApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        driver = app.get_driver_class()(app, debug=False, mouse=False)
        on_an_input_thread(driver, "h")
        # The UI loop has not run since the key: the engine was told by the input thread.
        assert engine.calls == [("halt", "halt key")]
        assert engine.gate.state is GateState.CLOSED
        assert app.told == []

        await pilot.pause()
        await pilot.pause()
        assert app.told == ["Halt sent: the gate is closed."]
        assert engine.calls == [("halt", "halt key")]  # the key did not halt a second time


async def test_other_keys_take_the_ordinary_way(engine: FakeEngine) -> None:
    app = RecordingApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        driver = app.get_driver_class()(app, debug=False, mouse=False)
        on_an_input_thread(driver, "r")
        assert engine.calls == []
        await pilot.pause()
        await pilot.pause()
        assert engine.calls == []  # r asks for a confirmation first


class RecordingDriver(Driver):
    """A driver that records what it would post to the app."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self.posted: list[Message] = []
        self.cursor_origin = None
        self._down_buttons: list[int] = []
        self._last_move_event = None

    def send_message(self, message: Message) -> None:
        self.posted.append(message)

    def write(self, data: str) -> None:
        raise NotImplementedError

    def start_application_mode(self) -> None:
        raise NotImplementedError

    def disable_input(self) -> None:
        raise NotImplementedError

    def stop_application_mode(self) -> None:
        raise NotImplementedError


class Press:
    def __init__(self, outcome: bool | Exception) -> None:
        self.outcome = outcome
        self.threads: list[str] = []

    def kill_switch(self) -> bool:
        self.threads.append(threading.current_thread().name)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_a_sent_halt_replaces_the_key_with_killswitchsent() -> None:
    app = Press(True)
    driver = express_driver(RecordingDriver)(app)
    assert on_an_input_thread(driver, "h") == "terminal-input"
    assert app.threads == ["terminal-input"]
    assert [type(m) for m in driver.posted] == [KillSwitchSent]


def test_a_viewer_s_h_and_a_failing_switch_let_the_key_through() -> None:
    for outcome in (False, RuntimeError("no engine")):
        app = Press(outcome)
        driver = express_driver(RecordingDriver)(app)
        on_an_input_thread(driver, "h")
        assert app.threads == ["terminal-input"]
        assert [m.key for m in driver.posted if isinstance(m, events.Key)] == ["h"]


def test_the_driver_keeps_its_base_and_says_so() -> None:
    express = express_driver(RecordingDriver)
    assert issubclass(express, RecordingDriver)
    assert express.__name__ == "ExpressRecordingDriver"


def test_the_dashboard_process_is_tuned_for_the_key() -> None:
    """In a process of its own (the settings are the process's): a 0.5 ms switch interval, the
    heap frozen out of the collector, full collections rare."""
    import subprocess
    import sys

    code = (
        "import gc, sys\n"
        "from tui.kill_switch import tune_for_keys\n"
        "before = (sys.getswitchinterval(), gc.get_threshold()[2], gc.get_freeze_count())\n"
        "tune_for_keys()\n"
        "print((before, (sys.getswitchinterval(), gc.get_threshold()[2], gc.get_freeze_count())))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    before, after = eval(out)
    assert before[:2] == (0.005, 10) and before[2] == 0
    assert after[0] == 0.0005 and after[1] == 1000 and after[2] > 1000


def test_attach_tunes_its_own_process_before_the_dashboard_runs(
    monkeypatch: Any,
) -> None:
    from tui import attach_command

    calls: list[str] = []

    class Remote:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def start(self) -> None:
            calls.append("start")

        def wait_attached(self, timeout_s: float) -> None:
            calls.append("attached")

        def close(self) -> None:
            calls.append("close")

    class App:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append("app")

        def run(self) -> None:
            calls.append("run")

    monkeypatch.setattr(attach_command, "RemoteEngine", Remote)
    monkeypatch.setattr(attach_command, "EngineApp", App)
    monkeypatch.setattr(attach_command, "tune_for_keys", lambda: calls.append("tuned"))
    attach_command.attach_dashboard("/tmp/x.sock")
    assert calls == ["start", "attached", "app", "tuned", "run", "close"]
