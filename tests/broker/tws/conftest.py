"""Fixtures for the simulated-TWS tests: a server on a free loopback port (stopped at teardown)
and ib_async clients connected to it (disconnected at teardown).

The server runs at 20x real time with a one-second market step, so the market steps about
20 times a wall second; every wait in these tests is bounded (see ``tws_support``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from ib_async import IB
from tws_support import START, SYMBOLS, Connect, bounded

from broker.tws.server import TwsSimServer


@pytest.fixture
def make_server() -> Iterator[Callable[..., TwsSimServer]]:
    """Build and start servers on free ports; every one is stopped at teardown."""
    servers: list[TwsSimServer] = []

    def build(**options: Any) -> TwsSimServer:
        server = TwsSimServer(
            "127.0.0.1",
            0,
            symbols=options.pop("symbols", SYMBOLS),
            seed=options.pop("seed", 7),
            start=options.pop("start", START),
            speed=options.pop("speed", 20.0),
            tick_interval_s=options.pop("tick_interval_s", 1.0),
            **options,
        )
        servers.append(server)
        server.start()
        return server

    yield build
    for server in servers:
        server.stop()


@pytest.fixture
def tws(make_server: Callable[..., TwsSimServer]) -> TwsSimServer:
    """One running server with the default symbols."""
    return make_server()


@pytest.fixture
async def connect(tws: TwsSimServer) -> AsyncIterator[Connect]:
    """Connect ib_async clients to ``tws`` (``await connect(client_id=1)``); all are
    disconnected at teardown."""
    clients: list[IB] = []

    async def open_client(client_id: int = 1, server: TwsSimServer | None = None) -> IB:
        ib = IB()
        clients.append(ib)
        target = server or tws
        await bounded(ib.connectAsync("127.0.0.1", target.port, clientId=client_id, timeout=4))
        return ib

    yield open_client
    for ib in clients:
        ib.disconnect()
