"""The option quotes a VirtualAccount owns: subscribed at the broker and in the QuoteBook for
exactly the options it holds, has working orders in, or is about to sell.

``OptionQuotes`` is a part of ``VirtualAccount``: every method runs on the VA's actor thread.
"""

from __future__ import annotations

from loguru import logger

from actors.runtime.context import EngineContext
from actors.virtual_account.state import VAState
from core.domain import Contract

__all__ = ["OptionQuotes"]


class OptionQuotes:
    """The VA's option subscriptions (they outlive a crash: they are the broker's)."""

    def __init__(self, *, ctx: EngineContext, state: VAState, address: str) -> None:
        self.ctx = ctx
        self.state = state
        self.address = address
        self._subscribed: dict[str, Contract] = {}

    def sync(self) -> None:
        """Subscribe to exactly the options the VA holds, has working orders in, or is about
        to trade; unsubscribe from the rest."""
        va = self.state
        wanted: dict[str, Contract] = {
            key: h.contract for key, h in va.vabook.holdings.items() if h.contract.is_option
        }
        working = {*va.vabook.working_entries.values(), *va.vabook.working_exits.values()}
        for key in working:
            contract = va.contracts.get(key)
            if contract is not None and contract.is_option:
                wanted.setdefault(key, contract)
        for contract in va.rolling.values():
            wanted.setdefault(contract.key, contract)
        if va.candidate is not None:
            contract = va.candidate.quote.contract
            wanted.setdefault(contract.key, contract)
        for key in [k for k in self._subscribed if k not in wanted]:
            contract = self._subscribed.pop(key)
            self.ctx.quotes.unsubscribe(self.address, key)
            self.ctx.broker.unsubscribe_quotes([contract])
        for key, contract in wanted.items():
            if key in self._subscribed:
                continue
            try:
                self.ctx.broker.subscribe_quotes([contract])
            except ValueError as exc:  # expired or not listed: nothing to quote
                logger.debug("{}: no quotes for {}: {}", self.address, key, exc)
                continue
            self._subscribed[key] = contract
            self.ctx.quotes.subscribe(self.address, key)

    def release(self) -> None:
        """Unsubscribe from every option (the VA stops)."""
        for key, contract in self._subscribed.items():
            self.ctx.quotes.unsubscribe(self.address, key)
            self.ctx.broker.unsubscribe_quotes([contract])
        self._subscribed.clear()
