"""SimBroker: fills, partial fills, limits, stops, attached orders, commissions, the account,
cancel and modify. Deterministic: a max-speed VirtualClock driven by the test thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from core.domain import OrderRequest, OrderStatus, OrderType, Quote, Side
from core.events import ExecutionEvent, OrderStatusEvent

if TYPE_CHECKING:
    from conftest import MakeSim, Sim

MakeOrder = Callable[..., OrderRequest]
S, P, F, C = (
    OrderStatus.SUBMITTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
)


def cents(price: float) -> Decimal:
    return Decimal(repr(price))


def quotes_at(sim: Sim, symbol: str = "AAA") -> dict[datetime, Quote]:
    return {q.time: q for q in sim.listener.quotes if q.contract.symbol == symbol}


def step_until_done(sim: Sim, client_order_id: str, max_steps: int = 50) -> None:
    for _ in range(max_steps):
        statuses = sim.listener.statuses(client_order_id)
        if statuses and statuses[-1].is_terminal:
            return
        sim.step()
    raise AssertionError(f"{client_order_id} not done after {max_steps} steps")


def test_a_market_buy_fills_at_the_ask_and_a_market_sell_at_the_bid(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    quote = sim.quote()
    assert sim.broker.place_order(make_order("b1", 100))
    assert sim.broker.place_order(make_order("s1", 100, Side.SELL))
    (buy,) = sim.listener.executions("b1")
    (sell,) = sim.listener.executions("s1")
    assert (buy.quantity, buy.price, buy.side) == (100, cents(quote.ask), Side.BUY)
    assert (sell.quantity, sell.price, sell.side) == (100, cents(quote.bid), Side.SELL)
    assert sim.listener.statuses("b1") == [S, F]
    done = sim.listener.status_events("b1")[-1]
    assert (done.filled, done.remaining, done.avg_fill_price) == (100, 0, cents(quote.ask))
    assert done.broker_order_id is not None
    assert sim.broker.positions() == []
    assert sim.broker.open_orders() == []


def test_a_market_order_larger_than_the_displayed_size_fills_in_parts_on_later_steps(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    shown = sim.quote().ask_size
    sim.broker.place_order(make_order("big", 3000))
    (first,) = sim.listener.executions("big")
    assert first.quantity == shown < 3000
    partial = sim.listener.status_events("big")[-1]
    assert (partial.status, partial.filled, partial.remaining) == (P, shown, 3000 - shown)
    (state,) = sim.broker.open_orders()
    assert (state.filled, state.status) == (shown, P)
    step_until_done(sim, "big")
    events = sim.listener.order_events("big")
    assert [type(e) for e in events[1:]] == [ExecutionEvent, OrderStatusEvent] * (
        (len(events) - 1) // 2
    )
    fills = sim.listener.executions("big")
    assert sum(f.quantity for f in fills) == 3000
    quotes = quotes_at(sim)
    for fill in fills:
        assert fill.price == cents(quotes[fill.time].ask)
        assert fill.quantity <= quotes[fill.time].ask_size
    assert sim.listener.statuses("big")[-1] is F
    notional = sum(f.price * f.quantity for f in fills)
    assert sim.listener.status_events("big")[-1].avg_fill_price == (notional / 3000).quantize(
        Decimal("0.0001")
    )
    assert [(p.contract.symbol, p.quantity) for p in sim.broker.positions()] == [("AAA", 3000)]


def test_a_limit_buy_rests_until_the_ask_reaches_the_limit_and_fills_at_the_touch(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    limit = cents(sim.quote().ask) - Decimal("2.00")
    sim.broker.place_order(make_order("lmt", 100, order_type=OrderType.LMT, limit=limit))
    sim.step(5)
    assert sim.listener.executions("lmt") == []
    sim.broker.set_mid("AAA", float(limit) - 1.0)
    sim.step()
    (fill,) = sim.listener.executions("lmt")
    assert fill.price == cents(sim.quote().ask)
    assert fill.price < limit  # at the touch: the buyer gets the better price


def test_a_marketable_limit_order_fills_at_once_at_the_touch(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    quote = sim.quote()
    limit = cents(quote.bid) - Decimal("1.00")
    sim.broker.place_order(make_order("ls", 100, Side.SELL, OrderType.LMT, limit=limit))
    (fill,) = sim.listener.executions("ls")
    assert fill.price == cents(quote.bid)


def test_a_sell_stop_triggers_when_the_bid_falls_to_it_and_fills_like_a_market_order(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    sim.broker.place_order(make_order("long", 100))
    stop = cents(sim.quote().bid) - Decimal("1.00")
    sim.broker.place_order(make_order("stp", 100, Side.SELL, OrderType.STP, stop=stop))
    sim.step(3)
    assert sim.listener.executions("stp") == []
    sim.broker.set_mid("AAA", float(stop) - 0.50)
    sim.step()
    (fill,) = sim.listener.executions("stp")
    assert fill.price == cents(sim.quote().bid) <= stop
    assert sim.broker.positions() == []


def test_a_buy_stop_triggers_when_the_ask_rises_to_it(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    stop = cents(sim.quote().ask) + Decimal("1.00")
    sim.broker.place_order(make_order("bstp", 100, Side.BUY, OrderType.STP, stop=stop))
    sim.step(2)
    assert sim.listener.executions("bstp") == []
    sim.broker.set_mid("AAA", float(stop) + 0.50)
    sim.step()
    (fill,) = sim.listener.executions("bstp")
    assert fill.price == cents(sim.quote().ask) >= stop


def test_an_attached_stop_is_held_until_its_parent_fills(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    quote = sim.quote()
    below = cents(quote.ask) - Decimal("2.00")
    sim.broker.place_order(make_order("entry", 200, order_type=OrderType.LMT, limit=below))
    # A stop above the bid would trigger at once if it were active.
    stop = cents(quote.bid) + Decimal("1.00")
    child = make_order("protect", 200, Side.SELL, OrderType.STP, stop=stop, parent_id="entry")
    sim.broker.place_order(child)
    sim.step(3)
    assert sim.listener.executions("protect") == []
    states = {s.client_order_id: s for s in sim.broker.open_orders()}
    assert (states["protect"].filled, states["protect"].status) == (0, S)
    sim.broker.modify_order("entry", limit_price=cents(sim.quote().ask) + Decimal("2.00"))
    assert sim.listener.statuses("entry")[-1] is F
    sim.step()
    assert sum(f.quantity for f in sim.listener.executions("protect")) == 200
    assert sim.listener.statuses("protect") == [S, F]
    assert sim.broker.positions() == []


def test_an_attached_stop_covers_exactly_what_a_cancelled_parent_filled(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    sim.broker.place_order(make_order("entry", 5000))
    bought = sim.listener.executions("entry")[0].quantity
    stop = cents(sim.quote().bid) - Decimal("1.00")
    child = make_order("protect", 5000, Side.SELL, OrderType.STP, stop=stop, parent_id="entry")
    sim.broker.place_order(child)
    sim.broker.cancel_order("entry")
    cancelled = sim.listener.status_events("entry")[-1]
    assert (cancelled.status, cancelled.filled, cancelled.remaining) == (C, bought, 5000 - bought)
    resized = sim.listener.status_events("protect")[-1]
    assert (resized.status, resized.remaining) == (S, bought)
    (state,) = sim.broker.open_orders()
    assert (state.client_order_id, state.quantity) == ("protect", bought)
    sim.broker.set_mid("AAA", float(stop) - 0.50)
    step_until_done(sim, "protect")
    assert sim.listener.statuses("protect")[-1] is F
    assert sum(f.quantity for f in sim.listener.executions("protect")) == bought
    assert sim.broker.positions() == []


def test_an_attached_order_is_cancelled_when_its_parent_is_cancelled_unfilled(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    below = cents(sim.quote().ask) - Decimal("2.00")
    sim.broker.place_order(make_order("entry", 100, order_type=OrderType.LMT, limit=below))
    stop = below - Decimal("2.00")
    child = make_order("protect", 100, Side.SELL, OrderType.STP, stop=stop, parent_id="entry")
    sim.broker.place_order(child)
    sim.broker.cancel_order("entry")
    assert sim.listener.status_events("entry")[-1].reason == "cancelled by request"
    last = sim.listener.status_events("protect")[-1]
    assert last.status is C
    assert "entry" in last.reason and "no fill" in last.reason
    assert sim.broker.open_orders() == []
    late = make_order("late", 100, Side.SELL, OrderType.STP, stop=stop, parent_id="entry")
    assert sim.broker.place_order(late)
    assert sim.listener.statuses("late") == [OrderStatus.REJECTED]


def test_an_attached_order_naming_an_unknown_parent_is_rejected(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    orphan = make_order("orphan", 100, Side.SELL, OrderType.STP, stop=Decimal("1"), parent_id="x")
    assert sim.broker.place_order(orphan)
    (event,) = sim.listener.status_events("orphan")
    assert event.status is OrderStatus.REJECTED
    assert "unknown parent order 'x'" in event.reason


def test_commission_is_the_minimum_on_a_small_order_and_per_share_on_a_large_one(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    sim.broker.place_order(make_order("small", 100))
    assert [f.commission for f in sim.listener.executions("small")] == [Decimal("0.35")]
    sim.broker.place_order(make_order("large", 2000, Side.SELL))
    step_until_done(sim, "large")
    fills = sim.listener.executions("large")
    assert len(fills) > 1
    assert fills[0].commission == max(Decimal("0.35"), Decimal("0.0035") * fills[0].quantity)
    assert sum(f.commission for f in fills) == Decimal("7.0000")
    exec_ids = [e.exec_id for e in sim.broker.executions()]
    prefix = exec_ids[0].rsplit("-", 1)[0]  # one random prefix per simulator instance
    assert exec_ids == [f"{prefix}-{n:08d}" for n in range(1, len(exec_ids) + 1)]


def test_the_account_values_positions_at_the_mid_with_long_and_short_margin(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim(starting_cash=Decimal("100000"))
    sim.broker.place_order(make_order("a", 100))
    sim.broker.place_order(make_order("b", 200, Side.SELL, symbol="BBB"))
    (fa,) = sim.listener.executions("a")
    (fb,) = sim.listener.executions("b")
    cash = Decimal("100000") - 100 * fa.price - fa.commission + 200 * fb.price - fb.commission
    sim.step()
    qa, qb = sim.quote("AAA"), sim.quote("BBB")
    mark_a = (cents(qa.bid) + cents(qa.ask)) / 2
    mark_b = (cents(qb.bid) + cents(qb.ask)) / 2
    account = sim.broker.account()
    assert account.cash == cash
    assert account.net_liquidation == (cash + 100 * mark_a - 200 * mark_b).quantize(Decimal("0.01"))
    maint = (100 * mark_a * Decimal("0.25") + 200 * mark_b * Decimal("0.30")).quantize(
        Decimal("0.01")
    )
    assert account.maint_margin == maint
    assert account.available_funds == account.net_liquidation - maint
    assert sim.listener.accounts()[-1] == account  # the step's snapshot, at the same moment
    positions = {p.contract.symbol: (p.quantity, p.avg_cost) for p in sim.broker.positions()}
    assert positions == {"AAA": (100, fa.price), "BBB": (-200, fb.price)}


def test_cancelling_a_working_order_reports_it_and_a_finished_or_unknown_one_is_left_alone(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    below = cents(sim.quote().ask) - Decimal("2.00")
    sim.broker.place_order(make_order("w", 300, order_type=OrderType.LMT, limit=below))
    sim.broker.cancel_order("w")
    done = sim.listener.status_events("w")[-1]
    assert (done.status, done.filled, done.remaining, done.reason) == (
        C,
        0,
        300,
        "cancelled by request",
    )
    count = len(sim.listener.events)
    sim.broker.cancel_order("w")
    sim.broker.cancel_order("nobody")
    assert len(sim.listener.events) == count
    assert sim.broker.open_orders() == []


def test_modify_changes_quantity_and_price_and_may_fill_at_once(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    below = cents(sim.quote().ask) - Decimal("2.00")
    sim.broker.place_order(make_order("m", 400, order_type=OrderType.LMT, limit=below))
    sim.broker.modify_order("m", quantity=200)
    acked = sim.listener.status_events("m")[-1]
    assert (acked.status, acked.remaining) == (S, 200)
    assert sim.broker.open_orders()[0].quantity == 200
    sim.broker.modify_order("m", limit_price=cents(sim.quote().ask) + Decimal("1.00"))
    assert sim.listener.statuses("m") == [S, S, S, F]
    assert sum(f.quantity for f in sim.listener.executions("m")) == 200


def test_modify_refuses_a_quantity_below_the_filled_and_a_price_the_order_lacks(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    sim.broker.place_order(make_order("p", 5000))
    filled = sim.listener.executions("p")[0].quantity
    count = len(sim.listener.events)
    sim.broker.modify_order("p", quantity=filled - 100)
    sim.broker.modify_order("p", limit_price=Decimal("10.00"))  # a MKT order has no limit
    assert len(sim.listener.events) == count
    sim.broker.modify_order("p", quantity=filled)  # down to what has filled: done
    done = sim.listener.status_events("p")[-1]
    assert (done.status, done.filled, done.remaining) == (F, filled, 0)
    assert sim.broker.open_orders() == []


def test_two_simulator_runs_never_reuse_an_execution_id(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    """The ledger stores each execution id once: a second run must not repeat the first's."""
    first, second = make_sim(), make_sim()
    for sim in (first, second):
        sim.broker.place_order(make_order("same-id", 100))
    [a] = first.broker.executions()
    [b] = second.broker.executions()
    assert a.exec_id != b.exec_id
