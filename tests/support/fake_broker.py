"""A broker with no market, for actor tests: every call is answered by a function the test gives.

In the spirit of httpx's ``MockTransport``: ``FakeBroker(handler)`` records each call as a
``BrokerCall`` and returns ``handler(call)``. ``default_answer`` is what a quiet, empty broker
says (orders accepted, nothing working, no positions, a funded account); a handler answers the
calls it cares about and passes the rest to it. What the broker hears back (fills, order
states, quotes) the test delivers with ``deliver`` and ``quote``, on its own thread, as a real
broker delivers them on its loop thread.

    def handler(call: BrokerCall) -> object:
        if call.method == "place_order":
            fake.deliver(filled(call.order, price=Decimal("100"), time=now))
        return default_answer(call)

    fake = FakeBroker(handler)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from broker.base import Broker, BrokerListener
from core.domain import Contract, OrderRequest, OrderStatus, Quote
from core.events import (
    AccountSnapshot,
    BrokerEvent,
    BrokerOrderState,
    BrokerPosition,
    CompletedOrder,
    ExecutionEvent,
    MarginCheck,
    OrderStatusEvent,
)
from core.ticks import TickRule, default_rule

#: The time a default answer carries when the test gave none (answers rarely look at it).
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BrokerCall:
    """One call the engine made: the ``Broker`` method's name and its arguments by name."""

    method: str
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> OrderRequest:
        """The order of a ``place_order`` or ``check_margin`` call."""
        order = self.arguments["order"]
        assert isinstance(order, OrderRequest), f"{self.method} carries no order"
        return order


Handler = Callable[[BrokerCall], object]


def default_answer(call: BrokerCall) -> object:
    """What an empty broker that accepts everything answers: a funded account with nothing
    held or working (None for the calls that return nothing; ``check_margin`` is answered by
    ``FakeBroker`` itself)."""
    match call.method:
        case "place_order":
            return True
        case "open_orders" | "executions" | "completed_orders" | "positions" | "option_chain":
            return []
        case "account":
            return funded_account(EPOCH)
        case "tick_rule":
            return default_rule(call.arguments["contract"])
        case _:
            return None


def funded_account(time: datetime, cash: Decimal = Decimal(1_000_000)) -> AccountSnapshot:
    """An account holding only ``cash``: no margin used. Delivered after the start, it is the
    account the risk governor sizes entries against (a real broker pushes it)."""
    return AccountSnapshot(cash, cash, Decimal(0), cash, time, init_margin=Decimal(0))


def filled(
    order: OrderRequest, *, price: Decimal, time: datetime, exec_id: str = ""
) -> list[BrokerEvent]:
    """The events a broker sends when ``order`` fills whole at ``price``: its execution, then
    its final status."""
    execution = ExecutionEvent(
        exec_id or f"fake-{order.client_order_id}",
        order.client_order_id,
        order.contract,
        order.side,
        order.quantity,
        price,
        Decimal(0),
        time,
    )
    status = OrderStatusEvent(
        order.client_order_id, OrderStatus.FILLED, order.quantity, 0, price, time
    )
    return [execution, status]


def stock_quote(symbol: str, mid: float, time: datetime, *, spread: float = 0.02) -> Quote:
    """A live stock quote around ``mid`` (``spread`` dollars wide, sizes of 10,000)."""
    half = spread / 2
    return Quote(Contract.stock(symbol), mid - half, mid + half, 10_000, 10_000, mid, time)


class FakeBroker:
    """A ``Broker`` whose every answer comes from ``handler``; ``calls`` lists what was asked.

    Calls come from any actor thread (a lock keeps ``calls`` whole); ``deliver`` and ``quote``
    run the listener on the calling thread (the test's), which a listener allows: its calls
    return at once."""

    name = "fake"

    def __init__(self, handler: Handler = default_answer) -> None:
        self.handler = handler
        self.calls: list[BrokerCall] = []
        self.listener: BrokerListener | None = None
        self._lock = threading.Lock()

    # -- what the test uses ------------------------------------------------------------------
    def methods(self) -> list[str]:
        """The names of the calls so far, in order."""
        with self._lock:
            return [call.method for call in self.calls]

    def calls_to(self, method: str) -> list[BrokerCall]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def deliver(self, events: BrokerEvent | Iterable[BrokerEvent]) -> None:
        """Tell the listener ``events`` (one event or several, in order). Raises if the broker
        was not started."""
        assert self.listener is not None, "deliver before start: the engine is not listening"
        for event in [events] if not isinstance(events, Iterable) else events:
            self.listener.on_broker_event(event)

    def quote(self, quote: Quote) -> None:
        """Tell the listener ``quote``. Raises if the broker was not started."""
        assert self.listener is not None, "quote before start: the engine is not listening"
        self.listener.on_quote(quote)

    # -- the Broker protocol -----------------------------------------------------------------
    def _ask(self, method: str, **arguments: Any) -> Any:
        call = BrokerCall(method, arguments)
        with self._lock:
            self.calls.append(call)
        return self.handler(call)

    def start(self, listener: BrokerListener) -> None:
        self.listener = listener
        self._ask("start")

    def stop(self) -> None:
        self._ask("stop")

    def subscribe_quotes(self, contracts: Iterable[Contract]) -> None:
        self._ask("subscribe_quotes", contracts=list(contracts))

    def unsubscribe_quotes(self, contracts: Iterable[Contract]) -> None:
        self._ask("unsubscribe_quotes", contracts=list(contracts))

    def option_chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        min_expiry: date | None = None,
        max_expiry: date | None = None,
    ) -> list[Quote]:
        answer: list[Quote] = self._ask(
            "option_chain",
            symbol=symbol,
            right=right,
            min_expiry=min_expiry,
            max_expiry=max_expiry,
        )
        return answer

    def tick_rule(self, contract: Contract) -> TickRule:
        answer: TickRule = self._ask("tick_rule", contract=contract)
        return answer

    def place_order(self, order: OrderRequest) -> bool:
        return bool(self._ask("place_order", order=order))

    def cancel_order(self, client_order_id: str) -> None:
        self._ask("cancel_order", client_order_id=client_order_id)

    def modify_order(
        self,
        client_order_id: str,
        *,
        quantity: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        self._ask(
            "modify_order",
            client_order_id=client_order_id,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
        )

    def open_orders(self) -> list[BrokerOrderState]:
        answer: list[BrokerOrderState] = self._ask("open_orders")
        return answer

    def executions(self) -> list[ExecutionEvent]:
        answer: list[ExecutionEvent] = self._ask("executions")
        return answer

    def completed_orders(self) -> list[CompletedOrder]:
        answer: list[CompletedOrder] = self._ask("completed_orders")
        return answer

    def positions(self) -> list[BrokerPosition]:
        answer: list[BrokerPosition] = self._ask("positions")
        return answer

    def account(self) -> AccountSnapshot:
        answer: AccountSnapshot = self._ask("account")
        return answer

    def check_margin(self, order: OrderRequest) -> None:
        """The handler's answer is the ``MarginCheck`` delivered; a handler that answers None
        gets one with ``error`` set, so the caller always hears back (as the protocol says)."""
        answer = self._ask("check_margin", order=order)
        if answer is None:
            answer = MarginCheck(
                order.client_order_id, None, None, EPOCH, error="fake broker: no margin answer"
            )
        assert isinstance(answer, MarginCheck), f"check_margin answered {answer!r}"
        self.deliver(answer)


if TYPE_CHECKING:  # mypy checks FakeBroker against the protocol it stands in for
    _IS_A_BROKER: Broker = FakeBroker()
