"""Combo (BAG) orders through the engine on the simulator: the OrderManager stores a combo as
one order under its BAG contract, hands it to the broker with its legs, books each leg's
execution in the leg's own contract (positions, ledger, the VA's fills), re-prices a resting
combo's net limit by the entries' bounded plan from the legs' quotes, and the reconciliation
(periodic, and at a restart) finds the ledger's legs equal to the broker's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from actors.messages.commands import OrderProposal, PlaceOrder
from core.domain import ComboLeg, Contract, OrderStatus, OrderType, Purpose, Side, TradingState
from core.rules.repricing import RepricePlan
from tests.support.broker_truth import reconciled
from tests.support.engine import MONDAY_10, SimEngine, start_engine


def _legs(sim: SimEngine) -> tuple[ComboLeg, ComboLeg]:
    """Buy an AAPL put of the 2nd listed expiry, sell the same strike two expiries later; in
    the money (the test market barely moves: its out-of-the-money options bid nothing)."""
    quotes = sim.broker.option_chain("AAPL", right="P")
    expiries = sorted({q.contract.expiry for q in quotes if q.contract.expiry is not None})
    spot = sim.broker.last_quote("AAPL")
    assert spot is not None
    near_day, far_day = expiries[1], expiries[3]
    strike = min(
        (q.contract.strike for q in quotes if q.contract.expiry == near_day and q.contract.strike),
        key=lambda s: abs(float(s) - spot.mid - 10),
    )
    near = Contract.option("AAPL", near_day, strike, "P")
    far = Contract.option("AAPL", far_day, strike, "P")
    return ComboLeg(near, 1, Side.BUY), ComboLeg(far, 1, Side.SELL)


def _place(
    sim: SimEngine,
    pid: str,
    legs: tuple[ComboLeg, ...],
    *,
    limit: Decimal | None = None,
    reprice: RepricePlan | None = None,
) -> None:
    proposal = OrderProposal(
        proposal_id=pid,
        va_id="va1",
        contract=Contract.combo("AAPL"),
        side=Side.BUY,
        quantity=2,
        order_type=OrderType.MKT if limit is None else OrderType.LMT,
        purpose=Purpose.ENTRY,
        reason="roll",
        time=sim.engine.clock.now(),
        ref_price=limit or Decimal(0),
        limit_price=limit,
        reprice=reprice,
        legs=legs,
    )
    sim.engine.book.tell("order_manager", PlaceOrder(proposal))
    sim.idle()


def _held(sim: SimEngine) -> dict[str, int]:
    return {p.contract.key: p.quantity for p in sim.ledger.open_positions()}


def test_a_combo_is_one_order_and_its_legs_are_booked_in_their_own_contracts(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    near, far = _legs(sim)
    _place(sim, "roll-1", (near, far))
    sim.advance(10)
    order = sim.ledger.order("roll-1")
    assert (order.contract_key, order.status, order.filled) == ("AAPL BAG", OrderStatus.FILLED, 2)
    executions = [e for e in sim.ledger.executions() if e.order_id == "roll-1"]
    assert sorted((e.contract_key, e.side, e.quantity) for e in executions) == sorted(
        [(near.contract.key, Side.BUY, 2), (far.contract.key, Side.SELL, 2)]
    )
    assert all(e.multiplier == 100 for e in executions)
    assert _held(sim) == {near.contract.key: 2, far.contract.key: -2}
    broker = {p.contract.key: p.quantity for p in sim.broker.positions()}
    assert broker == _held(sim)
    sim.advance(30)  # periodic reconcile ticks compare the legs with the broker's
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    mismatches = [e for e in sim.ledger.risk_events() if "mismatch" in e.kind]
    assert mismatches == []


def test_a_restarted_engine_reconciles_a_combos_legs_without_a_mismatch(tmp_path: Path) -> None:
    first = start_engine(tmp_path)
    near, far = _legs(first)
    _place(first, "roll-1", (near, far))
    first.advance(10)
    assert _held(first) == {near.contract.key: 2, far.contract.key: -2}
    first.engine.stop()
    second = start_engine(tmp_path)
    second.advance(10)
    notices = reconciled(second, MONDAY_10)
    assert notices and not any(n["mismatch"] for n in notices)
    assert second.snapshot("governor").state is TradingState.ACTIVE
    assert _held(second) == {near.contract.key: 2, far.contract.key: -2}


def test_a_resting_combo_is_repriced_from_its_legs_net_quote_toward_the_natural_price(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    near, far = _legs(sim)
    sim.broker.subscribe_quotes([near.contract, far.contract])  # the legs' quotes reach the book
    sim.advance(10)
    # A credit far beyond the market: it rests; the plan walks it to the natural net price.
    plan = RepricePlan(interval_s=10, steps=2, max_reprices=3)
    _place(sim, "roll-2", (near, far), limit=Decimal("-50.00"), reprice=plan)
    sim.advance(5)
    assert sim.ledger.order("roll-2").status is OrderStatus.SUBMITTED
    sim.advance(40)
    events = [e.detail for e in sim.ledger.order_events("roll-2") if "re-price" in e.detail]
    assert events, "the combo was never re-priced"
    assert sim.ledger.order("roll-2").status is OrderStatus.FILLED  # the natural net fills
    assert _held(sim) == {near.contract.key: 2, far.contract.key: -2}
