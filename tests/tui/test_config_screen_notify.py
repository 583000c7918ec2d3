"""The config screen's notifications panel: the settings with the service URLs masked (never a
token), and ``T`` sending a test message: with the engine in process, and attached over the
control channel to a real engine whose notifier posts to a real loopback webhook."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.webhook import webhook_receiver
from core.config import ControlSettings, NotifySettings
from tests.support.engine import make_config, start_engine
from tests.tui.fakes import FakeEngine, wait_for
from tui import EngineApp
from tui.config_screen import ConfigScreen
from tui.remote import RemoteEngine

FAST = 0.05
TOKEN = "T0KENsecret987"


async def test_the_panel_masks_every_url_and_t_asks_the_engine_for_a_test(
    engine: FakeEngine,
) -> None:
    engine.config = engine.config.model_copy(
        update={"notify": NotifySettings.model_validate({"enabled": True})}
    )
    engine.notify_urls = (f"json://127.0.0.1:9/hook/{TOKEN}", f"tgram://123:{TOKEN}/42")
    app = EngineApp(engine, flush_interval_s=FAST, config_path="config.toml")
    async with app.run_test(size=(160, 44)) as pilot:
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await wait_for(pilot, lambda: "urls = " in screen.notify_text)
        assert "urls = json://**** (31 chars), tgram://**** (21 chars)" in screen.notify_text
        assert "urls_env = ENGINE_NOTIFY_URLS" in screen.notify_text

        await pilot.press("T")

        await wait_for(pilot, lambda: "test message queued" in screen.notify_text)
        assert engine.calls_named("notify_test") == [("notify_test", "")]
        shown = screen.notify_text + screen.config_text + str(app.export_screenshot())
        assert TOKEN not in shown


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tui", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_t_on_an_attached_dashboard_sends_the_test_through_the_engine(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_receiver() as receiver:
        monkeypatch.setenv("TUI_NOTIFY_URLS", f"json://127.0.0.1:{receiver.port}/hook/{TOKEN}")
        config = make_config().model_copy(
            update={
                "control": ControlSettings.model_validate({"flush_interval_s": 0.02}),
                "notify": NotifySettings.model_validate(
                    {"enabled": True, "urls_env": "TUI_NOTIFY_URLS", "events": ["summary"]}
                ),
            }
        )
        sim = start_engine(short_dir, config)
        assert sim.engine.control is not None
        remote = RemoteEngine(sim.engine.control.path, reconnect_s=0.05)
        remote.start()
        try:
            remote.wait_attached(5)
            app = EngineApp(remote, flush_interval_s=FAST)
            async with app.run_test(size=(160, 44)) as pilot:
                await pilot.press("c")
                screen = app.screen
                assert isinstance(screen, ConfigScreen)
                await wait_for(pilot, lambda: "json://****" in screen.notify_text, timeout_s=5)
                await pilot.press("T")
                queued = "queued for 1 service"
                await wait_for(pilot, lambda: queued in screen.notify_text, timeout_s=5)
                [message] = receiver.wait_for(1, 10)
                shown = screen.notify_text + screen.config_text + str(app.export_screenshot())
        finally:
            remote.close()
        sim.engine.stop()
    assert "test message from engine main: notifications reach this service" in message.body
    assert message.path == f"/hook/{TOKEN}"
    assert TOKEN not in shown
