"""The fake broker: every call answered by the test's handler, the whole ``Broker`` protocol,
and an engine that runs on it with no market."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from broker.base import Broker
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Quote, Side
from core.events import BrokerEvent, ExecutionEvent, MarginCheck, OrderStatusEvent
from core.ticks import NICKEL, STOCK
from tests.support.engine import start_engine
from tests.support.fake_broker import (
    BrokerCall,
    FakeBroker,
    default_answer,
    filled,
    stock_quote,
)

NOON = datetime(2026, 11, 16, 17, 0, tzinfo=UTC)


class _Listener:
    """Records what the broker delivers (BrokerListener)."""

    def __init__(self) -> None:
        self.quotes: list[Quote] = []
        self.events: list[BrokerEvent] = []

    def on_quote(self, quote: Quote) -> None:
        self.quotes.append(quote)

    def on_broker_event(self, event: BrokerEvent) -> None:
        self.events.append(event)


def _order(cid: str = "o1", order_type: OrderType = OrderType.MKT) -> OrderRequest:
    return OrderRequest(cid, Contract.stock("AAPL"), Side.BUY, order_type, 10)


def test_every_protocol_method_is_there_with_the_protocols_signature() -> None:
    protocol = {
        name: inspect.signature(member)
        for name, member in vars(Broker).items()
        if callable(member) and not name.startswith("_")
    }
    assert protocol, "no methods read from the protocol"
    for name, signature in protocol.items():
        assert inspect.signature(getattr(FakeBroker, name)) == signature, name
    assert isinstance(FakeBroker.name, str)


def test_each_call_is_recorded_with_its_arguments_and_answered_by_the_handler() -> None:
    seen: list[BrokerCall] = []

    def handler(call: BrokerCall) -> object:
        seen.append(call)
        return call.method == "place_order" and call.order.client_order_id == "yes"

    fake = FakeBroker(handler)
    assert fake.place_order(_order("yes"))
    assert not fake.place_order(_order("no"))
    fake.modify_order("yes", limit_price=Decimal("1.05"))
    assert fake.methods() == ["place_order", "place_order", "modify_order"]
    assert seen == fake.calls
    [modify] = fake.calls_to("modify_order")
    assert modify.arguments == {
        "client_order_id": "yes",
        "quantity": None,
        "limit_price": Decimal("1.05"),
        "stop_price": None,
    }


def test_the_default_answers_are_an_empty_broker_that_accepts_every_order() -> None:
    fake = FakeBroker()
    assert fake.place_order(_order())
    assert fake.open_orders() == [] and fake.executions() == [] and fake.positions() == []
    assert fake.completed_orders() == [] and fake.option_chain("AAPL", right="P") == []
    assert fake.account().net_liquidation == 1_000_000
    assert fake.tick_rule(Contract.stock("AAPL")) is STOCK
    assert fake.tick_rule(Contract.option("AAPL", date(2026, 12, 18), Decimal(90), "P")) is NICKEL
    assert default_answer(BrokerCall("cancel_order", {"client_order_id": "o1"})) is None


def test_a_margin_check_the_handler_does_not_answer_is_delivered_with_an_error() -> None:
    fake = FakeBroker()
    listener = _Listener()
    fake.start(listener)
    fake.check_margin(_order("m1"))
    [answer] = listener.events
    assert isinstance(answer, MarginCheck)
    assert answer.client_order_id == "m1" and answer.error


def test_a_margin_check_the_handler_answers_is_delivered_as_given() -> None:
    given = MarginCheck("m1", Decimal(500), Decimal(10_000), NOON)
    fake = FakeBroker(lambda call: given if call.method == "check_margin" else None)
    listener = _Listener()
    fake.start(listener)
    fake.check_margin(_order("m1"))
    assert listener.events == [given]


def test_delivered_events_and_quotes_reach_the_listener_in_order() -> None:
    fake = FakeBroker()
    listener = _Listener()
    fake.start(listener)
    order = _order("f1")
    fake.deliver(filled(order, price=Decimal("100.01"), time=NOON))
    fake.quote(stock_quote("AAPL", 100.0, NOON))
    execution, status = listener.events
    assert isinstance(execution, ExecutionEvent) and execution.quantity == 10
    assert isinstance(status, OrderStatusEvent) and status.status is OrderStatus.FILLED
    [quote] = listener.quotes
    assert (quote.bid, quote.ask) == (99.99, 100.01)


def test_delivering_before_start_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="not listening"):
        FakeBroker().deliver(filled(_order(), price=Decimal(1), time=NOON))


def test_an_engine_runs_on_the_fake_broker_and_stops_it(tmp_path: Path) -> None:
    fake = FakeBroker()
    sim = start_engine(tmp_path, broker_factory=lambda engine: fake)
    calls = fake.methods()
    assert calls[0] == "start" and "subscribe_quotes" in calls
    assert {"open_orders", "positions"} <= set(calls)  # the startup reconciliation read it
    sim.engine.stop()
    assert fake.methods()[-1] == "stop"
