"""The broker seam: the ``Broker`` protocol every adapter implements and the listener it
delivers to. The value types that cross it live in ``core.domain`` and ``core.events``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.ticks import TickRule
from core.domain import Contract, OrderRequest, Quote
from core.events import (
    AccountSnapshot,
    BrokerEvent,
    BrokerOrderState,
    BrokerPosition,
    CompletedOrder,
    ExecutionEvent,
)


class BrokerListener(Protocol):
    """Where a broker delivers what it hears. Both calls must return at once (they run on the
    broker's own thread: the simulator's clock thread, or the ib_async loop thread)."""

    def on_quote(self, quote: Quote) -> None: ...

    def on_broker_event(self, event: BrokerEvent) -> None: ...


class Broker(Protocol):
    """What every broker adapter provides. Calls may come from any actor thread; an adapter
    serialises them itself. ``place_order`` refuses (returns False) when the gate refuses."""

    name: str

    def start(self, listener: BrokerListener) -> None: ...

    def stop(self) -> None: ...

    def subscribe_quotes(self, contracts: Iterable[Contract]) -> None:
        """Quote these contracts from now on. Subscriptions are counted: each subscribe is
        undone by one ``unsubscribe_quotes`` of the same contract."""
        ...

    def unsubscribe_quotes(self, contracts: Iterable[Contract]) -> None: ...

    def option_chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        min_expiry: date | None = None,
        max_expiry: date | None = None,
    ) -> list[Quote]:
        """A snapshot of ``symbol``'s listed options now (optionally one right and an expiry
        window): one quote per contract with IV, greeks and open interest."""
        ...

    def tick_rule(self, contract: Contract) -> TickRule:
        """``contract``'s price increments, at once (no request): what the broker learnt of
        it, or ``core.ticks.default_rule`` while it knows nothing. Every price the engine
        sends is rounded onto it with ``core.ticks.round_to_tick``."""
        ...

    def place_order(self, order: OrderRequest) -> bool: ...

    def cancel_order(self, client_order_id: str) -> None: ...

    def modify_order(
        self,
        client_order_id: str,
        *,
        quantity: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None: ...

    def open_orders(self) -> list[BrokerOrderState]: ...

    def executions(self) -> list[ExecutionEvent]: ...

    def completed_orders(self) -> list[CompletedOrder]:
        """Orders the broker lists as done, with their filled quantity and average price."""
        ...

    def positions(self) -> list[BrokerPosition]: ...

    def account(self) -> AccountSnapshot: ...

    def check_margin(self, order: OrderRequest) -> None:
        """Ask, without placing anything, what ``order`` would do to the account's initial
        margin (any thread; returns at once). The answer is a ``MarginCheck`` event with the
        order's ``client_order_id``, delivered to the listener; a broker that cannot answer
        delivers one with ``error`` set, so a caller always hears back (bounded by the
        broker's request timeout)."""
        ...
