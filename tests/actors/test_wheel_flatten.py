"""Flatten of a wheel VA on the simulator: the covered call is bought back first and the stock
is sold only once the call is flat, so the VA is never short a naked call; a call whose
buy-back ends unfilled keeps the stock as its cover, said in a ``flatten_held`` risk event.

Same harness as ``test_wheel_engine`` (seeded market, one step a minute, max speed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.domain import OrderRequest
from tests.actors.test_naked_put_engine import config, orders, running
from tests.actors.test_wheel_engine import WHEEL, assigned_stock, written_call
from tests.support.engine import SimEngine


def _spy_places(sim: SimEngine) -> list[tuple[str, str, dict[str, int]]]:
    """Record every order the broker is asked to place: (contract key, side, the broker's
    positions at that moment)."""
    seen: list[tuple[str, str, dict[str, int]]] = []
    broker = sim.broker
    place: Callable[[OrderRequest], bool] = broker.place_order

    def placing(order: OrderRequest) -> bool:
        held = {p.contract.key: p.quantity for p in broker.positions()}
        seen.append((order.contract.key, order.side.value, held))
        return place(order)

    broker.place_order = placing  # type: ignore[method-assign]
    return seen


def test_a_flatten_buys_the_covered_call_back_before_it_sells_the_stock(tmp_path: Path) -> None:
    with running(tmp_path, config(strategy=WHEEL)) as sim:
        shares = assigned_stock(sim)
        call = written_call(sim)
        seen = _spy_places(sim)
        sim.engine.flatten("test", va_id="puts-a")
        sim.advance(120)
        assert sim.ledger.open_positions() == []
        placed = [(key, side) for key, side, _ in seen]
        assert placed.index((call.contract_key, "BUY")) < placed.index(("AAA", "SELL"))
        [(_, _, held)] = [s for s in seen if s[:2] == ("AAA", "SELL")]
        assert held == {"AAA": shares}  # the call already bought back: never naked
        exits = orders(sim, "puts-a", purpose="exit")
        assert {o.contract_key for o in exits} == {call.contract_key, "AAA"}
        assert all(o.status.value == "filled" for o in exits)


def test_a_call_whose_buy_back_is_refused_keeps_the_stock_as_its_cover_and_says_so(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config(strategy=WHEEL)) as sim:
        shares = assigned_stock(sim)
        call = written_call(sim)
        broker = sim.broker
        place: Callable[[OrderRequest], bool] = broker.place_order
        refuse = [True]

        def refusing(order: OrderRequest) -> bool:
            if refuse[0] and order.contract.key == call.contract_key:
                return False  # the adapter refuses it: the buy-back ends REJECTED
            return place(order)

        broker.place_order = refusing  # type: ignore[method-assign]
        sim.engine.flatten("test", va_id="puts-a")
        sim.advance(120)
        positions = {p.contract_key: p.quantity for p in sim.ledger.open_positions()}
        assert positions == {"AAA": shares, call.contract_key: -call.quantity}
        stock_exits = [o for o in orders(sim, "puts-a", purpose="exit") if o.contract_key == "AAA"]
        assert stock_exits == []
        held = sim.ledger.latest_risk_event("flatten_held")
        assert held is not None and "kept as the cover of" in held.reason
        assert call.contract_key in held.reason
        # Flattening again once the broker takes the order: the call, then the stock.
        refuse[0] = False
        seen = _spy_places(sim)
        sim.engine.flatten("again", va_id="puts-a")
        sim.advance(120)
        assert sim.ledger.open_positions() == []
        assert [(key, side) for key, side, _ in seen] == [
            (call.contract_key, "BUY"),
            ("AAA", "SELL"),
        ]
