"""Fixtures of the control-channel tests: a short socket directory (Unix socket paths are limited
to 107 bytes; pytest's tmp_path may be longer), an engine serving the channel, raw clients."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.config import ControlSettings, EngineConfig
from tests.support.control_wire import RawClient
from tests.support.engine import SimEngine, make_config, start_engine


def control_config(config: EngineConfig | None = None, **control: object) -> EngineConfig:
    """``config`` (the engine tests' default) with ``[control]`` set as given (a fast tick)."""
    config = config or make_config()
    settings = {"flush_interval_s": 0.02, **control}
    return config.model_copy(update={"control": ControlSettings.model_validate(settings)})


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A fresh directory under /tmp with a short path, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def clients() -> Iterator[list[RawClient]]:
    """Raw clients the test opened (append them): closed in teardown."""
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        client.close()


@pytest.fixture
def serve(short_dir: Path) -> Callable[..., SimEngine]:
    """``serve(**control)`` starts an engine on the simulator in ``short_dir`` serving the
    control channel (stopped by the suite's teardown)."""

    def start(config: EngineConfig | None = None, **control: object) -> SimEngine:
        return start_engine(short_dir, control_config(config, **control))

    return start
