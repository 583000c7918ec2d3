"""A call written against shares the simulated account holds is covered: no margin of its own,
in the account's figure and in the what-if answer (broker/sim/account.py, account_reports.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.domain import Contract, OrderRequest, OrderType, Side
from core.events import MarginCheck
from tests.broker.sim.conftest import MakeSim, order

APRIL = date(2024, 4, 19)
CALL = Contract.option("AAA", APRIL, Decimal(105), "C")


def _what_if(sim: object, cid: str, contract: Contract, side: Side, quantity: int) -> MarginCheck:
    broker = sim.broker  # type: ignore[attr-defined]
    broker.check_margin(OrderRequest(cid, contract, side, OrderType.MKT, quantity))
    (check,) = [c for c in sim.listener.of(MarginCheck) if c.client_order_id == cid]  # type: ignore[attr-defined]
    return check


def test_a_call_written_on_held_shares_adds_no_margin_and_a_second_one_is_naked(
    make_sim: MakeSim,
) -> None:
    sim = make_sim()
    sim.broker.subscribe_quotes([CALL])
    assert sim.broker.place_order(order("s1", 100))
    sim.step()
    covered = _what_if(sim, "w1", CALL, Side.SELL, 1)
    assert covered.init_margin_change == 0
    two = _what_if(sim, "w2", CALL, Side.SELL, 2)
    # The second contract is naked: one call's Reg-T at the marks (15 % of ~100 a share).
    assert two.init_margin_change is not None
    assert Decimal(1500) < two.init_margin_change < Decimal(2000)


def test_the_account_margin_of_a_covered_call_is_the_stocks_and_selling_the_stock_adds_the_calls(
    make_sim: MakeSim,
) -> None:
    sim = make_sim()
    sim.broker.subscribe_quotes([CALL])
    assert sim.broker.place_order(order("s1", 100))
    sim.step()
    stock_only = sim.broker.account().maint_margin
    assert sim.broker.place_order(OrderRequest("c1", CALL, Side.SELL, OrderType.MKT, 1))
    sim.step()
    with_call = sim.broker.account().maint_margin
    # The stock's 25 % moves with the price; the call adds no Reg-T of its own (~2,000 naked).
    assert abs(with_call - stock_only) < Decimal(200)
    uncovering = _what_if(sim, "w3", Contract.stock("AAA"), Side.SELL, 100)
    assert uncovering.init_margin_change is not None and uncovering.init_margin_after is not None
    # Selling the cover frees the stock's 25 % (~2,500) but the call becomes naked: what is
    # left is one naked call's Reg-T (15 % of ~100 a share, 5 out of the money, + premium).
    assert Decimal(1500) < uncovering.init_margin_after < Decimal(2000)
    assert uncovering.init_margin_change > -stock_only
