"""Helpers shared by the IB adapter tests (imported by name: this directory is on sys.path while
its tests run, and the module name is unique in the tree).

Every wait is bounded (``wait_until``); servers listen on loopback ports chosen by the OS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from broker.ib import IBBroker, IbOptions
from broker.sim import SimSymbol
from broker.tws.server import TwsSimServer
from core.clock import VirtualClock
from core.domain import Contract, OrderRequest, OrderType, Quote, Side
from core.gate import GateState, TradingGate
from tests.support.recorder import Recorder

TZ = ZoneInfo("America/New_York")
#: A Wednesday, half an hour after the open.
START = datetime(2024, 3, 13, 10, 0, tzinfo=TZ)
SYMBOLS = {
    "AAPL": SimSymbol("AAPL", price=190.0, volatility=0.25, spread_bps=1.0, display_size=500),
    "MSFT": SimSymbol("MSFT", price=400.0, volatility=0.20, spread_bps=2.0, display_size=300),
}
SPEED = 20.0
WAIT_S = 5.0
T = TypeVar("T")

#: Fast options for tests: short reconnect backoff, short waits.
FAST = {
    "reconnect_base_s": 0.2,
    "reconnect_cap_s": 1.0,
    "connect_timeout_s": 3.0,
    "request_timeout_s": 5.0,
    "commission_wait_s": 2.0,
    "status_wait_s": 2.0,
}


def wait_until(predicate: Callable[[], T], timeout_s: float = WAIT_S, what: str = "condition") -> T:
    """Poll ``predicate`` every 20 ms until it is truthy (returned); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


def make_server(**options: Any) -> TwsSimServer:
    server = TwsSimServer(
        "127.0.0.1",
        options.pop("port", 0),
        symbols=options.pop("symbols", SYMBOLS),
        seed=options.pop("seed", 7),
        start=options.pop("start", START),
        speed=options.pop("speed", SPEED),
        tick_interval_s=options.pop("tick_interval_s", 1.0),
        **options,
    )
    server.start()
    return server


class Harness:
    """An IBBroker on a virtual clock anchored at the server's time, with a recorder."""

    def __init__(self, server: TwsSimServer, *, gate: GateState = GateState.OPEN, **opts: Any):
        values = {**FAST, **opts}
        self.server = server
        self.gate = TradingGate(gate, "test")
        self.calendar = server.calendar
        options = IbOptions(port=server.port, client_id=values.pop("client_id", 5), **values)
        self.broker = IBBroker(options, gate=self.gate, calendar=self.calendar)
        now = self.broker.connect()
        self.clock = VirtualClock(TZ, now, server_speed(server))
        self.broker.use_clock(self.clock)
        self.recorder = Recorder()

    def start(self, *symbols: str) -> Harness:
        self.broker.start(self.recorder)
        if symbols:
            self.broker.subscribe_quotes([Contract.stock(s) for s in symbols])
            wait_until(lambda: self.recorder.quotes, what="the first quotes")
        return self

    def stop(self) -> None:
        self.broker.stop()
        self.clock.stop()

    def quote(self, symbol: str = "AAPL") -> Quote:
        quote = self.server.last_quote(symbol)
        assert quote is not None
        return quote


def server_speed(server: TwsSimServer) -> float:
    return float(server._settings.speed)


def limit(
    cid: str, side: Side, price: float, quantity: int = 100, symbol: str = "AAPL", **kw: Any
) -> OrderRequest:
    return OrderRequest(
        cid,
        Contract.stock(symbol),
        side,
        OrderType.LMT,
        quantity,
        limit_price=Decimal(str(round(price, 2))),
        **kw,
    )


def stop(cid: str, side: Side, price: float, quantity: int = 100, **kw: Any) -> OrderRequest:
    return OrderRequest(
        cid,
        Contract.stock("AAPL"),
        side,
        OrderType.STP,
        quantity,
        stop_price=Decimal(str(round(price, 2))),
        reduce_only=True,
        tif="GTC",
        **kw,
    )


def other_client(server: TwsSimServer, work: Callable[[Any], Any], client_id: int = 99) -> Any:
    """Run ``await work(ib)`` with a second ib_async client (its own loop, in this thread),
    then disconnect it."""
    import asyncio

    from ib_async import IB

    async def run() -> Any:
        ib = IB()
        await asyncio.wait_for(
            ib.connectAsync("127.0.0.1", server.port, clientId=client_id, timeout=4), WAIT_S
        )
        try:
            return await asyncio.wait_for(work(ib), WAIT_S)
        finally:
            ib.disconnect()

    return asyncio.run(run())


def all_open_orders(server: TwsSimServer) -> list[Any]:
    """Every working order at the server (any client), as ib_async ``Trade`` objects."""

    async def read(ib: Any) -> list[Any]:
        return list(await ib.reqAllOpenOrdersAsync())

    return other_client(server, read)
