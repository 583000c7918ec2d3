"""OrderManager through its messages when the broker refuses: a refused protective stop is
replaced at once, a second refusal closes the position; a stop handed to the broker that the
broker never lists is rejected by the reconciliation (no longer skipped as PENDING_SUBMIT); a
refused modification puts the order back."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.messages.queries import GetWorkingOrders
from core.domain import OrderRequest, OrderStatus, OrderType, Purpose
from core.events import ModifyRefusedEvent, OrderStatusEvent
from core.rules.repricing import plan_progress
from engine.engine import Engine
from tests.actors.test_naked_put_engine import config as put_config
from tests.actors.test_reprice_recovery import _working_put_entry
from tests.support.engine import SimEngine, start_engine
from tests.support.fake_broker import (
    BrokerCall,
    FakeBroker,
    default_answer,
    filled,
    funded_account,
    stock_quote,
)

REASON = "The following order value estimate exceeds the Total Value Limit (TEST)"


def refusing_stops(count: int, *, silently: bool = False) -> Callable[[Engine], Any]:
    """The sim broker, but the next ``count`` stop orders are refused: REJECTED right after the
    hand-off (as IB's error without a status ends up), or with ``silently`` never heard of
    again (IB answered nothing)."""

    def factory(engine: Engine) -> Any:
        broker = engine.broker
        original = broker.place_order
        left = [count]

        def place_order(order: OrderRequest) -> bool:
            if order.order_type is OrderType.STP and left[0] > 0:
                left[0] -= 1
                if not silently:
                    refused = OrderStatusEvent(
                        order.client_order_id,
                        OrderStatus.REJECTED,
                        0,
                        0,
                        None,
                        engine.clock.now(),
                        REASON,
                    )
                    engine.book.tell("order_manager", refused)
                return True
            return original(order)

        broker.place_order = place_order  # type: ignore[method-assign]
        return broker

    return factory


def working_orders(sim: SimEngine) -> list[Any]:
    return list(sim.engine.book.ask("order_manager", GetWorkingOrders(), timeout_s=5))


def working_stops(sim: SimEngine) -> list[Any]:
    return [o for o in working_orders(sim) if o.purpose is Purpose.STOP]


def risk_kinds(sim: SimEngine) -> list[str]:
    return [event.kind for event in sim.ledger.risk_events()]


def test_a_refused_protective_stop_is_replaced_at_once(tmp_path: Path) -> None:
    stops_refused: list[str] = []

    def handler(call: BrokerCall) -> object:
        """Market orders fill at once; the first stop is refused, the next ones work."""
        if call.method == "place_order":
            order, now = call.order, sim.engine.clock.now()
            if order.order_type is OrderType.MKT:
                fake.deliver(filled(order, price=Decimal("100.01"), time=now))
            elif not stops_refused:
                stops_refused.append(order.client_order_id)
                fake.deliver(
                    OrderStatusEvent(
                        order.client_order_id, OrderStatus.REJECTED, 0, 0, None, now, REASON
                    )
                )
            else:
                fake.deliver(
                    OrderStatusEvent(
                        order.client_order_id,
                        OrderStatus.SUBMITTED,
                        0,
                        order.quantity,
                        None,
                        now,
                    )
                )
        return default_answer(call)

    fake = FakeBroker(handler)
    sim = start_engine(tmp_path, broker_factory=lambda engine: fake)
    fake.deliver(funded_account(sim.engine.clock.now()))
    fake.quote(stock_quote("AAPL", 100.0, sim.engine.clock.now()))
    sid = sim.signal("va1", "AAPL")
    refused = sim.ledger.order(f"{sid}.stop")
    assert refused.status is OrderStatus.REJECTED and refused.reason == REASON
    [stop] = working_stops(sim)
    assert stop.order_id != refused.id and stop.status is OrderStatus.SUBMITTED
    [position] = sim.ledger.open_positions()
    assert (stop.stop_price, stop.quantity) == (refused.stop_price, position.quantity)
    assert "stop_refused" in risk_kinds(sim)


def test_a_protective_stop_refused_twice_closes_the_position_with_a_risk_event(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, broker_factory=refusing_stops(2))
    sid = sim.signal("va1", "AAPL")
    sim.idle()
    assert sim.ledger.order(f"{sid}.stop").status is OrderStatus.REJECTED
    assert working_stops(sim) == []
    assert sim.ledger.open_positions() == []  # closed at market
    closes = [o for o in sim.ledger.orders(va_id="va1") if o.reason == "stop_refused"]
    assert [(o.order_type, o.status) for o in closes] == [(OrderType.MKT, OrderStatus.FILLED)]
    events = [e for e in sim.ledger.risk_events() if e.kind == "stop_refused"]
    assert len(events) == 2 and "the position is closed" in events[-1].reason


def test_a_stop_the_broker_never_lists_is_rejected_by_the_reconciliation_and_replaced(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, broker_factory=refusing_stops(1, silently=True))
    sid = sim.signal("va1", "AAPL")
    assert sim.ledger.order(f"{sid}.stop").status is OrderStatus.PENDING_SUBMIT
    for _ in range(3):  # two reads a reconcile tick apart confirm it
        sim.advance(5)
    lost = sim.ledger.order(f"{sid}.stop")
    assert lost.status is OrderStatus.REJECTED
    assert "never acknowledged by the broker" in lost.reason
    [stop] = working_stops(sim)
    assert stop.order_id != lost.id and stop.stop_price == lost.stop_price


def test_a_refused_modification_puts_the_order_back_and_is_reported(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sid = sim.signal("va1", "AAPL")
    [stop] = working_stops(sim)
    assert stop.order_id == f"{sid}.stop"
    kept = stop.stop_price - 1  # what the broker still has (the move was refused)
    sim.engine.book.tell(
        "order_manager",
        ModifyRefusedEvent(
            stop.order_id,
            stop.quantity,
            None,
            kept,
            105,
            "does not match",
            sim.engine.clock.now(),
        ),
    )
    sim.idle()
    [after] = working_stops(sim)
    assert (after.stop_price, after.quantity) == (kept, stop.quantity)
    details = [e.detail for e in sim.ledger.order_events(stop.order_id)]
    assert any("modify refused by the broker (105: does not match)" in d for d in details)
    assert "modify_refused" in risk_kinds(sim)


def test_a_refused_re_price_keeps_the_brokers_limit_and_the_plan_tries_the_next_step(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, put_config(), warmup_s=1)
    entry = _working_put_entry(sim)
    broker = sim.engine.broker
    modify = broker.modify_order
    refused: list[Decimal] = []

    def refusing(order_id: str, **change: Any) -> None:
        limit = change.get("limit_price")
        if limit is not None and not refused:
            refused.append(limit)
            kept = broker.open_orders()[0]  # the broker keeps the order as it was
            sim.engine.book.tell(
                "order_manager",
                ModifyRefusedEvent(
                    order_id,
                    kept.quantity,
                    before[0],
                    None,
                    110,
                    "tick",
                    sim.engine.clock.now(),
                ),
            )
            return
        modify(order_id, **change)

    [working] = [o for o in working_orders(sim) if o.order_id == entry.id]
    before = [working.limit_price]
    broker.modify_order = refusing  # type: ignore[method-assign]
    for _ in range(20):
        if refused:
            break
        sim.advance(1)
    assert refused and refused[0] != before[0]
    [after] = [o for o in working_orders(sim) if o.order_id == entry.id]
    assert after.limit_price == before[0]  # back to what the broker has
    events = [(e.time, e.detail) for e in sim.ledger.order_events(entry.id)]
    assert plan_progress(events).limit == before[0]  # a restart resumes from it too
    asked_again = len([d for _, d in events if "re-price" in d])
    for _ in range(20):
        sim.advance(1)
        events = [(e.time, e.detail) for e in sim.ledger.order_events(entry.id)]
        if len([d for _, d in events if "re-price" in d]) > asked_again:
            break
    assert len([d for _, d in events if "re-price" in d]) > asked_again  # the next step
