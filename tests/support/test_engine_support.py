"""The engine test support: every started engine is stopped, and the typed simulator handle."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from broker.sim.broker import SimBroker
from engine.engine import Engine
from tests.support.engine import StartedEngines, sim_broker, start_engine


class _Stoppable:
    """Stands in for an engine: records when it is stopped, and can fail to stop."""

    def __init__(self, name: str, stops: list[str], *, fails: bool = False) -> None:
        self.name = name
        self.stops = stops
        self.fails = fails

    def stop(self, timeout_s: float = 5.0) -> None:
        self.stops.append(self.name)
        if self.fails:
            raise RuntimeError(f"{self.name} did not stop")


def _track(started: StartedEngines, stand_in: _Stoppable) -> None:
    started.track(cast(Engine, stand_in))


def test_stop_all_stops_every_tracked_engine_newest_first_and_then_forgets_them() -> None:
    stops: list[str] = []
    started = StartedEngines()
    _track(started, _Stoppable("first", stops))
    _track(started, _Stoppable("second", stops))
    started.stop_all()
    assert stops == ["second", "first"]
    started.stop_all()
    assert stops == ["second", "first"]


def test_an_engine_that_fails_to_stop_does_not_leave_the_others_running() -> None:
    stops: list[str] = []
    started = StartedEngines()
    _track(started, _Stoppable("first", stops))
    _track(started, _Stoppable("broken", stops, fails=True))
    with pytest.raises(RuntimeError, match="broken did not stop"):
        started.stop_all()
    assert stops == ["broken", "first"]


def test_an_engine_the_test_already_stopped_is_stopped_again_without_error(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    sim.engine.stop()
    started = StartedEngines()
    started.track(sim.engine)
    started.stop_all()
    assert sim.engine.done.is_set()


def test_the_simulator_handle_is_the_engines_sim_broker(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    assert isinstance(sim_broker(sim.engine), SimBroker)
    assert sim.broker is sim.engine.broker


class _NotASimulator:
    """Wraps the simulator: the engine runs, but not on a ``SimBroker``."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_the_simulator_handle_fails_for_an_engine_on_another_broker(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, broker_factory=lambda engine: _NotASimulator(engine.broker))
    with pytest.raises(AssertionError, match="not SimBroker"):
        sim_broker(sim.engine)
