"""End to end: the dashboard over ``RemoteEngine``, attached through the real control server of a
real engine (simulator, max-speed clock driven by the test) on a real Unix socket."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.config import ControlSettings, EngineConfig
from core.domain import TradingState
from core.gate import GateState
from tests.support.engine import BASE_TOML, SimEngine, make_config, start_engine
from tests.tui.fakes import RecordingApp, wait_for
from tui import EngineApp
from tui.attached import LinkBanner
from tui.config_screen import ConfigScreen
from tui.inspector import InspectorScreen
from tui.remote import RemoteEngine

FAST = 0.05
REFUSAL = "read-only viewer: attach without --read-only to trade"


def served(config: EngineConfig | None = None) -> EngineConfig:
    """``config`` serving the control channel with a fast tick."""
    control = ControlSettings.model_validate({"flush_interval_s": 0.02})
    return (config or make_config()).model_copy(update={"control": control})


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tui", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def remotes() -> Iterator[list[RemoteEngine]]:
    opened: list[RemoteEngine] = []
    yield opened
    for remote in opened:
        remote.close()


def attach(remotes: list[RemoteEngine], sim: SimEngine, **kwargs: Any) -> RemoteEngine:
    assert sim.engine.control is not None
    remote = RemoteEngine(sim.engine.control.path, reconnect_s=0.05, **kwargs)
    remotes.append(remote)
    remote.start()
    remote.wait_attached(5)
    return remote


def position_keys(positions: Any) -> set[tuple[str, str, int]]:
    return {(p.va_id, p.contract.symbol, p.quantity) for p in positions}


async def test_the_attached_dashboard_shows_what_the_engine_holds_and_h_closes_its_gate(
    short_dir: Path, remotes: list[RemoteEngine]
) -> None:
    sim = start_engine(short_dir, served())
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)  # filled: a position and its protective stop
    app = RecordingApp(attach(remotes, sim), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        held = sim.snapshot("position_monitor")
        await wait_for(pilot, lambda: position_keys(app.positions) == position_keys(held))
        assert position_keys(held) == {("va1", "AAPL", 10)}
        orders = sim.engine.working_orders(timeout_s=5)
        await wait_for(pilot, lambda: set(app.working_orders) == set(orders))
        assert [o.purpose.value for o in orders] == ["stop"]
        await wait_for(pilot, lambda: app.va_snapshot("va2") is not None)
        assert app.va_snapshot("va1") == sim.snapshot("va:va1")

        sim.signal("va2", "JPM", quantity=5)
        await asyncio.to_thread(sim.advance, 10)
        await wait_for(pilot, lambda: ("va2", "JPM", 5) in position_keys(app.positions))

        await pilot.press("h")
        await wait_for(pilot, lambda: sim.engine.gate.state is GateState.CLOSED)
        assert sim.engine.gate.reason.startswith("halt key (by ")
        await wait_for(pilot, lambda: "Halt confirmed: the gate is closed" in app.told)


async def test_the_inspector_shows_the_vas_inspection_over_the_socket(
    short_dir: Path, remotes: list[RemoteEngine]
) -> None:
    sim = start_engine(short_dir, served())
    app = EngineApp(attach(remotes, sim), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.selected_va == "va1")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        await wait_for(pilot, lambda: screen.inspection is not None, timeout_s=5)
        assert screen.inspection is not None
        assert screen.inspection.snapshot.va_id == "va1"
        assert dict(screen.inspection.config)["id"] == "va1"
        assert screen.answer_line.startswith("live: answered at")
        # Issue 17: the messages handled by type, in engine time, over the socket too.
        assert "QuotesReady" in {s.name for s in screen.inspection.handled_stats}


async def test_a_config_reload_from_the_attached_dashboard_applies_the_change(
    short_dir: Path, remotes: list[RemoteEngine]
) -> None:
    sim = start_engine(short_dir, served())
    config_file = short_dir / "engine.toml"
    changed = {"risk": "max_trades_per_day = 7", "filters": "", "exits": "", "limits": ""}
    text = BASE_TOML.format(orders="", **changed)
    config_file.write_text(text + "\n[control]\nflush_interval_s = 0.02\n", encoding="utf-8")
    sim.engine.options = replace(sim.engine.options, config_path=str(config_file))
    app = EngineApp(attach(remotes, sim), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        assert "risk.max_trades_per_day = 10" in screen.config_text
        assert "sim.starting_cash = 1000000\n" in screen.config_text  # a number, not a string
        await pilot.press("R")
        await wait_for(pilot, lambda: "1 change(s) applied live" in screen.result_text, timeout_s=5)
        assert "risk.max_trades_per_day: 10 -> 7" in screen.result_text
        assert "risk.max_trades_per_day = 7" in screen.config_text
        assert sim.engine.config.risk.max_trades_per_day == 7


async def test_a_read_only_viewer_beside_a_trader_cannot_halt(
    short_dir: Path, remotes: list[RemoteEngine]
) -> None:
    sim = start_engine(short_dir, served())
    viewer = attach(remotes, sim, read_only=True)
    app = RecordingApp(viewer, flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.va_snapshot("va1") is not None)
        await pilot.press("h")
        assert app.told == [REFUSAL]
        viewer.halt("sent anyway")  # past the dashboard: the engine refuses it too
        await wait_for(pilot, lambda: len(app.told) == 2)
        assert app.told[1].startswith("Halt refused by the engine: ")
        assert sim.engine.gate.state is GateState.OPEN


async def test_the_dashboard_says_when_the_engine_stops_and_reattaches_when_it_is_back(
    short_dir: Path, remotes: list[RemoteEngine]
) -> None:
    sim = start_engine(short_dir, served())
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)
    assert sim.engine.control is not None
    path = sim.engine.control.path
    app = RecordingApp(attach(remotes, sim), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: ("va1", "AAPL", 10) in position_keys(app.positions))
        banner = app.query_one("#link-banner", LinkBanner)

        await asyncio.to_thread(sim.engine.stop)

        await wait_for(pilot, lambda: banner.text.startswith(f"engine not running at {path}:"))
        assert app.query_one("#body").has_class("-stale")
        assert ("va1", "AAPL", 10) in position_keys(app.positions)  # the last state, kept

        again = await asyncio.to_thread(start_engine, short_dir, served())
        assert again.engine.control is not None and again.engine.control.path == path

        await wait_for(pilot, lambda: not banner.display, timeout_s=5)
        assert f"Reattached to the engine at {path}." in app.told
        held = again.snapshot("position_monitor")
        await wait_for(pilot, lambda: position_keys(app.positions) == position_keys(held))
        assert not app.query_one("#body").has_class("-stale")


async def test_the_attached_dashboards_keys_send_who_asked_and_the_engine_journals_it(
    short_dir: Path, remotes: list[RemoteEngine], alice: str
) -> None:
    sim = start_engine(short_dir, served())
    app = RecordingApp(attach(remotes, sim), flush_interval_s=FAST)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.trading_state is TradingState.ACTIVE)
        await pilot.press("h")
        await wait_for(pilot, lambda: "Halt confirmed: the gate is closed" in app.told)
        assert sim.engine.gate.reason == "halt key (by alice, dashboard)"
        await asyncio.to_thread(sim.idle)
        await wait_for(pilot, lambda: app.trading_state is TradingState.HALTED)
        await pilot.press("r", "y")
        await wait_for(pilot, lambda: "Resume confirmed by the engine" in app.told)
        await asyncio.to_thread(sim.idle)
        await wait_for(pilot, lambda: app.trading_state is TradingState.ACTIVE)
        await pilot.press("f", "y")
        await wait_for(pilot, lambda: any(t.startswith("Flatten confirmed") for t in app.told))
        await asyncio.to_thread(sim.idle)
    reasons = [e.reason for e in sim.ledger.risk_events() if e.kind == "state"]
    assert "halt key (by alice, dashboard)" in reasons
    assert "resume key (by alice, dashboard)" in reasons
    assert any("flatten key (by alice, dashboard)" in r for r in reasons), reasons
