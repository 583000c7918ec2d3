"""OCA groups at the simulated TWS with the real ib_async client: an order placed into a group
that has already filled is refused as IB refuses it (error 201 "OCA group is already filled"),
and one joining a reducing group after a partial fill is cut to what the group has left."""

from __future__ import annotations

from decimal import Decimal

from ib_async import IB, LimitOrder, MarketOrder, Order, StopOrder, Trade
from tws_support import Connect, qualified, wait_for_condition

from broker.sim.matching import OCA_ALREADY_FILLED, oca_admission
from broker.tws.contracts import Instrument
from broker.tws.order_parsing import OrderSpec
from broker.tws.order_records import TwsOrder, oca_group_members
from broker.tws.server import TwsSimServer

FILLED_TEXT = "Order rejected - reason:OCA group is already filled."


def in_group(order: Order, group: str, oca_type: int = 2) -> Order:
    order.ocaGroup = group
    order.ocaType = oca_type
    return order


async def until_done(trade: Trade) -> None:
    await wait_for_condition(trade.isDone, what=f"order {trade.order.orderId} to finish")


def bid(tws: TwsSimServer) -> float:
    quote = tws.last_quote("AAPL")
    assert quote is not None
    return quote.bid


async def flat(ib: IB) -> None:
    await wait_for_condition(
        lambda: [p.position for p in ib.positions()] in ([], [0.0]), what="a flat position"
    )


async def test_an_exit_placed_into_the_group_of_a_stop_that_filled_is_refused_with_201(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, _contract: errors.append((req_id, code, text))
    await until_done(ib.placeOrder(contract, MarketOrder("BUY", 100)))
    stop = in_group(StopOrder("SELL", 100, round(bid(tws) + 1, 2)), "oca-late")
    stop_trade = ib.placeOrder(contract, stop)  # triggered at once: the bid is below it
    await until_done(stop_trade)
    assert stop_trade.orderStatus.status == "Filled"
    await flat(ib)
    late = ib.placeOrder(contract, in_group(MarketOrder("SELL", 100), "oca-late"))
    await until_done(late)
    assert (late.order.orderId, 201, FILLED_TEXT) in errors
    assert late.fills == []
    await flat(ib)  # the exit did not open a short


async def test_an_order_joining_a_reducing_group_after_a_partial_fill_is_cut_to_the_rest(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    far = round(bid(tws) - 20, 2)
    resting = ib.placeOrder(contract, in_group(LimitOrder("BUY", 300, far), "g"))
    await wait_for_condition(lambda: resting.orderStatus.status == "Submitted", what="resting")
    await until_done(ib.placeOrder(contract, in_group(MarketOrder("BUY", 100), "g")))
    await wait_for_condition(lambda: resting.order.totalQuantity == 200, what="the reduction")
    late = ib.placeOrder(contract, in_group(LimitOrder("BUY", 300, far), "g"))
    await wait_for_condition(lambda: late.orderStatus.status == "Submitted", what="late working")
    assert late.orderStatus.remaining == 200


def test_a_fill_the_simulator_made_counts_before_the_desk_has_heard_of_it() -> None:
    def record(order_id: int, order_type: str) -> TwsOrder:
        spec = OrderSpec("SELL", Decimal(100), order_type, oca_group="g", oca_type=2)
        return TwsOrder(order_id, 1, order_id, Instrument(1, "AAPL"), spec, "DU1")

    stop, late = record(1, "STP"), record(2, "MKT")
    stop.status, stop.sim_id = "Submitted", "1"  # working, as far as the desk knows
    assert oca_group_members(late, [stop, late], {}) == [(0, 100, True)]
    members = oca_group_members(late, [stop, late], {"1": 100})  # the simulator filled it
    assert members == [(100, 0, False)]
    assert oca_admission(100, members)[0] == OCA_ALREADY_FILLED
