"""``BrokerRouter``: where the broker's quotes and events go in the engine (the broker's
listener, built by ``Engine.start``).

Threads: the broker's (its market-step or loop thread); never blocks.
"""

from __future__ import annotations

from actors.messages.events import AccountUpdate
from actors.messages.timers import ReconnectReconcileDue
from actors.quote_book import QuoteBook
from actors.runtime.base import AddressBook
from core.domain import Quote
from core.events import (
    AccountPnL,
    AccountSnapshot,
    BrokerEvent,
    BrokerNotice,
    ConnectionEvent,
    ConnectionState,
)

__all__ = ["BrokerRouter"]


class BrokerRouter:
    """BrokerListener: turns broker callbacks into QuoteBook updates and counted tells.
    Runs on the broker's thread; never blocks."""

    def __init__(self, book: AddressBook, quotes: QuoteBook) -> None:
        self._book = book
        self._quotes = quotes
        self._link_lost = False  # DISCONNECTED seen since the last CONNECTED

    def on_quote(self, quote: Quote) -> None:
        self._quotes.update(quote)

    def on_broker_event(self, event: BrokerEvent) -> None:
        if isinstance(event, AccountSnapshot):
            update = AccountUpdate(
                event.net_liquidation,
                event.maint_margin,
                event.time,
                cash=event.cash,
                buying_power=event.buying_power,
                excess_liquidity=event.excess_liquidity,
                account=event.account,
            )
            self._book.tell("governor", update)
        elif isinstance(event, AccountPnL):
            self._book.tell("governor", event)  # the daily loss breaker's fast figure
        elif isinstance(event, ConnectionEvent):
            # The order manager makes no broker read while the link is down.
            self._book.tell("order_manager", event)
            if event.state is ConnectionState.DISCONNECTED:
                self._link_lost = True
            elif event.state is ConnectionState.CONNECTED and self._link_lost:
                # Back after a loss: the broker has replayed what happened meanwhile (fills,
                # statuses); the order manager compares again (a pass of its own kind, see
                # the order manager's reconcile). Told first, so nothing the governor lets through
                # overtakes it. Quotes flowing again after stale data lost nothing: no pass.
                self._link_lost = False
                self._book.tell("order_manager", ReconnectReconcileDue(event.time))
            self._book.tell("governor", event)
        elif isinstance(event, BrokerNotice):
            self._book.tell("governor", event)  # the risk event and the header's flags
        else:
            self._book.tell("order_manager", event)
