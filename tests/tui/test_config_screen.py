"""The config screen: the effective config with nothing secret, and a reload (worker thread) that
shows the applied and refused changes of a valid file and every problem of an invalid one."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from tests.support.engine import BASE_TOML
from tests.tui.fakes import FakeEngine, wait_for
from tui import EngineApp
from tui.config_screen import ConfigScreen

FAST = 0.05  # flush interval for tests, seconds


def config_file(tmp_path: Path, *, risk: str = "", limits: str = "", seed: int = 7) -> Path:
    text = BASE_TOML.format(risk=risk, filters="", exits="", limits=limits, orders="")
    path = tmp_path / "config.toml"
    path.write_text(text.replace("seed = 7", f"seed = {seed}"), encoding="utf-8")
    return path


async def open_config(app: EngineApp, pilot: Pilot[object]) -> ConfigScreen:
    await pilot.press("c")
    screen = app.screen
    assert isinstance(screen, ConfigScreen)
    return screen


async def test_the_config_screen_lists_every_setting_in_effect(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST, config_path="config.toml")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_config(app, pilot)
        lines = screen.config_text.splitlines()

        assert "risk.max_trades_per_day = 10" in lines
        assert 'broker.kind = "sim"' in lines
        assert 'accounts[va2].universe = ["JPM", "AAPL"]' in lines
        assert 'sim.symbols.AAPL.sector = "Technology"' in lines
        # Money is shown as the number it is, never as a string.
        assert f"sim.starting_cash = {engine.config.sim.starting_cash}" in lines
        assert f"accounts[va1].capital = {engine.config.accounts[0].capital}" in lines
        assert "Not reloaded yet" in screen.result_text


async def test_r_reloads_a_valid_file_and_shows_applied_and_refused_changes(
    engine: FakeEngine, tmp_path: Path
) -> None:
    path = config_file(tmp_path, risk="max_trades_per_day = 12", seed=8)
    app = EngineApp(engine, flush_interval_s=FAST, config_path=path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_config(app, pilot)

        await pilot.press("R")

        await wait_for(pilot, lambda: "applied live" in screen.result_text)
        assert engine.calls_named("reload_config") == [("reload_config", str(path))]
        result = screen.result_text.splitlines()
        assert result[0] == f"{path}: 1 change(s) applied live"
        assert "  risk.max_trades_per_day: 10 -> 12" in result
        assert "  sim.seed: cannot change while running (restart to apply 8)" in result
        assert "risk.max_trades_per_day = 12" in screen.config_text.splitlines()
        assert "sim.seed = 7" in screen.config_text.splitlines()


async def test_the_reload_button_does_what_r_does(engine: FakeEngine, tmp_path: Path) -> None:
    path = config_file(tmp_path, limits="max_open_positions = 2")
    app = EngineApp(engine, flush_interval_s=FAST, config_path=path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_config(app, pilot)

        await pilot.click("#reload")

        await wait_for(pilot, lambda: "applied live" in screen.result_text)
        assert (
            "  accounts[va1].limits.max_open_positions: 1 -> 2" in screen.result_text.splitlines()
        )


async def test_reloading_an_unchanged_file_applies_nothing(
    engine: FakeEngine, tmp_path: Path
) -> None:
    app = EngineApp(engine, flush_interval_s=FAST, config_path=config_file(tmp_path))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_config(app, pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: "nothing applied" in screen.result_text)
        assert "matches the running configuration" in screen.result_text


async def test_r_with_an_invalid_file_shows_every_problem_and_applies_nothing(
    engine: FakeEngine, tmp_path: Path
) -> None:
    path = config_file(tmp_path, risk="max_trades_per_day = 0", limits="max_drawdown_pct = -5")
    before = engine.config
    app = EngineApp(engine, flush_interval_s=FAST, config_path=path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_config(app, pilot)

        await pilot.press("R")

        await wait_for(pilot, lambda: "invalid" in screen.result_text)
        lines = screen.result_text.splitlines()
        assert lines[0] == f"{path}: invalid; nothing was applied"
        assert lines[2] == "3 problem(s):"  # the trades limit, and max_drawdown_pct in each VA
        problems = [line.strip() for line in lines[3:]]
        assert len(problems) == 3, problems
        assert any("risk.max_trades_per_day" in line for line in problems)
        assert any("accounts[0].limits.max_drawdown_pct" in line for line in problems)
        assert any("accounts[1].limits.max_drawdown_pct" in line for line in problems)
        assert engine.config is before


async def test_a_missing_file_is_one_problem_line(engine: FakeEngine, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    app = EngineApp(engine, flush_interval_s=FAST, config_path=missing)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_config(app, pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: "invalid" in screen.result_text)
        assert screen.result_text.splitlines()[-1].strip() == f"{missing}: file not found"


async def test_without_a_config_path_r_reloads_nothing(engine: FakeEngine) -> None:
    app = EngineApp(engine, flush_interval_s=FAST)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_config(app, pilot)
        await pilot.press("R")
        await pilot.pause()
        assert engine.calls_named("reload_config") == []
        assert "Not reloaded yet" in screen.result_text
