"""The simulator's option side: counted quote subscriptions, the option quotes of each market
step, marks for the account and expiry settlement.

Not thread-safe: ``SimBroker`` owns one ``OptionDesk`` and calls it under its lock.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal

from broker.sim.account import SimAccount
from broker.sim.chains import OptionMarket, OptionSpec
from broker.sim.expiry import assign_early, settle_expirations
from broker.sim.market import MarketModel
from broker.sim.order_book import OrderBook
from core.calendar import TradingCalendar
from core.domain import Contract, Quote
from core.events import BrokerEvent

__all__ = ["OptionDesk"]


class OptionDesk:
    """Option subscriptions, quotes and expiry for one simulated account.

    Args:
        market: the underlyings' mids.
        calendar: expirations and expiry moments.
        spec: the option market's parameters.
        seed: seeds the option quotes' displayed sizes.
    """

    def __init__(
        self, market: MarketModel, calendar: TradingCalendar, spec: OptionSpec, *, seed: int
    ) -> None:
        self._stocks = market
        self.market = OptionMarket(market, calendar, spec, seed=seed)
        self._subs: Counter[str] = Counter()
        self._contracts: dict[str, Contract] = {}
        self._next_event_id = 1
        # Unique across runs, like execution ids: the ledger keys settlements by event id.
        self._event_prefix = f"sim-x{uuid.uuid4().hex[:8]}"

    def check(self, contract: Contract, now: datetime) -> None:
        """Raises ValueError naming why ``contract`` cannot be quoted now."""
        problem = self.market.listing_problem(contract, now)
        if problem is not None:
            raise ValueError(f"option not listed: {problem}")

    def subscribe(self, contracts: Iterable[Contract]) -> None:
        """Count one more subscription of each (already checked) option."""
        for contract in contracts:
            self._subs[contract.key] += 1
            self._contracts[contract.key] = contract

    def unsubscribe(self, contracts: Iterable[Contract]) -> None:
        """Undo one subscription of each option; unknown ones are ignored."""
        for contract in contracts:
            key = contract.key
            if self._subs[key] > 1:
                self._subs[key] -= 1
            else:
                self._subs.pop(key, None)
                self._contracts.pop(key, None)

    def is_subscribed(self, contract_key: str) -> bool:
        return self._subs[contract_key] > 0

    def chain(
        self,
        symbol: str,
        now: datetime,
        *,
        right: str | None,
        min_expiry: date | None,
        max_expiry: date | None,
    ) -> list[Quote]:
        return self.market.chain(
            symbol, now, right=right, min_expiry=min_expiry, max_expiry=max_expiry
        )

    def ensure_quote(self, contract: Contract, now: datetime) -> None:
        """Quote a listed option that has never been quoted, so an order in it can match."""
        if (
            self.market.last_quote(contract.key) is None
            and self.market.listing_problem(contract, now) is None
        ):
            self.market.quote(contract, now)

    def step(self, now: datetime, working: Iterable[Contract]) -> list[Quote]:
        """Quote every subscribed option and every option with a working order at ``now``
        (from the underlyings' new mids); expired ones are skipped."""
        contracts = dict(self._contracts)
        for contract in working:
            contracts.setdefault(contract.key, contract)
        return [
            self.market.quote(contract, now)
            for contract in contracts.values()
            if self.market.listing_problem(contract, now) is None
        ]

    def marks(self, account: SimAccount, now: datetime) -> dict[str, Decimal]:
        """The mark of every option the account holds, by contract key."""
        return {
            contract.key: self.market.mark(contract, now)
            for contract, _ in account.option_holdings()
        }

    def settle(
        self,
        now: datetime,
        account: SimAccount,
        book: OrderBook,
        settles_at: Callable[[date], datetime] | None = None,
    ) -> list[BrokerEvent]:
        """Settle what has expired at ``now`` (see ``settle_expirations``) and drop the
        subscriptions of expired contracts."""
        events = settle_expirations(
            now=now,
            account=account,
            book=book,
            options=self.market,
            market=self._stocks,
            next_event_id=self._new_event_id,
            settles_at=settles_at,
        )
        for key, contract in list(self._contracts.items()):
            if contract.expiry is not None and now >= self.market.expiry_moment(contract.expiry):
                del self._contracts[key]
                self._subs.pop(key, None)
        return events

    def assign_early(self, symbol: str, now: datetime, account: SimAccount) -> list[BrokerEvent]:
        """Assign every short option of ``symbol`` held now (see ``expiry.assign_early``)."""
        return assign_early(
            symbol=symbol,
            now=now,
            account=account,
            market=self._stocks,
            next_event_id=self._new_event_id,
        )

    def _new_event_id(self) -> str:
        event_id = f"{self._event_prefix}-{self._next_event_id:06d}"
        self._next_event_id += 1
        return event_id
