"""Options on the simulator: quotes for subscribed contracts, fills with option commissions,
Reg-T margin in the account, chain snapshots, and settlement at the expiration day's close."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from core.events import AssignmentEvent, ExpiryEvent
from core.rules.margin import short_put_margin
from tests.broker.sim.conftest import TZ, MakeSim

#: Friday 2024-03-15 is the first listed expiration after the fixtures' Wednesday open.
FRIDAY = date(2024, 3, 15)
FRIDAY_CLOSE = datetime(2024, 3, 15, 16, 0, tzinfo=TZ)
APRIL = date(2024, 4, 19)


def put(strike: int, expiry: date = APRIL) -> Contract:
    return Contract.option("AAA", expiry, Decimal(strike), "P")


def sell(
    cid: str,
    contract: Contract,
    quantity: int,
    order_type: OrderType = OrderType.MKT,
    limit: Decimal | None = None,
) -> OrderRequest:
    return OrderRequest(cid, contract, Side.SELL, order_type, quantity, limit_price=limit)


def test_a_subscribed_option_is_quoted_every_step_with_greeks(make_sim: MakeSim) -> None:
    sim = make_sim()
    contract = put(95)
    sim.broker.subscribe_quotes([contract])
    sim.step(2)
    quotes = [q for q in sim.listener.quotes if q.contract.key == contract.key]
    assert len(quotes) == 2
    assert all(q.delta is not None and -1 < q.delta < 0 and q.open_interest > 0 for q in quotes)


def test_subscriptions_are_counted(make_sim: MakeSim) -> None:
    sim = make_sim()
    contract = put(95)
    sim.broker.subscribe_quotes([contract])
    sim.broker.subscribe_quotes([contract])
    sim.broker.unsubscribe_quotes([contract])
    sim.step()
    assert any(q.contract.key == contract.key for q in sim.listener.quotes)
    sim.broker.unsubscribe_quotes([contract])
    seen = len(sim.listener.quotes)
    sim.step()
    assert all(q.contract.key != contract.key for q in sim.listener.quotes[seen:])


def test_a_sold_put_fills_at_the_bid_with_per_contract_commission(make_sim: MakeSim) -> None:
    sim = make_sim()
    contract = put(95)
    sim.broker.subscribe_quotes([contract])
    sim.step()
    bid = Decimal(repr([q for q in sim.listener.quotes if q.contract == contract][-1].bid))
    cash_before = sim.broker.account().cash
    assert sim.broker.place_order(sell("p1", contract, 3))
    (fill,) = sim.listener.executions("p1")
    assert (fill.price, fill.commission) == (bid, Decimal("1.95"))  # 3 x 0.65
    assert sim.broker.account().cash == cash_before + bid * 300 - Decimal("1.95")
    assert sim.broker.place_order(sell("p2", contract, 1))
    assert sim.listener.executions("p2")[0].commission == Decimal("1.00")  # the minimum
    (position,) = sim.broker.positions()
    assert (position.contract.key, position.quantity) == (contract.key, -4)


def test_the_account_margin_includes_reg_t_for_the_short_put(make_sim: MakeSim) -> None:
    sim = make_sim(symbols={"AAA": make_symbol()})
    contract = put(95)
    sim.broker.subscribe_quotes([contract])
    sim.step()
    sim.broker.place_order(sell("p1", contract, 2))
    sim.step()
    account = sim.broker.account()
    spot_quote = sim.quote("AAA")
    spot = (Decimal(repr(spot_quote.bid)) + Decimal(repr(spot_quote.ask))) / 2
    option_quote = [q for q in sim.listener.quotes if q.contract == contract][-1]
    premium = (Decimal(repr(option_quote.bid)) + Decimal(repr(option_quote.ask))) / 2
    expected = short_put_margin(
        underlying=spot, strike=Decimal(95), premium=premium, contracts=2
    ).quantize(Decimal("0.01"))
    assert account.maint_margin == expected


def test_a_chain_snapshot_lists_puts_in_an_expiry_window(make_sim: MakeSim) -> None:
    sim = make_sim()
    chain = sim.broker.option_chain("AAA", right="P", min_expiry=APRIL, max_expiry=APRIL)
    assert chain and {q.contract.expiry for q in chain} == {APRIL}
    assert all(q.contract.right == "P" and q.iv for q in chain)
    with pytest.raises(ValueError, match="unknown symbol"):
        sim.broker.option_chain("ZZZ")


def test_an_out_of_the_money_put_expires_worthless_at_the_friday_close(make_sim: MakeSim) -> None:
    sim = make_sim(tick_interval_s=60.0)
    contract = put(80, FRIDAY)
    sim.broker.subscribe_quotes([contract])
    sim.step()
    sim.broker.place_order(sell("p1", contract, 2))
    resting = put(70, FRIDAY)
    sim.broker.place_order(sell("r1", resting, 1, OrderType.LMT, Decimal("50")))
    sim.clock.advance(60)  # the next market step fills the sale
    assert sim.listener.executions("p1")
    cash = sim.broker.account().cash
    sim.clock.run_until(FRIDAY_CLOSE - timedelta(minutes=1))
    assert not [e for e in sim.listener.events if isinstance(e, ExpiryEvent)]
    sim.clock.run_until(FRIDAY_CLOSE)
    (expired,) = [e for e in sim.listener.events if isinstance(e, ExpiryEvent)]
    assert (expired.contract.key, expired.quantity) == (contract.key, -2)
    assert expired.underlying_price > 80
    assert sim.broker.positions() == []
    assert sim.broker.account().cash == cash
    assert sim.listener.statuses("r1")[-1] is OrderStatus.CANCELLED
    seen = len(sim.listener.quotes)
    sim.clock.run_until(FRIDAY_CLOSE + timedelta(days=3))
    assert all(q.contract.key != contract.key for q in sim.listener.quotes[seen:])


def test_an_in_the_money_short_put_is_assigned_100_shares_a_contract_at_the_strike(
    make_sim: MakeSim,
) -> None:
    sim = make_sim(tick_interval_s=60.0)
    contract = put(95, FRIDAY)
    sim.broker.subscribe_quotes([contract])
    sim.step()
    sim.broker.place_order(sell("p1", contract, 2))
    sim.clock.advance(60)  # the next market step fills the sale
    assert sim.listener.executions("p1")
    cash = sim.broker.account().cash
    sim.clock.run_until(FRIDAY_CLOSE - timedelta(minutes=5))
    sim.broker.set_mid("AAA", 90.0)
    sim.clock.run_until(FRIDAY_CLOSE)
    (assigned,) = [e for e in sim.listener.events if isinstance(e, AssignmentEvent)]
    assert (assigned.quantity, assigned.stock_quantity, assigned.price) == (-2, 200, Decimal(95))
    assert assigned.stock == Contract.stock("AAA")
    (stock,) = sim.broker.positions()
    assert (stock.contract.key, stock.quantity, stock.avg_cost) == ("AAA", 200, Decimal(95))
    assert sim.broker.account().cash == cash - Decimal(95) * 200


def make_symbol():  # type: ignore[no-untyped-def]
    from broker.sim import SimSymbol

    return SimSymbol("AAA", price=100.0, volatility=0.30, spread_bps=5.0, display_size=500)
