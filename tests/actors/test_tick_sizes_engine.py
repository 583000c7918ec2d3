"""Every price the engine sends is on its contract's ticks (error 110 otherwise): a naked-put
entry, its re-prices and its profit-target exit on a nickel class ($0.05 below $3, $0.10 from
$3), and a stock signal's limit and stop, against the in-process simulator, which refuses
off-tick prices as TWS does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.domain import OrderRequest, OrderStatus, OrderType
from core.ticks import NICKEL, STOCK
from engine.engine import Engine
from tests.actors.test_naked_put_engine import MONDAY_10, config, move, orders, sold_put
from tests.support.engine import SimEngine, make_config, start_engine


@dataclass
class _Sent:
    """Every price the engine sent: (what, client order id, price)."""

    prices: list[tuple[str, str, Decimal]] = field(default_factory=list)


def _recording(sent: _Sent) -> Any:
    def factory(engine: Engine) -> Any:
        broker = engine.broker
        place, modify = broker.place_order, broker.modify_order

        def place_order(order: OrderRequest) -> bool:
            for price in (order.limit_price, order.stop_price):
                if price is not None:
                    sent.prices.append(("place", order.client_order_id, price))
            return place(order)

        def modify_order(order_id: str, **changes: Any) -> None:
            for name in ("limit_price", "stop_price"):
                if changes.get(name) is not None:
                    sent.prices.append(("modify", order_id, changes[name]))
            modify(order_id, **changes)

        broker.place_order = place_order
        broker.modify_order = modify_order
        return broker

    return factory


@contextmanager
def _nickel_engine(tmp_path: Path, sent: _Sent) -> Iterator[SimEngine]:
    sim = start_engine(
        tmp_path,
        config(ticks="nickel"),
        start=MONDAY_10,
        warmup_s=1,
        broker_factory=_recording(sent),
    )
    try:
        yield sim
    finally:
        sim.engine.stop()


def test_a_naked_put_entry_and_its_reprices_on_a_nickel_class_are_sent_on_tick(
    tmp_path: Path,
) -> None:
    sent = _Sent()
    with _nickel_engine(tmp_path, sent) as sim:
        entry = sold_put(sim)
        assert sim.engine.broker.tick_rule(entry.contract) is NICKEL
        entry_prices = [(what, p) for what, oid, p in sent.prices if oid == entry.id]
        assert entry_prices and entry_prices[0][0] == "place"
        assert any(what == "modify" for what, _ in entry_prices), "no re-price was sent"
        off_tick = [(what, oid, p) for what, oid, p in sent.prices if not NICKEL.on_tick(p)]
        assert off_tick == []
        # Nothing was refused (the simulator refuses off-tick prices with 110).
        assert not [o for o in orders(sim, "puts-a") if o.status.value == "rejected"]


def test_the_profit_target_of_a_nickel_class_put_is_sent_on_tick_and_fills(
    tmp_path: Path,
) -> None:
    sent = _Sent()
    with _nickel_engine(tmp_path, sent) as sim:
        entry = sold_put(sim)
        move(sim, "AAA", 120.0)
        [exit_order] = orders(sim, "puts-a", purpose="exit")
        assert exit_order.reason == "profit_target" and exit_order.limit_price is not None
        assert NICKEL.on_tick(exit_order.limit_price)
        assert entry.avg_fill_price is not None
        assert exit_order.limit_price <= entry.avg_fill_price / 2
        assert exit_order.status.value == "filled"
        assert all(NICKEL.on_tick(p) for _, _, p in sent.prices)


def test_a_stock_signals_limit_and_its_protective_stop_are_sent_on_the_stocks_ticks(
    tmp_path: Path,
) -> None:
    sent = _Sent()
    sim = start_engine(tmp_path, make_config(), broker_factory=_recording(sent))
    bid = Decimal(repr(sim.engine.broker.last_quote("AAPL").bid))
    asked = bid - Decimal("5.005")  # an inbox line may ask for any price
    sid = sim.signal("va1", "AAPL", order_type=OrderType.LMT, limit_price=asked)
    entry, stop = sim.ledger.order(sid), sim.ledger.order(f"{sid}.stop")
    assert entry.limit_price == asked - Decimal("0.005")  # a buy rounds down
    assert entry.status is OrderStatus.SUBMITTED  # not refused with 110
    assert stop.stop_price is not None and STOCK.on_tick(stop.stop_price)
    assert sent.prices and all(STOCK.on_tick(p) for _, _, p in sent.prices)
