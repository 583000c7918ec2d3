"""Tick sizes in the in-process simulator: options are quoted on their class's ticks, and an
off-tick price is refused as TWS refuses it (error 110) on a new order and on a modification."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from broker.sim import SimSymbol
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from core.ticks import NICKEL, PENNY, STOCK
from tests.broker.sim.conftest import SYMBOLS, MakeSim

APRIL = date(2024, 4, 19)
D = Decimal


def _sell(cid: str, contract: Contract, limit: str) -> OrderRequest:
    return OrderRequest(cid, contract, Side.SELL, OrderType.LMT, 1, limit_price=D(limit))


def test_each_contract_has_its_symbols_option_class_or_the_stock_rule(make_sim: MakeSim) -> None:
    penny = SimSymbol("BBB", 20.0, 0.5, 1.0, 300, option_ticks="penny")
    sim = make_sim(symbols={**SYMBOLS, "BBB": penny})
    assert sim.broker.tick_rule(Contract.option("AAA", APRIL, D(95), "P")) is NICKEL  # default
    assert sim.broker.tick_rule(Contract.option("BBB", APRIL, D(20), "P")) is PENNY
    assert sim.broker.tick_rule(Contract.stock("AAA")) is STOCK


def test_options_of_a_nickel_class_are_quoted_in_nickels_and_dimes(make_sim: MakeSim) -> None:
    sim = make_sim()
    chain = sim.broker.option_chain("AAA", right="P")
    assert chain
    for quote in chain:
        for price in (quote.bid, quote.ask):
            assert price == 0 or NICKEL.on_tick(D(repr(price))), (quote.contract.key, price)
        assert quote.ask > quote.bid


def test_an_off_tick_option_order_is_rejected_with_110_and_an_on_tick_one_works(
    make_sim: MakeSim,
) -> None:
    sim = make_sim()
    put = Contract.option("AAA", APRIL, D(95), "P")
    assert sim.broker.place_order(_sell("off", put, "50.05"))  # from $3 a nickel class is $0.10
    [rejected] = sim.listener.status_events("off")
    assert rejected.status is OrderStatus.REJECTED and rejected.reason.startswith("110 ")
    assert sim.broker.place_order(_sell("on", put, "50.10"))
    assert sim.listener.statuses("on") == [OrderStatus.SUBMITTED]


def test_an_off_tick_modification_is_refused_and_the_order_keeps_its_price(
    make_sim: MakeSim,
) -> None:
    sim = make_sim()
    put = Contract.option("AAA", APRIL, D(95), "P")
    assert sim.broker.place_order(_sell("resting", put, "50.00"))
    sim.broker.modify_order("resting", limit_price=D("49.95"))
    assert sim.listener.statuses("resting") == [OrderStatus.SUBMITTED]  # no acknowledgement
    sim.broker.modify_order("resting", limit_price=D("49.90"))
    assert sim.listener.statuses("resting") == [OrderStatus.SUBMITTED, OrderStatus.SUBMITTED]


def test_a_sub_penny_stock_order_above_a_dollar_is_rejected(make_sim: MakeSim) -> None:
    sim = make_sim()
    request = OrderRequest(
        "sub", Contract.stock("BBB"), Side.BUY, OrderType.LMT, 100, limit_price=D("10.005")
    )
    assert sim.broker.place_order(request)
    [rejected] = sim.listener.status_events("sub")
    assert rejected.status is OrderStatus.REJECTED and "110" in rejected.reason
