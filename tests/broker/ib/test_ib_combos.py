"""Combo (BAG) orders through the IB adapter against the simulated TWS: a two-leg roll goes out
as one BAG order with its legs' conIds and comes back as one execution per leg (each with its
commission) under the combo's client order id, never the BAG's own; a combo whose leg was never
qualified is rejected by the adapter with the leg named; open orders and completed orders list
the combo under its BAG contract."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ib_support import Harness, all_open_orders, wait_until

from core.domain import ComboLeg, Contract, OrderRequest, OrderStatus, OrderType, Side
from core.rules.combos import net_price

WAIT_S = 15.0


def _near_and_far(h: Harness) -> tuple[Contract, Contract]:
    """Two AAPL puts at the strike nearest the spot, of the 2nd and 5th listed expirations
    (found by the adapter's option chain, which qualifies them)."""
    quotes = h.broker.option_chain("AAPL", right="P")
    expiries = sorted({q.contract.expiry for q in quotes if q.contract.expiry is not None})
    spot = h.quote().mid
    picked = []
    for day in (expiries[1], expiries[4]):
        candidates = [q.contract for q in quotes if q.contract.expiry == day]
        picked.append(min(candidates, key=lambda c: abs(float(c.strike or 0) - spot)))
    return picked[0], picked[1]


def _roll(cid: str, near: Contract, far: Contract, limit: Decimal | None) -> OrderRequest:
    legs = (ComboLeg(near, 1, Side.BUY), ComboLeg(far, 1, Side.SELL))
    kind = OrderType.MKT if limit is None else OrderType.LMT
    return OrderRequest(cid, Contract.combo("AAPL"), Side.BUY, kind, 2, limit, legs=legs)


def test_a_roll_fills_as_one_combo_with_one_execution_per_leg_and_no_bag_execution(
    harness: Callable[..., Harness],
) -> None:
    h = harness().start("AAPL")
    near, far = _near_and_far(h)
    assert h.broker.place_order(_roll("va-1:roll", near, far, None))
    wait_until(
        lambda: (
            OrderStatus.FILLED in h.recorder.statuses("va-1:roll")
            and len(h.recorder.executions("va-1:roll")) == 2
        ),
        timeout_s=WAIT_S,
        what="the combo to fill with both legs",
    )
    bought, sold = sorted(h.recorder.executions("va-1:roll"), key=lambda e: e.side.value)
    assert (bought.contract, bought.side, bought.quantity) == (near, Side.BUY, 2)
    assert (sold.contract, sold.side, sold.quantity) == (far, Side.SELL, 2)
    assert bought.commission == sold.commission == Decimal("1.3")
    (done,) = [e for e in h.recorder.status_events("va-1:roll") if e.status is OrderStatus.FILLED]
    legs = (ComboLeg(near, 1, Side.BUY), ComboLeg(far, 1, Side.SELL))
    assert done.avg_fill_price == net_price(legs, (bought.price, sold.price))
    positions = {p.contract.key: p.quantity for p in h.broker.positions()}
    assert (positions.get(near.key), positions.get(far.key)) == (2, -2)
    completed = [c for c in h.broker.completed_orders() if c.client_order_id == "va-1:roll"]
    assert [c.contract.key for c in completed] == ["AAPL BAG"]


def test_a_resting_combo_is_listed_open_under_its_bag_and_cancelled(
    harness: Callable[..., Harness],
) -> None:
    h = harness().start("AAPL")
    near, far = _near_and_far(h)
    assert h.broker.place_order(_roll("va-1:rest", near, far, Decimal("-50.00")))
    wait_until(
        lambda: OrderStatus.SUBMITTED in h.recorder.statuses("va-1:rest"),
        timeout_s=WAIT_S,
        what="the combo working",
    )
    (listed,) = [o for o in h.broker.open_orders() if o.client_order_id == "va-1:rest"]
    assert listed.contract.key == "AAPL BAG"
    (at_ib,) = [t for t in all_open_orders(h.server) if t.order.orderRef == "va-1:rest"]
    assert at_ib.contract.secType == "BAG" and len(at_ib.contract.comboLegs) == 2
    h.broker.cancel_order("va-1:rest")
    wait_until(
        lambda: OrderStatus.CANCELLED in h.recorder.statuses("va-1:rest"),
        timeout_s=WAIT_S,
        what="the cancel",
    )
    assert h.recorder.executions("va-1:rest") == []


def test_a_combo_with_a_leg_never_qualified_is_rejected_by_the_adapter_naming_the_leg(
    harness: Callable[..., Harness],
) -> None:
    h = harness().start("AAPL")
    near, _far = _near_and_far(h)
    unseen = Contract.option("AAPL", near.expiry, Decimal(5), "P")  # type: ignore[arg-type]
    assert h.broker.place_order(_roll("va-1:bad", near, unseen, None))
    (rejected,) = wait_until(
        lambda: [
            e for e in h.recorder.status_events("va-1:bad") if e.status is OrderStatus.REJECTED
        ],
        what="the rejection",
    )
    assert unseen.key in rejected.reason and "not qualified" in rejected.reason
