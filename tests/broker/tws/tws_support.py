"""Helpers shared by the simulated-TWS tests (imported by name: this directory is on sys.path
while its tests run, and the module name is unique in the tree)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ib_async import IB, Stock

from broker.sim import SimSymbol

TZ = ZoneInfo("America/New_York")
#: A Wednesday, half an hour after the open.
START = datetime(2024, 3, 13, 10, 0, tzinfo=TZ)
SYMBOLS = {
    "AAPL": SimSymbol("AAPL", price=190.0, volatility=0.25, spread_bps=1.0, display_size=500),
    "MSFT": SimSymbol("MSFT", price=400.0, volatility=0.20, spread_bps=2.0, display_size=300),
}
WAIT_S = 10.0

Connect = Callable[..., Awaitable[IB]]


async def wait_for_condition(
    predicate: Callable[[], bool], timeout_s: float = WAIT_S, what: str = "condition"
) -> None:
    """Poll ``predicate`` every 20 ms until it holds; fail after ``timeout_s``."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), timeout_s)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}") from None


async def bounded(awaitable: Awaitable[Any], timeout_s: float = WAIT_S) -> Any:
    """``await`` with a timeout (every await on a client goes through this)."""
    return await asyncio.wait_for(awaitable, timeout_s)


async def qualified(ib: IB, symbol: str = "AAPL") -> Stock:
    """The qualified stock contract of ``symbol``."""
    (contract,) = await bounded(ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD")))
    assert contract is not None
    return contract
