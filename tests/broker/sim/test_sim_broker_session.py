"""SimBroker: sessions, quotes, the gate, duplicates, rejections and thread-safety.

The clock is a max-speed VirtualClock driven by the test thread (``advance``/``run_until``);
nothing here sleeps.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from broker.sim import SimSymbol
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Quote, Side
from core.events import AccountSnapshot, BrokerEvent, ExecutionEvent, OrderStatusEvent
from core.gate import GateState

if TYPE_CHECKING:
    from conftest import MakeSim

TZ = ZoneInfo("America/New_York")
FRIDAY_CLOSE = datetime(2024, 3, 15, 16, 0, tzinfo=TZ)
MONDAY_OPEN = datetime(2024, 3, 18, 9, 30, tzinfo=TZ)
MakeOrder = Callable[..., OrderRequest]


def tape(quotes: list[Quote]) -> list[tuple[object, ...]]:
    return [
        (q.contract.symbol, q.bid, q.ask, q.bid_size, q.ask_size, q.last, q.time) for q in quotes
    ]


def test_the_same_seed_gives_identical_quotes_and_another_seed_different_ones(
    make_sim: MakeSim,
) -> None:
    runs = []
    for seed in (9, 9, 10):
        sim = make_sim(seed=seed)
        sim.step(100)
        runs.append(tape(sim.listener.quotes))
    assert len(runs[0]) == 2 * 101
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_quotes_come_once_a_tick_per_symbol_in_symbol_order_stamped_with_the_clock(
    make_sim: MakeSim,
) -> None:
    sim = make_sim()
    sim.step(3)
    quotes = sim.listener.quotes
    assert [q.contract.symbol for q in quotes] == ["AAA", "BBB"] * 4
    start = sim.clock.now() - timedelta(seconds=3)
    assert [q.time for q in quotes[::2]] == [start + timedelta(seconds=i) for i in range(4)]
    assert all(q.ask > q.bid for q in quotes)


def test_only_subscribed_symbols_are_quoted(make_sim: MakeSim) -> None:
    sim = make_sim(subscribe=False)
    assert sim.listener.quotes == []
    sim.broker.subscribe_quotes([Contract.stock("BBB")])
    sim.step(2)
    assert {q.contract.symbol for q in sim.listener.quotes} == {"BBB"}
    assert sim.broker.last_quote("AAA") is not None  # the market moves whether watched or not


def test_subscribing_an_unlisted_option_or_an_unknown_symbol_raises_a_clear_value_error(
    make_sim: MakeSim,
) -> None:
    sim = make_sim(subscribe=False)
    wednesday = Contract("AAA", "OPT", date(2024, 4, 17), Decimal("90"), "P", 100)
    with pytest.raises(ValueError, match="option not listed"):
        sim.broker.subscribe_quotes([wednesday])
    future = Contract("AAA", "FUT", date(2024, 6, 21))
    with pytest.raises(ValueError, match="unsupported instrument"):
        sim.broker.subscribe_quotes([future])
    with pytest.raises(ValueError, match="unknown symbol 'ZZZ'"):
        sim.broker.subscribe_quotes([Contract.stock("AAA"), Contract.stock("ZZZ")])
    sim.step()
    assert sim.listener.quotes == []  # all or nothing: AAA was not added either
    with pytest.raises(ValueError, match="unknown symbol"):
        sim.broker.last_quote("ZZZ")


def test_quotes_stop_at_the_friday_close_and_the_clock_skips_to_monday_open(
    make_sim: MakeSim,
) -> None:
    sim = make_sim(start=FRIDAY_CLOSE - timedelta(seconds=10))
    sim.clock.run_until(FRIDAY_CLOSE)
    times = sorted({q.time for q in sim.listener.quotes})
    assert times[0] == FRIDAY_CLOSE - timedelta(seconds=10)
    assert times[-1] == FRIDAY_CLOSE - timedelta(seconds=1)
    assert len(times) == 10
    assert sim.clock.now() == MONDAY_OPEN
    sim.clock.advance(0.0)
    assert {q.time for q in sim.listener.quotes[-2:]} == {MONDAY_OPEN}
    assert len(sim.listener.quotes) == 2 * 11


def test_a_holiday_is_skipped_like_a_weekend(make_sim: MakeSim) -> None:
    thursday_close = FRIDAY_CLOSE - timedelta(days=1)
    sim = make_sim(
        start=thursday_close - timedelta(seconds=2), holidays=frozenset({date(2024, 3, 15)})
    )
    sim.clock.run_until(thursday_close)
    assert sim.clock.now() == MONDAY_OPEN


def test_a_step_that_runs_after_the_close_quotes_nothing_and_moves_to_the_next_open(
    make_sim: MakeSim,
) -> None:
    sim = make_sim(start=FRIDAY_CLOSE - timedelta(seconds=10))
    count = len(sim.listener.quotes)
    sim.clock.skip_to(FRIDAY_CLOSE + timedelta(hours=1))  # time jumped past the pending step
    sim.clock.advance(0.0)
    assert len(sim.listener.quotes) == count
    assert sim.clock.now() == MONDAY_OPEN
    sim.clock.advance(0.0)
    assert [q.time for q in sim.listener.quotes[count:]] == [MONDAY_OPEN, MONDAY_OPEN]


def test_a_weekend_gap_moves_the_price_by_one_trading_day(make_sim: MakeSim) -> None:
    # No volatility and a 25.2 % drift: one trading day is exactly exp(0.001).
    flat = {"CCC": SimSymbol("CCC", price=1000.0, volatility=0.0, spread_bps=0.0)}
    sim = make_sim(start=FRIDAY_CLOSE - timedelta(seconds=1), symbols=flat, drift_annual=0.252)
    friday = sim.quote("CCC").mid
    sim.clock.run_until(MONDAY_OPEN)
    monday = sim.quote("CCC")
    assert monday.time == MONDAY_OPEN
    assert monday.mid == pytest.approx(friday * math.exp(0.001), abs=0.011)


def test_a_broker_started_before_the_open_quotes_from_the_open(make_sim: MakeSim) -> None:
    open_ = datetime(2024, 3, 13, 9, 30, tzinfo=TZ)
    sim = make_sim(start=open_ - timedelta(hours=2))
    sim.clock.run_until(open_ - timedelta(seconds=1))
    assert sim.listener.quotes == []
    sim.clock.run_until(open_)
    assert [q.time for q in sim.listener.quotes] == [open_, open_]


def test_orders_placed_while_the_market_is_closed_wait_for_the_open(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    open_ = datetime(2024, 3, 13, 9, 30, tzinfo=TZ)
    sim = make_sim(start=open_ - timedelta(minutes=30))
    assert sim.broker.place_order(make_order("early"))
    assert sim.listener.statuses("early") == [OrderStatus.SUBMITTED]
    sim.clock.run_until(open_)
    (fill,) = sim.listener.executions("early")
    assert fill.time == open_
    assert fill.price == Decimal(repr(sim.quote().ask))


def test_an_account_snapshot_is_emitted_every_step(make_sim: MakeSim) -> None:
    sim = make_sim(starting_cash=Decimal("50000"))
    sim.step(4)
    snapshots = sim.listener.accounts()
    assert len(snapshots) == 5
    assert all(s.net_liquidation == Decimal("50000.00") for s in snapshots)
    assert sim.broker.account().available_funds == Decimal("50000.00")


def test_a_closed_gate_refuses_every_order_and_exits_only_passes_reduce_only_orders(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim(gate_state=GateState.CLOSED)
    assert not sim.broker.place_order(make_order("c1"))
    assert not sim.broker.place_order(make_order("c2", reduce_only=True))
    sim.gate.set(GateState.EXITS_ONLY, "reducing")
    assert not sim.broker.place_order(make_order("c3"))
    assert sim.broker.place_order(make_order("c4", side=Side.SELL, reduce_only=True))
    assert [sim.listener.order_events(c) for c in ("c1", "c2", "c3")] == [[], [], []]
    assert [e.client_order_id for e in sim.broker.executions()] == ["c4"]
    sim.gate.set(GateState.OPEN, "resumed")
    assert sim.broker.place_order(make_order("c1"))  # a refused id never reached the venue


def test_a_duplicate_client_order_id_never_creates_a_second_order(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    limit = Decimal("50.00")
    assert sim.broker.place_order(make_order("dup", 100, order_type=OrderType.LMT, limit=limit))
    assert not sim.broker.place_order(make_order("dup", 900))
    assert not sim.broker.place_order(make_order("dup", 100, order_type=OrderType.LMT, limit=limit))
    (state,) = sim.broker.open_orders()
    assert (state.client_order_id, state.quantity, state.order_type) == ("dup", 100, OrderType.LMT)
    assert sim.listener.statuses("dup") == [OrderStatus.SUBMITTED]
    assert sim.broker.executions() == []


def test_an_unknown_symbol_or_an_unlisted_option_is_rejected_by_the_venue_with_a_reason(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    assert sim.broker.place_order(make_order("u1", symbol="ZZZ"))
    (event,) = sim.listener.status_events("u1")
    assert event.status is OrderStatus.REJECTED
    assert "unknown symbol 'ZZZ'" in event.reason
    option = Contract("AAA", "OPT", date(2024, 4, 17), Decimal("90"), "P", 100)
    bad = OrderRequest("o1", option, Side.SELL, OrderType.LMT, 1, limit_price=Decimal("1.00"))
    assert sim.broker.place_order(bad)
    assert "option not tradable" in sim.listener.status_events("o1")[0].reason
    assert sim.broker.place_order(make_order("z1", 0))
    assert sim.listener.statuses("z1") == [OrderStatus.REJECTED]
    assert sim.broker.place_order(make_order("l1", order_type=OrderType.LMT))
    assert "limit price" in sim.listener.status_events("l1")[0].reason
    assert not sim.broker.place_order(make_order("u1"))  # a rejected id is still taken
    assert sim.broker.open_orders() == []


def test_a_listener_that_places_an_order_from_its_callback_does_not_deadlock(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    class ProtectingListener:
        """Places a protective stop from inside the entry's FILLED callback (re-entrant)."""

        def __init__(self) -> None:
            self.events: list[BrokerEvent] = []
            self.placed: bool | None = None

        def on_quote(self, quote: Quote) -> None:
            pass

        def on_broker_event(self, event: BrokerEvent) -> None:
            self.events.append(event)
            if (
                isinstance(event, OrderStatusEvent)
                and event.status is OrderStatus.FILLED
                and event.client_order_id == "entry"
            ):
                stop = make_order("stop", 100, Side.SELL, OrderType.STP, stop=Decimal("1.00"))
                self.placed = sim.broker.place_order(stop)

    listener = ProtectingListener()
    sim = make_sim(listener=listener)
    sim.broker.place_order(make_order("entry"))
    assert listener.placed is True
    ids = [e.client_order_id for e in listener.events if isinstance(e, OrderStatusEvent)]
    assert ids == ["entry", "entry", "stop"]  # SUBMITTED, FILLED, then the stop's SUBMITTED


def test_orders_from_several_threads_while_the_market_steps_keep_each_orders_events_in_order(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()

    def trade(worker: int) -> None:
        for i in range(20):
            side = Side.BUY if i % 2 == 0 else Side.SELL
            sim.broker.place_order(make_order(f"w{worker}-{i}", 100 * (worker + 1), side))

    threads = [threading.Thread(target=trade, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    sim.step(30)
    for thread in threads:
        thread.join(timeout=10.0)
    assert not any(thread.is_alive() for thread in threads)
    sim.step(30)
    for worker in range(4):
        for i in range(20):
            events = sim.listener.order_events(f"w{worker}-{i}")
            first, rest = events[0], events[1:]
            assert isinstance(first, OrderStatusEvent) and first.status is OrderStatus.SUBMITTED
            assert [type(e) for e in rest] == [ExecutionEvent, OrderStatusEvent] * (len(rest) // 2)
            assert sum(e.quantity for e in rest if isinstance(e, ExecutionEvent)) == 100 * (
                worker + 1
            )
            last = rest[-1]
            assert isinstance(last, OrderStatusEvent) and last.status is OrderStatus.FILLED
    assert sim.broker.positions() == []  # each worker bought and sold the same shares
    assert len({e.exec_id for e in sim.broker.executions()}) == len(sim.broker.executions())


def test_stop_cancels_the_market_timer_and_is_idempotent(make_sim: MakeSim) -> None:
    sim = make_sim()
    sim.broker.stop()
    sim.broker.stop()
    count = len(sim.listener.quotes)
    sim.step(5)
    assert len(sim.listener.quotes) == count
    assert sim.clock.next_due() is None
    assert isinstance(sim.broker.account(), AccountSnapshot)  # reads still work


def test_starting_twice_is_refused(make_sim: MakeSim) -> None:
    sim = make_sim()
    with pytest.raises(RuntimeError, match="already started"):
        sim.broker.start(sim.listener)


def test_a_simulator_that_takes_over_another_continues_its_market_account_and_orders(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    first = make_sim()
    assert first.broker.place_order(make_order("b1", 100))
    rest = make_order("rest", 100, order_type=OrderType.LMT, limit=Decimal("50"))
    assert first.broker.place_order(rest)
    first.step(30)
    last = first.quote("AAA")
    first.broker.stop()
    second = make_sim(start=first.clock.now(), seed=99, take_over=first.broker)
    assert [(p.contract.key, p.quantity) for p in second.broker.positions()] == [("AAA", 100)]
    assert [o.client_order_id for o in second.broker.open_orders()] == ["rest"]
    # The first step quotes the market where the first simulator left it, not seed 99's start.
    assert (second.quote("AAA").bid, second.quote("AAA").ask) == (last.bid, last.ask)
    fresh = make_sim(start=first.clock.now(), seed=99)
    assert (fresh.quote("AAA").bid, fresh.quote("AAA").ask) != (last.bid, last.ask)


def test_a_started_simulator_refuses_to_take_over_another(make_sim: MakeSim) -> None:
    first, second = make_sim(), make_sim()
    first.broker.stop()
    with pytest.raises(RuntimeError, match="before start"):
        second.broker.take_over(first.broker)
