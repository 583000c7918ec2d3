"""Who asks when a dashboard key trades (``tui.trading_keys.dashboard_by``): the OS user of the
dashboard's process and ``dashboard``, looked up once when the dashboard starts and sent with
every halt, resume and flatten, the kill switch's on the input thread too."""

from __future__ import annotations

import threading

import pytest
from textual import events

import tui.trading_keys
from tests.tui.fakes import FakeEngine, RecordingApp
from tui.trading_keys import dashboard_by

FAST = 0.05


def test_dashboard_by_names_the_os_user_and_the_dashboard(alice: str) -> None:
    assert dashboard_by({}) == alice == "alice, dashboard"
    over_ssh = dashboard_by({"SSH_CONNECTION": "203.0.113.5 50000 10.0.0.2 22"})
    assert over_ssh == "alice via ssh from 203.0.113.5, dashboard"


def test_a_long_user_name_is_cut_so_the_dashboard_still_fits_the_wires_64(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGNAME", "x" * 80)
    by = dashboard_by({})
    assert len(by) == 64 and by.endswith("x, dashboard")


async def test_every_trading_key_sends_who_asked(engine: FakeEngine, alice: str) -> None:
    app = RecordingApp(engine, flush_interval_s=FAST)
    async with app.run_test() as pilot:
        await pilot.press("h")
        await pilot.press("r", "y")
        await pilot.press("f", "y")
        app.request_flatten_va("va1")
        await pilot.press("y")
    assert [name for name, _ in engine.calls] == ["halt", "resume", "flatten", "flatten_va"]
    assert engine.asked_by == [alice] * 4


async def test_the_user_is_looked_up_once_at_start_never_per_key(
    engine: FakeEngine, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    real = tui.trading_keys.who_asks

    def counted(environ: dict[str, str] | None = None) -> str:
        lookups.append(threading.current_thread().name)
        return real(environ)

    monkeypatch.setattr(tui.trading_keys, "who_asks", counted)
    app = RecordingApp(engine, flush_interval_s=FAST)
    assert len(lookups) == 1
    async with app.run_test() as pilot:
        driver = app.get_driver_class()(app, debug=False, mouse=False)
        pressed = threading.Thread(
            target=lambda: driver.process_message(events.Key("h", "h")), name="terminal-input"
        )
        pressed.start()
        pressed.join(timeout=5)
        await pilot.press("h")
        await pilot.press("h")
    assert [name for name, _ in engine.calls] == ["halt", "halt", "halt"]
    assert engine.asked_by == [alice] * 3, "the input thread's halt says who asked too"
    assert len(lookups) == 1, "a key looked the user up again"
