"""``ChainScanner``: option chain scans for ``MarketData`` (ib-loop thread only).

A scan reads the chain definition (``reqSecDefOptParams``), picks the strikes near the spot,
qualifies them and streams each for a moment (bid/ask and IB's model greeks; open interest
needs a stream, not a snapshot). Every request waits for its turn in the data budget. Lines are
counted: a scan asks only for the lines the subscriptions leave free of
``broker.ib.market_data_lines`` (minus ``SCAN_RESERVE`` for subscriptions that may start
meanwhile), and a 101 on any of its lines fails the whole scan (empty, not cached, reported as
``BrokerNotice("market_data_lines")``): never a silently partial chain (QuantConnect/
Lean.Brokerages.InteractiveBrokers PR #79 for the 100-line default and error 101).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from ib_async import Contract as IbContract
from ib_async import Ticker
from loguru import logger

from broker.ib.parsing.market import ChainWindow, chain_contracts, quote_from_ticker
from core.domain import Contract, Quote
from core.events import BrokerNotice

if TYPE_CHECKING:
    from broker.ib.context import IbContext

__all__ = ["OPTION_TICKS", "SCAN_RESERVE", "ChainScanner", "ScanMarket"]

#: Generic ticks for option subscriptions: 101 = open interest (greeks come by default).
OPTION_TICKS = "101"
#: Lines a chain scan leaves free for subscriptions that may start meanwhile.
SCAN_RESERVE = 5


class ScanMarket(Protocol):
    """What a chain scan reads of the market-data desk that owns it (``MarketData``)."""

    ctx: IbContext

    def lines_in_use(self) -> int: ...

    async def qualify(self, contract: Contract, *, budgeted: bool = True) -> IbContract | None: ...

    def streaming(self, key: str) -> Ticker | None: ...

    def spot(self, symbol: str) -> float | None: ...


@dataclass(slots=True)
class _ChainCache:
    at: datetime  # engine clock
    mono: float  # wall (monotonic) seconds
    quotes: list[Quote] = field(default_factory=list)


class ChainScanner:
    """Scans one chain at a time for ``market`` (whose subscriptions and quotes it reads)."""

    def __init__(self, market: ScanMarket) -> None:
        self.market = market
        self.ctx = market.ctx
        self._chains: dict[tuple[object, ...], _ChainCache] = {}
        self._scanning = asyncio.Lock()  # one chain scan at a time: each ends within its budget
        self.tickers: list[Ticker] = []  # the running scan's own lines
        self.refused: list[str] = []  # contracts of the running scan IB refused (101)
        self.failures = 0

    def owns(self, ticker: Ticker) -> bool:
        """Whether ``ticker`` is one of the running scan's lines."""
        return any(t is ticker for t in self.tickers)

    async def option_chain(
        self,
        symbol: str,
        *,
        right: str | None,
        min_expiry: date | None,
        max_expiry: date | None,
        wait_s: float = 2.0,
    ) -> list[Quote]:
        """Quotes with greeks for ``symbol``'s listed options in the window: the chain from
        ``reqSecDefOptParams``, the strikes near the spot, contract details to qualify them,
        then streaming market data (``wait_s`` for bid/ask and IB's model greeks; open interest
        needs a streaming request, not a snapshot). Every request waits for its turn in the
        data budget (``IbContext.data_slot``). Cached per (symbol, right, window) while younger
        than ``chain_cache_clock_s`` clock seconds or ``chain_cache_wall_s`` wall seconds."""
        options = self.ctx.options
        key = (symbol, right, min_expiry, max_expiry)
        async with self._scanning:  # scans run one after another, each within the budget
            now = self.ctx.clock.now()
            cached = self._chains.get(key)
            if cached is not None and (
                (now - cached.at).total_seconds() < options.chain_cache_clock_s
                or self.ctx.mono() - cached.mono < options.chain_cache_wall_s
            ):
                return cached.quotes
            return await self._scan(
                key,
                symbol,
                ChainWindow(right=right, min_expiry=min_expiry, max_expiry=max_expiry),
                wait_s,
            )

    async def _scan(
        self, key: tuple[object, ...], symbol: str, window: ChainWindow, wait_s: float
    ) -> list[Quote]:
        now = self.ctx.clock.now()
        underlying = await self.market.qualify(Contract.stock(symbol))
        if underlying is None:
            return []
        await self.ctx.data_slot()
        chains = await self.ctx.bounded(
            self.ctx.ib.reqSecDefOptParamsAsync(symbol, "", "STK", underlying.conId),
            f"option chain of {symbol}",
        )
        spot = self.market.spot(symbol)
        wanted = self._within_lines(symbol, chain_contracts(chains, symbol, spot, window))
        if wanted is None:
            return []
        quotes = await self._snapshot_quotes(wanted, wait_s) if wanted else []
        refused, self.refused = self.refused, []
        if refused:
            self._failed(
                symbol,
                f"IB refused {len(refused)} of its {len(wanted)} lines with 101 (max number of "
                f"tickers) with {self.market.lines_in_use()} lines in use",
            )
            return []
        self._chains[key] = _ChainCache(now, self.ctx.mono(), quotes)
        return quotes

    def _within_lines(self, symbol: str, wanted: list[Contract]) -> list[Contract] | None:
        """``wanted`` cut to the lines left free (nearest the money first: the list's order);
        None, reported as a failed scan, when no line is free."""
        streaming = {c.key for c in wanted if self.market.streaming(c.key) is not None}
        free = self.ctx.options.market_data_lines - self.market.lines_in_use() - SCAN_RESERVE
        new = [c for c in wanted if c.key not in streaming]
        if new and free <= 0:
            self._failed(
                symbol,
                f"no market-data line free ({self.market.lines_in_use()} in use of "
                f"broker.ib.market_data_lines = {self.ctx.options.market_data_lines})",
            )
            return None
        if len(new) <= free:
            return wanted
        keep = {c.key for c in new[:free]}
        logger.info(
            "ib: chain of {}: {} of {} contracts fit in the {} free lines",
            symbol,
            free,
            len(new),
            free,
        )
        return [c for c in wanted if c.key in streaming or c.key in keep]

    def _failed(self, symbol: str, why: str) -> None:
        self.failures += 1
        text = f"option chain scan of {symbol} failed: {why}"
        logger.error("ib: {}", text)
        self.ctx.emitter.event(BrokerNotice("market_data_lines", text, self.ctx.clock.now(), 101))

    async def _snapshot_quotes(self, wanted: list[Contract], wait_s: float) -> list[Quote]:
        ib = self.ctx.ib
        qualified = [(c, await self.market.qualify(c)) for c in wanted]
        streams: list[tuple[Contract, Ticker]] = []
        own: list[IbContract] = []
        try:
            for contract, ib_contract in qualified:
                running = self.market.streaming(contract.key)
                if running is not None:
                    streams.append((contract, running))  # already streaming: read it
                elif ib_contract is not None:
                    await self.ctx.data_slot()
                    ticker = ib.reqMktData(ib_contract, OPTION_TICKS)
                    own.append(ib_contract)
                    self.tickers.append(ticker)
                    streams.append((contract, ticker))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while (
                loop.time() < deadline
                and not self.refused
                and not all(t.modelGreeks is not None and t.bid > 0 for _, t in streams)
            ):
                await asyncio.sleep(0.05)
        finally:
            # Also when the caller gave up (timeout): no market-data line is left open.
            self.tickers = []
            for ib_contract in own:
                if ib.isConnected():
                    ib.cancelMktData(ib_contract)
        now = self.ctx.clock.now()
        quotes = []
        for contract, ticker in streams:
            quote = quote_from_ticker(ticker, contract, time=now)
            if quote is not None:
                quotes.append(quote)
        return quotes
