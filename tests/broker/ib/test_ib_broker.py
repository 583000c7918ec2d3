"""IBBroker against the simulated TWS through the real socket protocol: connect and clock,
coalesced quotes, orders and brackets, executions with commissions, reads, the gate and
dry-run."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from ib_support import (
    Harness,
    all_open_orders,
    limit,
    stop,
    wait_until,
)
from loguru import logger

from broker.tws.server import TwsSimServer
from broker.tws.settings import DEFAULT_ACCOUNT
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Quote, Side
from core.events import ExecutionEvent, OrderStatusEvent
from core.gate import GateState
from tests.support.recorder import Recorder

MakeHarness = Callable[..., Harness]


def test_connecting_reads_the_broker_time_and_the_paper_account(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(client_id=11)
    assert abs(h.clock.now() - tws.now()) < timedelta(seconds=2)
    assert h.broker.account_id == DEFAULT_ACCOUNT and h.broker.client_id == 11
    assert h.broker.connected
    assert tws.connected_client_ids() == [11]


def test_quotes_arrive_stamped_with_the_clock_and_coalesced_per_contract(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    # One quote per contract per 10 clock seconds = 0.5 wall seconds at 20x; the server
    # steps every clock second (20 ticks a wall second per symbol).
    h = harness(quote_interval_clock_s=10.0)
    delivered: dict[str, list[float]] = {"AAPL": [], "MSFT": []}
    record = h.recorder.on_quote

    def on_quote(quote: Quote) -> None:
        delivered[quote.contract.key].append(time.monotonic())
        record(quote)

    h.recorder.on_quote = on_quote  # type: ignore[method-assign]
    h.start("AAPL", "MSFT")
    wait_until(lambda: len(delivered["MSFT"]) >= 4, what="MSFT quotes")
    stats = h.broker.stats()
    assert stats["quotes_delivered"] < stats["quotes_received"] / 3
    for key, arrivals in delivered.items():
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert all(gap >= 0.45 for gap in gaps), (key, gaps)  # at most one per flush
    quote = h.recorder.quotes[-1]
    assert abs(quote.time - h.clock.now()) < timedelta(seconds=15)  # stamped when received
    assert 0 < quote.bid < quote.ask and quote.bid_size > 0


def test_a_bracket_goes_out_as_one_family_and_its_fill_reaches_the_engine_once_with_commission(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    ask = h.quote().ask
    assert h.broker.place_order(limit("e1", Side.BUY, ask + 0.05, has_attached=True))
    assert h.broker.place_order(
        stop("e1.stop", Side.SELL, ask - 5, parent_id="e1", oca_group="oca-e1")
    )
    wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("e1"), what="the entry filled")
    wait_until(lambda: h.recorder.statuses("e1.stop"), what="the stop acknowledged")
    events = [e for e in h.recorder.events if getattr(e, "client_order_id", "") == "e1"]
    kinds = [type(e).__name__ for e in events]
    # Every execution comes before the status that counts it.
    assert kinds.index("ExecutionEvent") < kinds.index(
        "OrderStatusEvent", kinds.index("ExecutionEvent")
    )
    executions = h.recorder.executions("e1")
    assert sum(e.quantity for e in executions) == 100
    assert len({e.exec_id for e in executions}) == len(executions)
    assert all(e.commission > 0 for e in executions)
    [working] = [t for t in all_open_orders(tws) if t.order.orderRef == "e1.stop"]
    parent_id = working.order.parentId
    assert parent_id > 0 and (working.order.ocaGroup, working.order.ocaType) == ("oca-e1", 2)
    assert working.order.auxPrice == round(ask - 5, 2)
    assert h.broker.stats()["orders_sent"] == 2


def test_an_entry_without_an_attached_order_goes_out_at_once(harness: MakeHarness) -> None:
    h = harness(attached_wait_s=30.0).start("AAPL")  # a hold would outlast the wait below
    assert h.broker.place_order(limit("lone", Side.BUY, h.quote().ask + 0.05))
    wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("lone"), what="filled")
    assert h.broker.stats()["orders_sent"] == 1


def test_an_entry_whose_attached_order_never_comes_goes_out_alone_and_an_error_is_logged(
    harness: MakeHarness,
) -> None:
    errors: list[str] = []
    sink = logger.add(lambda m: errors.append(str(m)), level="ERROR", format="{message}")
    try:
        h = harness(attached_wait_s=1.0).start("AAPL")
        assert h.broker.place_order(
            limit("late", Side.BUY, h.quote().ask + 0.05, has_attached=True)
        )
        assert h.broker.stats()["orders_sent"] == 0  # held here, not at IB
        wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("late"), what="filled")
    finally:
        logger.remove(sink)
    assert h.broker.stats()["orders_sent"] == 1  # sent once, with transmit=True
    assert any("late waited" in e and "never came" in e for e in errors), errors


def test_cancel_modify_and_global_cancel_reach_ib_and_come_back_as_statuses(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    bid = h.quote().bid
    h.broker.place_order(limit("r1", Side.BUY, bid - 5, reduce_only=True))
    h.broker.place_order(limit("r2", Side.BUY, bid - 6, reduce_only=True))
    h.broker.place_order(limit("r3", Side.BUY, bid - 7, reduce_only=True))
    wait_until(lambda: all(h.recorder.statuses(c) for c in ("r1", "r2", "r3")), what="working")
    h.broker.modify_order("r1", limit_price=Decimal(str(round(bid - 4, 2))), quantity=50)
    wait_until(
        lambda: any(
            t.order.orderRef == "r1" and t.order.lmtPrice == round(bid - 4, 2)
            for t in all_open_orders(tws)
        ),
        what="the modification at IB",
    )
    h.broker.cancel_order("r1")
    wait_until(lambda: OrderStatus.CANCELLED in h.recorder.statuses("r1"), what="r1 cancelled")
    h.broker.cancel_all()
    wait_until(
        lambda: all(OrderStatus.CANCELLED in h.recorder.statuses(c) for c in ("r2", "r3")),
        what="global cancel",
    )
    assert h.broker.open_orders() == []
    assert h.recorder.statuses("r1").count(OrderStatus.CANCELLED) == 1


def test_reads_give_the_order_manager_what_it_reconciles_with(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    quote = h.quote()
    h.broker.place_order(limit("buy", Side.BUY, quote.ask + 0.05, reduce_only=True))
    h.broker.place_order(limit("rest", Side.SELL, quote.ask + 20, reduce_only=True))
    wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("buy"), what="filled")
    wait_until(lambda: h.recorder.statuses("rest"), what="resting")
    [working] = h.broker.open_orders()
    assert (working.client_order_id, working.status, working.quantity) == (
        "rest",
        OrderStatus.SUBMITTED,
        100,
    )
    executions = h.broker.executions()
    assert {e.client_order_id for e in executions} == {"buy"}
    assert sum(e.quantity for e in executions) == 100 and all(e.commission > 0 for e in executions)
    assert [e.exec_id for e in executions] == [e.exec_id for e in h.recorder.executions("buy")]
    wait_until(h.broker.positions, what="the position")
    [position] = h.broker.positions()
    assert (position.contract, position.quantity) == (Contract.stock("AAPL"), 100)
    account = h.broker.account()
    assert account.net_liquidation > 0 and account.maint_margin > 0
    assert h.recorder.accounts(), "account snapshots are delivered"


def test_place_order_checks_the_gate_again_and_a_protective_stop_passes_a_closed_gate(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(gate=GateState.CLOSED).start("AAPL")
    assert not h.broker.place_order(limit("entry", Side.BUY, h.quote().ask))
    assert h.broker.place_order(stop("guard", Side.SELL, h.quote().bid - 10))
    wait_until(lambda: h.recorder.statuses("guard"), what="the stop at IB")
    assert h.recorder.statuses("entry") == []
    assert [t.order.orderRef for t in all_open_orders(tws)] == ["guard"]


def test_dry_run_acknowledges_orders_locally_and_never_sends_one(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(dry_run=True).start("AAPL")
    assert h.broker.name == "ib-dry-run"
    ask = h.quote().ask
    assert h.broker.place_order(limit("d1", Side.BUY, ask + 1))
    assert h.broker.place_order(stop("d1.stop", Side.SELL, ask - 5, parent_id="d1"))
    wait_until(lambda: h.recorder.statuses("d1.stop"), what="local acknowledgements")
    assert h.recorder.statuses("d1") == [OrderStatus.SUBMITTED]  # works, never fills
    h.broker.modify_order("d1.stop", stop_price=Decimal(str(round(ask - 6, 2))))
    assert {o.client_order_id for o in h.broker.open_orders()} == {"d1", "d1.stop"}
    h.broker.cancel_order("d1")
    wait_until(lambda: OrderStatus.CANCELLED in h.recorder.statuses("d1"), what="cancel")
    assert all_open_orders(tws) == []
    assert h.broker.stats()["orders_sent"] == 0
    assert h.broker.executions() == [] and h.broker.positions() == []
    assert h.recorder.accounts(), "account values still come from IB"


def test_an_order_ib_cannot_map_is_rejected_by_the_adapter_with_a_reason(
    harness: MakeHarness,
) -> None:
    h = harness().start()
    bad = OrderRequest("bad", Contract.stock("AAPL"), Side.BUY, OrderType.LMT, 100)
    assert h.broker.place_order(bad)
    wait_until(lambda: h.recorder.statuses("bad"), what="the rejection")
    [event] = h.recorder.status_events("bad")
    assert event.status is OrderStatus.REJECTED and "no limit price" in event.reason
    assert isinstance(event, OrderStatusEvent)
    assert not [e for e in h.recorder.events if isinstance(e, ExecutionEvent)]


def test_an_entry_whose_attached_stop_is_rejected_never_goes_out_unprotected(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(attached_wait_s=30.0).start("AAPL")
    ask = h.quote().ask
    assert h.broker.place_order(limit("naked", Side.BUY, ask + 0.05, has_attached=True))
    off_tick = OrderRequest(
        "naked.stop",
        Contract.stock("AAPL"),
        Side.SELL,
        OrderType.STP,
        100,
        stop_price=Decimal("150.123"),  # IB refuses it (110: not a multiple of the tick)
        parent_id="naked",
        reduce_only=True,
    )
    assert h.broker.place_order(off_tick)
    wait_until(lambda: h.recorder.statuses("naked.stop") == [OrderStatus.REJECTED], what="110")
    wait_until(lambda: h.recorder.statuses("naked") == [OrderStatus.CANCELLED], what="cancelled")
    assert (
        h.recorder.status_events("naked")[0].reason == "its attached order naked.stop was rejected"
    )
    assert h.recorder.executions() == []
    assert all_open_orders(tws) == []


def _place_and_cancel_at_once(h: Harness, entry: OrderRequest, child: OrderRequest) -> None:
    """Place a bracket and cancel its entry in one turn of the adapter's loop: the cancel is
    written before IB can have answered anything about the entry."""
    desk = h.broker._desk_or_fail()

    def burst() -> None:
        desk.place(entry)
        desk.place(child)
        desk.cancel(entry.client_order_id)

    h.broker._loop.call(burst, timeout_s=5.0)


def test_a_held_entry_cancelled_before_its_stop_arrives_never_reaches_ib_nor_does_its_stop(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(attached_wait_s=30.0).start("AAPL")
    ask = h.quote().ask
    assert h.broker.place_order(limit("h1", Side.BUY, ask + 0.05, has_attached=True))
    h.broker.cancel_order("h1")  # e.g. a halt between the entry and its stop
    assert h.broker.place_order(stop("h1.stop", Side.SELL, ask - 5, parent_id="h1"))
    wait_until(lambda: h.recorder.statuses("h1.stop"), what="the stop's end")
    assert h.recorder.statuses("h1") == [OrderStatus.CANCELLED]
    assert h.recorder.statuses("h1.stop") == [OrderStatus.CANCELLED]
    assert "h1 ended unfilled" in h.recorder.status_events("h1.stop")[0].reason
    assert h.broker.stats()["orders_sent"] == 0 and all_open_orders(tws) == []
    assert h.broker.open_orders() == []


def test_an_entry_cancelled_after_its_stop_released_it_but_before_ibs_ack_ends_filled_if_ib_fills(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    quote = h.quote()
    entry = limit("c1", Side.BUY, quote.ask + 1, has_attached=True)  # marketable: fills at once
    child = stop("c1.stop", Side.SELL, quote.bid - 5, parent_id="c1", oca_group="oca-c1")
    _place_and_cancel_at_once(h, entry, child)
    wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("c1"), what="the entry filled")
    assert sum(e.quantity for e in h.recorder.executions("c1")) == 100
    assert OrderStatus.CANCELLED not in h.recorder.statuses("c1")
    [working] = [t for t in all_open_orders(tws) if t.order.orderRef == "c1.stop"]
    assert working.order.totalQuantity == 100  # the position keeps its protective stop


def test_a_bracket_entry_cancelled_before_ibs_ack_that_ib_cancels_ends_cancelled_once(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    quote = h.quote()
    entry = limit("g1", Side.BUY, quote.bid - 5, has_attached=True)  # rests: IB cancels it
    child = stop("g1.stop", Side.SELL, quote.bid - 10, parent_id="g1")
    _place_and_cancel_at_once(h, entry, child)
    wait_until(lambda: OrderStatus.CANCELLED in h.recorder.statuses("g1"), what="g1 cancelled")
    wait_until(lambda: OrderStatus.CANCELLED in h.recorder.statuses("g1.stop"), what="its stop")
    assert h.recorder.statuses("g1").count(OrderStatus.CANCELLED) == 1
    assert h.recorder.executions() == []
    assert all_open_orders(tws) == [] and h.broker.open_orders() == []


def test_statuses_ib_reports_while_connecting_carry_the_engines_clock(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    first = harness().start("AAPL")
    assert first.broker.place_order(limit("old", Side.BUY, first.quote().bid - 5))
    wait_until(lambda: first.recorder.statuses("old"), what="the order working")
    first.stop()  # the order stays working at IB
    # A new run: the adapter starts on its default wall clock; the engine's clock (the
    # simulated 2024 session) is set only after connect() returned.
    again = harness()
    assert abs(again.clock.now() - tws.now()) < timedelta(seconds=5)
    recorder = again.recorder = Recorder()
    again.broker.start(recorder)
    [event] = wait_until(lambda: recorder.status_events("old"), what="the learned order")
    assert event.status is OrderStatus.SUBMITTED
    assert abs(event.time - again.clock.now()) < timedelta(seconds=30), event.time
