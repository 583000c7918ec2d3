"""Bounded memory on the IB path (broker/ib/retention.py): what ended is kept one whole trading
day, then forgotten; de-duplication and settlement credits still work inside that bound (pure
parts and an unconnected ``IB``: no socket, no thread)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ib_async import IB, Execution, Fill, Order, OrderState, Stock, Trade
from ib_async import CommissionReport as IbCommissionReport
from ib_async import OrderStatus as IbOrderStatus

from broker.ib.account import AccountFeed
from broker.ib.context import Emitter, IbContext, IbOptions
from broker.ib.flow import OrderFlow
from broker.ib.ib_history import IbForgotten, forget_filed
from broker.ib.order_state import OrderTable, Tracked
from broker.ib.orders import OrderDesk
from broker.ib.parsing.retired import Retired
from broker.ib.parsing.settlement import SettlementWatch
from broker.ib.retention import DayRoll, Forgetting, return_free_memory
from core.calendar import TradingCalendar
from core.clock import VirtualClock, WallClock
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from core.events import ExecutionEvent, OrderStatusEvent

TZ = ZoneInfo("America/New_York")
T = datetime(2026, 1, 6, 10, 0, tzinfo=TZ)
AAPL = Contract.stock("AAPL")
ORDERS = 500


def execution(exec_id: str, cid: str, quantity: int = 100) -> ExecutionEvent:
    return ExecutionEvent(exec_id, cid, AAPL, Side.BUY, quantity, Decimal("190"), Decimal(1), T)


def filled(cid: str, quantity: int = 100) -> OrderStatusEvent:
    return OrderStatusEvent(cid, OrderStatus.FILLED, quantity, 0, Decimal("190"), T)


def trade_many(flow: OrderFlow, first: int, count: int) -> None:
    """``count`` orders, each filled by one execution with its commission, then FILLED."""
    for n in range(first, first + count):
        cid = f"o{n}"
        assert len(flow.execution(execution(f"x{n}", cid), 0.0, commission=Decimal(1))) == 1
        assert flow.status(filled(cid), 0.0) == [filled(cid)]


# -- Retired -------------------------------------------------------------------------------------
def test_retired_forgets_a_key_only_when_it_was_ended_at_the_previous_roll_too() -> None:
    retired: Retired[str] = Retired()
    assert retired.roll(["a", "b"]) == set()  # first seen ended: kept a whole period
    assert retired.roll(["a", "c"]) == {"a"}  # b came back to life: not forgotten
    assert retired.roll(["c"]) == {"c"}
    assert len(retired) == 0


# -- OrderFlow -----------------------------------------------------------------------------------
def test_the_flow_stays_bounded_over_many_days_of_ended_orders() -> None:
    flow = OrderFlow()
    for day in range(6):
        trade_many(flow, day * ORDERS, ORDERS)
        flow.forget_ended()
    sizes = flow.sizes()
    # Six days of 500 orders: only the last day's are still known (kept one whole day).
    assert sizes["lines"] == ORDERS, sizes
    assert sizes["seen"] == ORDERS and sizes["delivered"] == ORDERS, sizes


def test_a_late_duplicate_execution_within_the_bound_is_still_dropped() -> None:
    flow = OrderFlow()
    trade_many(flow, 0, 10)
    flow.forget_ended()  # the day changed once: yesterday's are still known
    # reqExecutions after a reconnect lists the day's executions again.
    assert flow.execution(execution("x3", "o3"), 1.0, commission=Decimal(1)) == []
    assert flow.status(filled("o3"), 1.0) == []  # its terminal status is not repeated either
    assert flow.is_terminal("o3")


def test_what_is_still_waiting_is_never_forgotten() -> None:
    flow = OrderFlow()
    flow.execution(execution("x1", "o1", 40), 0.0)  # waits for its commission
    held = OrderStatusEvent("o2", OrderStatus.FILLED, 100, 0, Decimal("190"), T)
    assert flow.status(held, 0.0) == []  # held until its executions come
    flow.forget_ended()
    flow.forget_ended()
    assert flow.waiting() == 2
    [out] = flow.commission("x1", Decimal("0.2"), 0.5)
    assert out.exec_id == "x1"


# -- settlement matcher --------------------------------------------------------------------------
def test_the_settlement_matcher_forgets_counted_executions_after_a_day_but_not_within() -> None:
    watch = SettlementWatch(
        account="DU1", expired=lambda c: False, underlying_price=lambda s: None, grace_s=2.0
    )
    for n in range(ORDERS):
        watch.execution(f"x{n}", AAPL, Side.BUY, 1)
    assert watch.position(AAPL, ORDERS, now_s=0.0, time=T) == []
    assert watch.forget_counted() == 0
    # A replay within the day counts nothing again: the position matches, nothing unexplained.
    for n in range(ORDERS):
        watch.execution(f"x{n}", AAPL, Side.BUY, 1)
    assert watch.position(AAPL, ORDERS, now_s=1.0, time=T) == []
    assert watch.expire(10.0) == ([], [])
    assert watch.forget_counted() == ORDERS
    assert watch.forget_counted() == 0


# -- the desk's table ----------------------------------------------------------------------------
def request(cid: str) -> OrderRequest:
    return OrderRequest(cid, AAPL, Side.BUY, OrderType.LMT, 100, limit_price=Decimal(1))


def test_the_desk_forgets_ended_orders_after_a_day_and_keeps_working_ones() -> None:
    table = OrderTable()
    for n in range(ORDERS):
        tracked = Tracked(request(f"o{n}"), order=Order(orderId=n + 1))
        tracked.status = OrderStatus.FILLED if n else OrderStatus.SUBMITTED
        table.add(tracked)
    assert table.forget_ended() == 0
    assert table.forget_ended() == ORDERS - 1
    assert list(table.orders) == ["o0"] and table.by_ib_id == {1: "o0"}


# -- ib_async's caches ---------------------------------------------------------------------------
def ib_trade(ib: IB, order_id: int, status: str) -> Trade:
    order = Order(orderId=order_id, clientId=17, permId=1000 + order_id, orderRef=f"o{order_id}")
    trade = Trade(Stock("AAPL", "SMART", "USD"), order, IbOrderStatus(order_id, status), [], [])
    key = ib.wrapper.orderKey(17, order_id, order.permId)
    ib.wrapper.trades[key] = trade
    ib.wrapper.permId2Trade[order.permId] = trade
    execution = Execution(execId=f"x{order_id}", orderId=order_id, permId=order.permId, shares=1)
    fill = Fill(trade.contract, execution, IbCommissionReport(), T)
    ib.wrapper.fills[execution.execId] = fill
    trade.fills.append(fill)
    return trade


def test_ib_async_keeps_open_trades_and_live_tickers_and_forgets_the_rest_after_a_day() -> None:
    ib = IB()
    for n in range(1, ORDERS + 1):
        ib_trade(ib, n, "Filled")
    working = ib_trade(ib, ORDERS + 1, "Submitted")
    live = ib.wrapper.startTicker(1, Stock("AAPL", "SMART", "USD", conId=1), "mktData")
    for req_id in range(2, 200):  # chain scans: subscribed, then cancelled
        contract = Stock(f"S{req_id}", "SMART", "USD", conId=req_id)
        ticker = ib.wrapper.startTicker(req_id, contract, "mktData")
        ib.wrapper.endTicker(ticker, "mktData")
    retired = IbForgotten()
    assert retired.roll(ib) == 0  # ended today: kept until the next day's change
    assert len(ib.wrapper.trades) == ORDERS + 1
    retired.roll(ib)
    sizes = IbForgotten.sizes(ib)
    assert sizes == {
        "trades": 1,
        "permId2Trade": 1,
        "fills": 1,
        "reqId2Ticker": 1,
        "tickers": 1,
    }, sizes
    assert list(ib.wrapper.trades.values()) == [working]
    assert ib.wrapper.fills == {"x501": working.fills[0]}
    assert ib.wrapper.reqId2Ticker == {1: live}
    assert ib.tickers() == [live]


# -- the day's change ----------------------------------------------------------------------------
def test_the_roll_is_due_once_per_trading_day_change() -> None:
    clock = VirtualClock(TZ, T)
    roll = DayRoll(clock.now, TradingCalendar(TZ))
    assert not roll.due()  # notes the day
    clock.skip_to(T + timedelta(hours=5))
    assert not roll.due()
    clock.skip_to(T + timedelta(days=1))
    assert roll.due()
    assert not roll.due()


def test_the_connection_forgets_on_the_clock_the_engine_gave_it_later() -> None:
    """The engine replaces the adapter's clock once it has anchored its own
    (``IBBroker.use_clock``): the day's change is read on the context's clock of the moment."""
    ib = IB()
    ctx = IbContext(
        options=IbOptions(),
        ib=ib,
        clock=WallClock(TZ),
        calendar=TradingCalendar(TZ),
        emitter=Emitter(),
    )
    flow = OrderFlow()
    desk = OrderDesk(ctx, flow, read_orders=_no_orders)
    forgetting = Forgetting(ctx, desk, AccountFeed(ctx))
    engine_clock = VirtualClock(TZ, T)
    ctx.clock = engine_clock
    trade_many(flow, 0, 10)
    ib_trade(ib, 1, "Filled")
    assert forgetting.tick() == 0  # notes the day
    for day in (1, 2):
        engine_clock.skip_to(T + timedelta(days=day))
        forgetting.tick()
    sizes = forgetting.sizes()
    assert sizes["flow.lines"] == 0 and sizes["flow.seen"] == 0, sizes
    assert sizes["ib.trades"] == 0 and sizes["ib.fills"] == 0, sizes


async def _no_orders() -> tuple[list[Trade], list[Trade]]:
    return [], []


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


def test_the_roll_gives_the_c_heaps_free_pages_back() -> None:
    """Memory freed between long-lived blocks stays resident until ``malloc_trim``: 40 MB of
    2 KB blocks, every 50th kept, the rest freed; the roll's trim returns most of it."""
    blocks = [bytearray(2048) for _ in range(20_000)]
    kept = blocks[::50]
    del blocks
    before = _rss_mb()
    assert return_free_memory()
    after = _rss_mb()
    assert before - after > 15, (before, after)
    assert len(kept) == 400


def test_a_completed_orders_read_leaves_ib_async_as_it_found_it() -> None:
    """ib_async files every completed order it does not know as it reads them; tws-sim lists
    every order it ever completed, so each read (every 5 s) re-filed the retired ones."""
    ib = IB()
    working = ib_trade(ib, 1, "Submitted")
    known = set(ib.wrapper.trades)
    ib.wrapper._results["completedOrders"] = []
    for n in range(2, 200):
        order = Order(orderId=0, clientId=17, permId=5000 + n, orderRef=f"old{n}")
        state = OrderState(status="Filled")
        ib.wrapper.completedOrder(Stock("AAPL", "SMART", "USD", conId=1), order, state)
    completed = ib.wrapper._results.pop("completedOrders")
    placed_meanwhile = ib_trade(ib, 300, "Filled")  # not in the reply: kept
    assert len(ib.wrapper.trades) == 200

    assert forget_filed(ib, completed, known) == 198

    assert list(ib.wrapper.trades.values()) == [working, placed_meanwhile]
    assert list(ib.wrapper.permId2Trade.values()) == [working, placed_meanwhile]
    assert len(completed) == 198  # the caller still has the whole reply


async def test_the_account_feeds_completed_orders_read_drops_what_ib_async_filed() -> None:
    """``AccountFeed.completed_trades`` (and ``ib_orders``) hand the reply on and leave
    ``IB.wrapper`` as before the read (the read itself faked at the ``IB`` seam)."""
    ib = IB()
    working = ib_trade(ib, 1, "Submitted")
    ctx = IbContext(
        options=IbOptions(),
        ib=ib,
        clock=VirtualClock(TZ, T),
        calendar=TradingCalendar(TZ),
        emitter=Emitter(),
    )

    async def completed_orders(api_only: bool) -> list[Trade]:
        ib.wrapper._results["completedOrders"] = []
        for n in range(2, 50):
            order = Order(orderId=0, clientId=17, permId=5000 + n, orderRef=f"old{n}")
            contract = Stock("AAPL", "SMART", "USD", conId=1)
            ib.wrapper.completedOrder(contract, order, OrderState(status="Filled"))
        return list(ib.wrapper._results.pop("completedOrders"))

    ib.reqCompletedOrdersAsync = completed_orders  # type: ignore[method-assign]
    feed = AccountFeed(ctx)
    for _ in range(3):
        assert len(await feed.completed_trades()) == 48
    assert list(ib.wrapper.trades.values()) == [working]
