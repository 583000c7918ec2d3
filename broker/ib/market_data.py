"""``MarketData``: counted quote subscriptions, coalesced ticks, resubscription and option
chains (ib-loop thread only).

Ticks are coalesced per contract: ib_async reports every batch of updated tickers; the latest
quote of each contract waits in ``_pending`` and a flush delivers at most one quote per contract
per ``quote_interval_clock_s`` of engine time (the interval is converted to wall time with the
clock's speed, so a 60x session against ``tws-sim --speed 60`` coalesces over the same slice of
simulated time as a real-time session). A quote is stamped with the engine time it was received
(TWS sends no exchange time for bid and ask).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime

from ib_async import Contract as IbContract
from ib_async import ContractDetails, Ticker
from loguru import logger

from broker.base import Contract, Quote
from broker.ib.clock_follow import follow_broker_time
from broker.ib.context import IbContext
from broker.ib.parsing.contracts import to_ib_contract
from broker.ib.parsing.market import ChainWindow, chain_contracts, quote_from_ticker
from broker.ib.resilience import StaleWatchdog
from broker.ib.ticks import TickBook

__all__ = ["MarketData"]

#: Generic ticks for option subscriptions: 101 = open interest (greeks come by default).
_OPTION_TICKS = "101"


@dataclass(slots=True)
class _Subscription:
    contract: Contract
    count: int = 0
    ticker: Ticker | None = None
    ib_contract: IbContract | None = None
    starting: bool = False


#: How long a contract IB did not know is not asked for again (wall seconds).
_UNKNOWN_FOR_S = 600.0


@dataclass(slots=True)
class _ChainCache:
    at: datetime  # engine clock
    mono: float  # wall (monotonic) seconds
    quotes: list[Quote] = field(default_factory=list)


def _only(found: list[ContractDetails], sec_type: str) -> ContractDetails | None:
    """The one contract details of that security type, None if none or ambiguous."""
    matching = [d for d in found if d.contract is not None and d.contract.secType == sec_type]
    return matching[0] if len(matching) == 1 else None


class MarketData:
    def __init__(self, ctx: IbContext, watchdog: StaleWatchdog) -> None:
        self.ctx = ctx
        self.watchdog = watchdog
        self.ticks = TickBook(ctx)
        self._subs: dict[str, _Subscription] = {}
        self._by_con_id: dict[int, str] = {}
        self._pending: dict[str, Quote] = {}
        self._last: dict[str, Quote] = {}
        self._flush_at: float | None = None
        self._last_flush = 0.0
        self._chains: dict[tuple[object, ...], _ChainCache] = {}
        # Contract keys IB answered "no security definition", with when (IB adds strikes
        # during the day, so a refusal is remembered for ``_UNKNOWN_FOR_S`` only).
        self._unknown: dict[str, float] = {}
        self._scanning = asyncio.Lock()  # one chain scan at a time: each ends within its budget
        self.delivered = 0
        self.received = 0

    # -- subscriptions --------------------------------------------------------------------------
    def subscribe(self, contracts: list[Contract]) -> None:
        for contract in contracts:
            sub = self._subs.setdefault(contract.key, _Subscription(contract))
            sub.count += 1
            if sub.count == 1:
                if not contract.is_option:
                    self.watchdog.reset(self.ctx.clock.now())  # silence counts from now
                self._start(sub)

    def unsubscribe(self, contracts: list[Contract]) -> None:
        for contract in contracts:
            sub = self._subs.get(contract.key)
            if sub is None:
                continue
            sub.count -= 1
            if sub.count <= 0:
                del self._subs[contract.key]
                if sub.ib_contract is not None and self.ctx.ib.isConnected():
                    self.ctx.ib.cancelMktData(sub.ib_contract)

    def resubscribe(self, *, data_lost: bool) -> None:
        """Request every subscription again: after a reconnect (ib_async forgot every ticker)
        or after 1101 (IB dropped them). The watchdog starts counting afresh."""
        self.watchdog.reset(self.ctx.clock.now())
        for sub in self._subs.values():
            if data_lost and sub.ib_contract is not None and self.ctx.ib.isConnected():
                self.ctx.ib.cancelMktData(sub.ib_contract)
            sub.ticker = None
            self._start(sub)

    def retry_request(self, req_id: int) -> bool:
        """A market-data request IB refused (pacing, not subscribed): request it again after
        the pause; False if ``req_id`` is not one of ours."""
        ticker = self.ctx.ib.wrapper.reqId2Ticker.get(req_id)
        key = self._by_con_id.get(ticker.contract.conId) if ticker and ticker.contract else None
        sub = self._subs.get(key) if key else None
        if sub is None:
            return False
        if self.ctx.ib.isConnected() and sub.ib_contract is not None:
            self.ctx.ib.cancelMktData(sub.ib_contract)
        sub.ticker = None
        self._start(sub)
        return True

    def contracts(self) -> list[Contract]:
        return [sub.contract for sub in self._subs.values()]

    def last_quote(self, key: str) -> Quote | None:
        return self._last.get(key)

    def _start(self, sub: _Subscription) -> None:
        if not sub.starting:
            sub.starting = True
            asyncio.get_running_loop().create_task(
                self._request(sub), name=f"md-{sub.contract.key}"
            )

    async def _request(self, sub: _Subscription) -> None:
        try:
            # A subscription is not spaced by the data budget: there are few (one per contract
            # watched) and quotes must flow at once after a (re)connect; the budget is for the
            # bulk of chain scans.
            contract = await self.qualify(sub.contract, budgeted=False)
            if contract is None or self._subs.get(sub.contract.key) is not sub:
                return
            await self.ctx.paced()
            if not self.ctx.ib.isConnected():
                return  # the reconnect resubscribes
            ticks = _OPTION_TICKS if sub.contract.is_option else ""
            sub.ticker = self.ctx.ib.reqMktData(contract, ticks)
            sub.ib_contract = contract
            self._by_con_id[contract.conId] = sub.contract.key
        except Exception:
            logger.exception("ib: market data request for {} failed", sub.contract.key)
        finally:
            sub.starting = False

    async def qualify(self, contract: Contract, *, budgeted: bool = True) -> IbContract | None:
        """IB's contract (with conId) for ours, cached; None if IB does not know it."""
        known = self.ctx.qualified.get(contract.key)
        if known is not None:
            return known
        refused_at = self._unknown.get(contract.key)
        if refused_at is not None and self.ctx.mono() - refused_at < _UNKNOWN_FOR_S:
            return None  # asked lately: IB lists no such contract (a strike not at this expiry)
        await (self.ctx.data_slot() if budgeted else self.ctx.paced())
        # Contract details, not qualifyContracts: the details also carry the price
        # increments (minTick, marketRuleIds), which the tick book keeps for the contract.
        wanted = to_ib_contract(contract)
        found = await self.ctx.bounded(
            self.ctx.ib.reqContractDetailsAsync(wanted), f"qualify {contract.key}"
        )
        details = _only(found, wanted.secType)
        result = details.contract if details is not None else None
        if details is None or result is None or not result.conId:
            logger.warning("ib: IB does not know {}", contract.key)
            self._unknown[contract.key] = self.ctx.mono()
            return None
        if wanted.exchange == "SMART":
            result.exchange = "SMART"  # as qualifyContracts does: keep SMART routing
        self.ctx.qualified[contract.key] = result
        await self.ticks.learn(contract, details)
        return result

    # -- ticks ----------------------------------------------------------------------------------
    def on_pending_tickers(self, tickers: set[Ticker]) -> None:
        stamps = [t.lastTimestamp for t in tickers if t.lastTimestamp is not None]
        follow_broker_time(self.ctx.clock, max(stamps, default=None), source="last trade time")
        now = self.ctx.clock.now()
        for ticker in tickers:
            key = self._by_con_id.get(ticker.contract.conId) if ticker.contract else None
            sub = self._subs.get(key) if key else None
            if sub is None:
                continue
            quote = quote_from_ticker(ticker, sub.contract, time=now)
            if quote is None:
                continue
            self.received += 1
            self._pending[sub.contract.key] = quote
            self._last[sub.contract.key] = quote
            if not sub.contract.is_option:
                self.watchdog.quote(now)
        if self._pending:
            self._schedule_flush()

    def _interval_s(self) -> float:
        speed = self.ctx.clock.speed or 1.0
        return self.ctx.options.quote_interval_clock_s / speed

    def _schedule_flush(self) -> None:
        if self._flush_at is not None:
            return
        loop = asyncio.get_running_loop()
        due = self._last_flush + self._interval_s()
        if loop.time() >= due:
            self.flush()
        else:
            self._flush_at = due
            loop.call_at(due, self.flush)

    def flush(self) -> None:
        """Deliver the latest quote of every contract that ticked since the last flush."""
        self._flush_at = None
        self._last_flush = asyncio.get_running_loop().time()
        pending, self._pending = self._pending, {}
        for quote in pending.values():
            self.delivered += 1
            self.ctx.emitter.quote(quote)

    # -- option chains --------------------------------------------------------------------------
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
        underlying = await self.qualify(Contract.stock(symbol))
        if underlying is None:
            return []
        await self.ctx.data_slot()
        chains = await self.ctx.bounded(
            self.ctx.ib.reqSecDefOptParamsAsync(symbol, "", "STK", underlying.conId),
            f"option chain of {symbol}",
        )
        spot_quote = self._last.get(symbol)
        spot = spot_quote.mid if spot_quote else None
        wanted = chain_contracts(chains, symbol, spot, window)
        quotes = await self._snapshot_quotes(wanted, wait_s) if wanted else []
        self._chains[key] = _ChainCache(now, self.ctx.mono(), quotes)
        return quotes

    async def _snapshot_quotes(self, wanted: list[Contract], wait_s: float) -> list[Quote]:
        ib = self.ctx.ib
        qualified = [(c, await self.qualify(c)) for c in wanted]
        streams: list[tuple[Contract, Ticker]] = []
        own: list[IbContract] = []
        try:
            for contract, ib_contract in qualified:
                sub = self._subs.get(contract.key)
                if sub is not None and sub.ticker is not None:
                    streams.append((contract, sub.ticker))  # already streaming: read it
                elif ib_contract is not None:
                    await self.ctx.data_slot()
                    ticker = ib.reqMktData(ib_contract, _OPTION_TICKS)
                    own.append(ib_contract)
                    streams.append((contract, ticker))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while loop.time() < deadline and not all(
                t.modelGreeks is not None and t.bid > 0 for _, t in streams
            ):
                await asyncio.sleep(0.05)
        finally:
            # Also when the caller gave up (timeout): no market-data line is left open.
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
