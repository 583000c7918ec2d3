"""Fixtures for the IB adapter tests: simulated TWS servers and adapters connected to them;
every one is stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ib_support import Harness, make_server

from broker.tws.server import TwsSimServer
from engine.engine import Engine


@pytest.fixture
def servers() -> Iterator[Callable[..., TwsSimServer]]:
    started: list[TwsSimServer] = []

    def build(**options: Any) -> TwsSimServer:
        server = make_server(**options)
        started.append(server)
        return server

    yield build
    for server in started:
        server.stop()


@pytest.fixture
def tws(servers: Callable[..., TwsSimServer]) -> TwsSimServer:
    return servers()


@pytest.fixture
def harness(tws: TwsSimServer) -> Iterator[Callable[..., Harness]]:
    """``harness(**options)``: an adapter connected to ``tws`` (not yet started)."""
    made: list[Harness] = []

    def build(server: TwsSimServer | None = None, **options: Any) -> Harness:
        h = Harness(server or tws, **options)
        made.append(h)
        return h

    yield build
    for h in made:
        h.stop()


@pytest.fixture
def engine_servers() -> Iterator[list[TwsSimServer]]:
    """Simulated TWS servers an engine test started itself, stopped at teardown."""
    made: list[TwsSimServer] = []
    yield made
    for server in made:
        server.stop()


@pytest.fixture
def engines(engine_servers: list[TwsSimServer]) -> Iterator[list[Engine]]:
    """Engines to stop at teardown, before their servers (stop is idempotent)."""
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.stop()
