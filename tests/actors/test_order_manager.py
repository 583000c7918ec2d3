"""OrderManager through its messages: write-ahead, stops, de-duplication, reduce-only, filters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from core.domain import OrderType, Side
from core.events import ExecutionEvent
from tests.support.engine import make_config, start_engine
from tests.support.fake_broker import (
    BrokerCall,
    FakeBroker,
    default_answer,
    filled,
    funded_account,
    stock_quote,
)


def test_every_order_is_stored_before_the_broker_sees_it(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(call: BrokerCall) -> object:
        """Every order must already be in the ledger when it arrives; a market order fills."""
        if call.method == "place_order":
            order = call.order
            stored = sim.ledger.order(order.client_order_id)
            assert stored is not None, f"{order.client_order_id} reached the broker unstored"
            seen.append(order.client_order_id)
            if order.order_type is OrderType.MKT:
                fake.deliver(filled(order, price=Decimal("100.01"), time=sim.engine.clock.now()))
        return default_answer(call)

    fake = FakeBroker(handler)
    sim = start_engine(tmp_path, broker_factory=lambda engine: fake)
    fake.deliver(funded_account(sim.engine.clock.now()))
    fake.quote(stock_quote("AAPL", 100.0, sim.engine.clock.now()))
    sid = sim.signal("va1", "AAPL")
    assert seen == [sid, f"{sid}.stop"]


def test_an_execution_delivered_twice_is_stored_and_counted_once(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sid = sim.signal("va1", "AAPL")
    executions = sim.ledger.executions(va_id="va1")
    first = executions[0]
    order = sim.ledger.order(sid)
    replay = ExecutionEvent(
        first.exec_id,
        sid,
        order.contract,
        first.side,
        first.quantity,
        first.price,
        first.commission,
        first.time,
    )
    sim.engine.book.tell("order_manager", replay)
    sim.idle()
    assert len(sim.ledger.executions(va_id="va1")) == len(executions)
    held = sim.snapshot("order_manager")["positions"]["va1|AAPL"]
    assert held == order.quantity


def test_an_exit_never_flips_the_position_and_needs_one(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    refused = sim.signal("va1", "AAPL", Side.SELL, close=True)
    assert sim.decisions()[refused].rule == "no_position"
    sid = sim.signal("va1", "AAPL", quantity=10)
    exit_id = sim.signal("va1", "AAPL", Side.SELL, close=True, quantity=500)
    exit_order = sim.ledger.order(exit_id)
    assert exit_order is not None and exit_order.quantity == 10 and exit_order.reduce_only
    assert sim.ledger.open_positions() == []
    stop = sim.ledger.order(f"{sid}.stop")
    assert stop is not None and stop.status.is_terminal


def test_an_entry_on_a_wide_spread_is_refused_by_the_filter(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(filters="max_spread_bps = 1.0"))
    refused = sim.signal("va1", "AAPL")
    decision = sim.decisions()[refused]
    assert not decision.accepted and decision.rule == "spread"
    assert decision.detail.endswith("> 1.0bps")
    assert sim.ledger.order(refused) is None
    assert sim.snapshot("va:va1").working_orders == 0


def test_an_entry_on_a_stale_quote_is_refused(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(filters="max_quote_age_ms = 500"))
    clock = sim.engine.clock
    clock.skip_to(clock.now() + timedelta(seconds=2))  # the last quote is now 2 s old
    refused = sim.signal("va1", "AAPL")
    assert sim.decisions()[refused].rule == "quote_age"


def test_the_protective_stop_fires_and_the_trade_closes_as_stopped(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sid = sim.signal("va1", "AAPL")
    stop = sim.ledger.order(f"{sid}.stop")
    sim.broker.set_mid("AAPL", float(stop.stop_price) - 1)
    sim.advance(5)
    assert sim.ledger.order(f"{sid}.stop").status.value == "filled"
    assert sim.ledger.open_positions() == []
    snap = sim.snapshot("va:va1")
    assert snap.losses == 1 and snap.symbol is None


def test_an_entry_over_the_pacing_window_is_refused(tmp_path: Path) -> None:
    # 10 messages/s, entries may use 2 x 2 of them: two entries (entry + stop each) fit,
    # a third in the same second does not.
    sim = start_engine(tmp_path, make_config(risk="max_messages_per_s = 10\nentry_burst = 2"))
    first = sim.signal("va1", "AAPL")
    second = sim.signal("va2", "JPM")
    sim.engine.ctx.pacer.delay_for(sim.engine.clock.now().timestamp())  # one more slot
    sim.signal("va1", "AAPL", Side.SELL, close=True)  # frees va1, uses no entry slots
    third = sim.signal("va1", "MSFT")
    decisions = sim.decisions()
    assert decisions[first].accepted and decisions[second].accepted
    assert decisions[third].rule == "order_pacing"


def test_an_exit_waits_for_a_pacing_slot_instead_of_being_refused(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(risk="max_messages_per_s = 10"))
    sim.signal("va1", "AAPL")
    now_s = sim.engine.clock.now().timestamp()
    while sim.engine.ctx.pacer.delay_for(now_s) == 0:  # fill the window
        pass
    exit_id = sim.signal("va1", "AAPL", Side.SELL, close=True)
    stored = sim.ledger.order(exit_id)
    assert stored is not None and stored.status.value == "pending_submit"  # stored, queued
    sim.advance(2)
    assert sim.ledger.order(exit_id).status.value == "filled"
    assert sim.ledger.open_positions() == []


def _flat_config(max_reprices: int):  # type: ignore[no-untyped-def]
    return make_config(
        orders=f"flatten_reprice_s = 1.0\nflatten_max_reprices = {max_reprices}",
        filters="max_slippage_bps = 50",
        display_size=100,
        tick_interval_s=1.0,
    )


def test_flatten_reprices_its_limit_then_falls_back_to_market(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, _flat_config(max_reprices=2), warmup_s=1)
    sid = sim.signal("va1", "AAPL", quantity=400)
    for _ in range(4):  # the entry fills 100 per tick; its stop always covers the fill
        sim.advance(1)
        stop = sim.ledger.order(f"{sid}.stop")
        assert stop.quantity == 400 and stop.status.is_working
    assert sim.snapshot("order_manager")["positions"]["va1|AAPL"] == 400
    broker = sim.broker
    sim.engine.flatten("test")
    sim.idle()
    for price in (99.6, 99.2, 98.8, 98.5, 98.3):  # walks away, above the stop at ~98
        broker.set_mid("AAPL", price)
        sim.advance(1)
    sim.advance(5)
    exits = [o for o in sim.ledger.orders() if o.purpose == "exit"]
    assert [o.order_type.value for o in exits] == ["LMT", "MKT"]
    limit_order, market_order = exits
    assert limit_order.status.value == "cancelled"
    details = [e.detail for e in sim.ledger.order_events(limit_order.id)]
    assert any("flatten re-price 1/2" in d for d in details)
    assert limit_order.filled + market_order.filled == 400
    assert sim.ledger.open_positions() == []
    assert sim.snapshot("governor").state.value == "HALTED"


def test_flatten_closes_at_once_with_a_marketable_limit_when_the_touch_is_deep(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=100)
    sim.engine.flatten("test")
    sim.idle()
    [exit_order] = [o for o in sim.ledger.orders() if o.purpose == "exit"]
    assert exit_order.order_type.value == "LMT" and exit_order.status.value == "filled"
    assert exit_order.limit_price is not None


def test_flatten_crosses_opposite_vas_internally_and_sends_only_the_net(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=100)
    sim.signal("va2", "AAPL", Side.SELL, quantity=60)  # va2 goes short the same contract
    broker = sim.broker
    broker_execs_before = len(broker.executions())
    sim.engine.flatten("net test")
    sim.advance(5)
    assert sim.ledger.open_positions() == []
    assert broker.positions() == []
    crosses = [o for o in sim.ledger.orders() if o.reason == "flatten_cross"]
    assert sorted((o.va_id, o.side.value, o.quantity) for o in crosses) == [
        ("va1", "SELL", 60),
        ("va2", "BUY", 60),
    ]
    new_broker_execs = broker.executions()[broker_execs_before:]
    assert sum(e.quantity for e in new_broker_execs) == 40  # only the net went out
    cross_execs = [e for e in sim.ledger.executions() if e.exec_id.startswith("cross-")]
    assert len(cross_execs) == 2 and all(e.commission == 0 for e in cross_execs)
    assert sim.snapshot("governor").state.value == "HALTED"


def test_flatten_keeps_to_the_working_order_limit_per_contract_side(tmp_path: Path) -> None:
    # 3 per side: two entries leave their two SELL stops working, so one flatten exit at a time.
    sim = start_engine(
        tmp_path,
        make_config(
            orders="max_working_per_contract_side = 3",
            display_size=100,
            filters="max_slippage_bps = 50",
        ),
    )
    sim.signal("va1", "AAPL", quantity=100)
    sim.signal("va2", "AAPL", quantity=100)
    sim.advance(5)
    seen_max = 0
    sim.engine.flatten("cap test")
    for _ in range(6):
        working = [o for o in sim.ledger.orders(working_only=True) if o.side is Side.SELL]
        seen_max = max(seen_max, len(working))
        sim.advance(1)
    assert seen_max <= 3
    assert sim.ledger.open_positions() == []
    assert len([o for o in sim.ledger.orders() if o.reason == "flatten"]) == 2


def test_an_entry_that_would_fill_the_working_order_limit_is_refused(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(orders="max_working_per_contract_side = 2"))
    first = sim.signal("va1", "AAPL", quantity=100)  # its SELL stop: 1 of the 1 allowed
    second = sim.signal("va2", "AAPL", quantity=100)
    decisions = sim.decisions()
    assert decisions[first].accepted
    assert decisions[second].rule == "working_orders"
    assert decisions[second].detail == "AAPL SELL 1+1/1"
