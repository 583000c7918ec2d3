"""``MarketData``: counted quote subscriptions, coalesced ticks, resubscription and option
chains (ib-loop thread only).

Ticks are coalesced per contract: ib_async reports every batch of updated tickers; the latest
quote of each contract waits in ``_pending`` and a flush delivers at most one quote per contract
per ``quote_interval_clock_s`` of engine time (the interval is converted to wall time with the
clock's speed, so a 60x session against ``tws-sim --speed 60`` coalesces over the same slice of
simulated time as a real-time session). A quote is stamped with the engine time it was received
(TWS sends no exchange time for bid and ask) and carries its data type (live or delayed, from
IB's ``marketDataType``); a change of the type the stock quotes come in is one
``BrokerNotice("data_type")``.

Errors about market data (``on_error``): entitlement codes become one notice per code
(``data_health.EntitlementWatch``); 101 (no line left) on a subscription is reported, on a
chain scan it fails the scan (reported, never a silently partial chain); 200 for a contract
qualified earlier (a restarted TWS that lost its conIds) drops the cached conId and requests
the contract afresh, once. Lines are counted (``lines_in_use``, the scan's included); chain
scans are ``broker.ib.chain_scan.ChainScanner``'s.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

from ib_async import Contract as IbContract
from ib_async import ContractDetails, Ticker
from loguru import logger

from broker.ib.chain_scan import OPTION_TICKS, ChainScanner
from broker.ib.clock_follow import follow_broker_time
from broker.ib.context import IbContext
from broker.ib.data_health import EntitlementWatch
from broker.ib.errors import ErrorClass, classify
from broker.ib.parsing.contracts import to_ib_contract
from broker.ib.parsing.market import quote_from_ticker
from broker.ib.resilience import StaleWatchdog
from broker.ib.ticks import TickBook
from core.domain import Contract, DataType, Quote
from core.events import BrokerNotice

__all__ = ["MarketData"]


@dataclass(slots=True)
class _Subscription:
    contract: Contract
    count: int = 0
    ticker: Ticker | None = None
    ib_contract: IbContract | None = None
    starting: bool = False
    requalified: bool = False  # asked again after a 200 (once, until a quote comes)


#: How long a contract IB did not know is not asked for again (wall seconds).
_UNKNOWN_FOR_S = 600.0
#: "Displaying delayed market data": news only when live data was asked for.
_SHOWING_DELAYED = 10167


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
        # Contract keys IB answered "no security definition", with when (IB adds strikes
        # during the day, so a refusal is remembered for ``_UNKNOWN_FOR_S`` only).
        self._unknown: dict[str, float] = {}
        self.entitlements = EntitlementWatch()
        self.data_type = DataType.LIVE  # of the stock quotes, as last reported
        self.delivered = 0
        self.received = 0
        self.scanner = ChainScanner(self)

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

    def refresh_streams(self) -> int:
        """Cancel and request every subscription again without resetting the watchdog (the
        stale-data path: it stays stale until quotes come); how many."""
        for sub in self._subs.values():
            if sub.ib_contract is not None and self.ctx.ib.isConnected():
                self.ctx.ib.cancelMktData(sub.ib_contract)
            sub.ticker = None
            self._start(sub)
        return len(self._subs)

    def lines_in_use(self) -> int:
        """Market-data lines open at IB: streaming subscriptions and the running scan's."""
        streams = sum(1 for sub in self._subs.values() if sub.ticker is not None)
        return streams + len(self.scanner.tickers)

    def on_error(self, req_id: int, code: int, text: str) -> bool:
        """A market-data error (entitlement, 101, 200); False if it is not about our data."""
        kind = classify(code)
        ticker = self.ctx.ib.wrapper.reqId2Ticker.get(req_id) if req_id > 0 else None
        in_scan = ticker is not None and self.scanner.owns(ticker)
        key = self._by_con_id.get(ticker.contract.conId) if ticker and ticker.contract else None
        sub = self._subs.get(key) if key else None
        ib_contract = ticker.contract if ticker is not None else None
        label = key or (ib_contract.localSymbol or ib_contract.symbol if ib_contract else "")
        now = self.ctx.clock.now()
        if kind is ErrorClass.MARKET_DATA:
            if code == _SHOWING_DELAYED and self.ctx.options.market_data_type.startswith("delayed"):
                logger.debug("ib: {} ({}): {}", code, label, text)  # asked for: no news
                return True
            notice = self.entitlements.on_error(code, text, str(label), now)
            if notice is not None:
                logger.warning("ib: {}", notice.text)
                self.ctx.emitter.event(notice)
            else:
                logger.debug("ib: market data {} again ({}): {}", code, label, text)
            return True
        if kind is ErrorClass.MARKET_DATA_LINES:
            if in_scan:
                self.scanner.refused.append(str(label))
                return True
            if sub is not None:
                sub.ticker = None  # no line: requested again with the next refresh
                text = (
                    f"IB 101 on {key}: {text.strip()} -- {self.lines_in_use()} lines in use "
                    f"of broker.ib.market_data_lines = {self.ctx.options.market_data_lines}: "
                    "no quotes for it (raise the limit at IB or watch fewer contracts)"
                )
                logger.error("ib: {}", text)
                self.ctx.emitter.event(BrokerNotice("market_data_lines", text, now, code))
                return True
            return False
        if kind is ErrorClass.NO_SECURITY and sub is not None:
            return self._requalify(sub)
        return False

    def _requalify(self, sub: _Subscription) -> bool:
        """200 on a subscription: the conId we cached may be one a restarted TWS no longer
        knows. Forget it and request the contract afresh, once until a quote comes."""
        key = sub.contract.key
        if sub.requalified:
            logger.warning("ib: IB does not know {} (200 again): no quotes for it", key)
            return True
        sub.requalified = True
        old = self.ctx.qualified.pop(key, None)
        if old is not None:
            self._by_con_id.pop(old.conId, None)
        self._unknown.pop(key, None)
        sub.ticker = None
        sub.ib_contract = None
        logger.warning("ib: 200 for {}: qualifying it again and resubscribing", key)
        self._start(sub)
        return True

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
            ticks = OPTION_TICKS if sub.contract.is_option else ""
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
            sub.requalified = False
            self._pending[sub.contract.key] = quote
            self._last[sub.contract.key] = quote
            if not sub.contract.is_option:
                self.watchdog.quote(now)
                if quote.data_type is not self.data_type:
                    self._data_type_changed(quote.data_type, sub.contract.key)
        if self._pending:
            self._schedule_flush()

    def _data_type_changed(self, data_type: DataType, key: str) -> None:
        """The stock quotes changed kind (delayed <-> live): one notice for the engine."""
        self.data_type = data_type
        now = self.ctx.clock.now()
        logger.warning("ib: market data is now {} (first seen on {})", data_type.value, key)
        self.ctx.emitter.event(BrokerNotice("data_type", data_type.value, now))

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

    # -- option chains (broker/ib/chain_scan.py) ------------------------------------------------
    async def option_chain(
        self,
        symbol: str,
        *,
        right: str | None,
        min_expiry: date | None,
        max_expiry: date | None,
        wait_s: float = 2.0,
    ) -> list[Quote]:
        """``ChainScanner.option_chain``."""
        return await self.scanner.option_chain(
            symbol, right=right, min_expiry=min_expiry, max_expiry=max_expiry, wait_s=wait_s
        )

    @property
    def scan_failures(self) -> int:
        return self.scanner.failures

    def streaming(self, key: str) -> Ticker | None:
        """The ticker of a running subscription of ``key`` (None if not streaming)."""
        sub = self._subs.get(key)
        return sub.ticker if sub is not None else None

    def spot(self, symbol: str) -> float | None:
        """The mid of the latest quote of ``symbol`` (None before one came)."""
        quote = self._last.get(symbol)
        return quote.mid if quote is not None else None
