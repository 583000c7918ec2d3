"""Re-pricing plans survive the OrderManager: after a crash (supervision's ``recover()``) or an
engine restart on the same ledger, a flatten's marketable limit is still re-priced and then
sent at market, and an option entry still walks from the mid to the bid, each from its last
stored re-price."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.messages.events import Crash
from broker.sim.broker import SimBroker
from core.config import EngineConfig
from db.records import OrderRecord
from engine.engine import Engine
from tests.actors.test_naked_put_engine import config as put_config
from tests.support.engine import SimEngine, make_config, sim_broker, start_engine

#: A restart comes back a second after the stop: time in a ledger only moves forward.
_A_SECOND = timedelta(seconds=1)


def _flat_config(max_reprices: int) -> EngineConfig:
    return make_config(
        orders=f"flatten_reprice_s = 1.0\nflatten_max_reprices = {max_reprices}",
        filters="max_slippage_bps = 50",
        display_size=100,
        tick_interval_s=1.0,
    )


@contextmanager
def _engine(tmp_path: Path, config: EngineConfig, **options: Any) -> Iterator[SimEngine]:
    sim = start_engine(tmp_path, config, warmup_s=1, **options)
    try:
        yield sim
    finally:
        sim.engine.stop()


def _failing_reprice(sim: SimEngine, *, at: int) -> list[str]:
    """Make the broker raise on the ``at``-th limit change (as the IB adapter raises when its
    loop is gone), crashing the OrderManager inside its re-price tick; returns the orders whose
    limit it was asked to change."""
    broker = sim.engine.broker
    modify = broker.modify_order
    asked: list[str] = []

    def flaky(order_id: str, **change: Any) -> None:
        if change.get("limit_price") is not None:
            asked.append(order_id)
            if len(asked) == at:
                raise RuntimeError("ib-loop is not running")
        modify(order_id, **change)

    broker.modify_order = flaky  # type: ignore[method-assign]
    return asked


def _same_broker(old: SimBroker) -> Callable[[Engine], Any]:
    """The restarted engine's simulator takes over the old one's market, account and working
    orders, as a TWS keeps them while the engine is away."""

    def factory(engine: Engine) -> Any:
        broker = sim_broker(engine)
        broker.take_over(old)
        broker.restore_account = lambda fills: 0  # type: ignore[method-assign]  # already there
        return broker

    return factory


def _crashes(sim: SimEngine) -> list[str]:
    return [e.reason for e in sim.ledger.risk_events() if e.kind == "actor_crash"]


def _plan_events(sim: SimEngine, order_id: str) -> list[str]:
    details = [e.detail for e in sim.ledger.order_events(order_id)]
    return [d for d in details if " re-price " in d or "go to market" in d]


def _counts(details: list[str]) -> list[str]:
    """``["flatten re-price 1/2 to 99.5", ...]`` -> ``["1/2", ...]``; a cancel -> ``"market"``."""
    return [
        d.split(" re-price ")[1].split(" ")[0] if " re-price " in d else "market" for d in details
    ]


def _hold_aapl(sim: SimEngine, quantity: int) -> None:
    sim.signal("va1", "AAPL", quantity=quantity)
    for _ in range(quantity // 100):  # the entry fills 100 a tick
        sim.advance(1)
    assert sim.snapshot("order_manager")["positions"]["va1|AAPL"] == quantity


def _walk_away(sim: SimEngine, prices: tuple[float, ...]) -> None:
    """The market falls a step a second, so a limit at the last bid never fills by itself."""
    for price in prices:
        sim.broker.set_mid("AAPL", price)
        sim.advance(1)


def _flatten_exits(sim: SimEngine) -> list[OrderRecord]:
    return [o for o in sim.ledger.orders() if o.purpose == "exit" and o.reason == "flatten"]


# -- flatten ------------------------------------------------------------------------------------


def test_a_flatten_goes_on_repricing_and_to_market_after_the_order_manager_crashes(
    tmp_path: Path,
) -> None:
    with _engine(tmp_path, _flat_config(max_reprices=2)) as sim:
        _hold_aapl(sim, 400)
        asked = _failing_reprice(sim, at=2)
        sim.engine.flatten("test")
        sim.idle()
        _walk_away(sim, (99.6, 99.2, 98.8, 98.6, 98.4, 98.3))
        sim.advance(3)
        assert len(asked) >= 2 and len(_crashes(sim)) == 1  # crashed in its second re-price
        limit_order, market_order = _flatten_exits(sim)
        # The plan went on from its last stored re-price: none repeated, none skipped.
        assert _counts(_plan_events(sim, limit_order.id)) == ["1/2", "2/2", "market"]
        assert (limit_order.status.value, market_order.order_type.value) == ("cancelled", "MKT")
        assert limit_order.filled + market_order.filled == 400
        assert sim.ledger.open_positions() == []
        governor = sim.snapshot("governor")
        assert (governor.state.value, governor.reason) == ("HALTED", "flatten complete")


def test_a_flatten_that_waits_for_room_is_resumed_after_the_order_manager_crashes(
    tmp_path: Path,
) -> None:
    # 3 per side: both entries leave a SELL stop working, so one flatten close at a time; the
    # other waits in a queue that lives only in memory.
    config = make_config(
        orders="max_working_per_contract_side = 3\nflatten_reprice_s = 1.0",
        filters="max_slippage_bps = 50",
        display_size=100,
        tick_interval_s=1.0,
    )
    with _engine(tmp_path, config) as sim:
        sim.signal("va1", "AAPL", quantity=300)
        sim.signal("va2", "AAPL", quantity=100)
        sim.advance(3)  # the entries fill 100 a tick
        _failing_reprice(sim, at=1)
        sim.broker.set_mid("AAPL", 99.8)
        sim.engine.flatten("cap test")
        sim.idle()
        [first] = _flatten_exits(sim)
        sim.broker.set_mid("AAPL", 99.6)
        sim.advance(1)  # the first re-price crashes the OrderManager
        assert len(_crashes(sim)) == 1
        _walk_away(sim, (99.5, 99.4, 99.3, 99.2, 99.1, 99.0, 98.9, 98.8))
        sim.advance(3)
        closes = _flatten_exits(sim)
        assert first.id == closes[0].id and {o.va_id for o in closes} == {"va1", "va2"}
        assert sim.ledger.open_positions() == []
        governor = sim.snapshot("governor")
        assert (governor.state.value, governor.reason) == ("HALTED", "flatten complete")


def test_a_flatten_limit_cancelled_to_go_to_market_still_goes_if_the_crash_comes_between(
    tmp_path: Path,
) -> None:
    # One VA's flatten: the governor keeps trading, so only the stored cancel says that the
    # close must go on at market.
    with _engine(tmp_path, _flat_config(max_reprices=0)) as sim:
        _hold_aapl(sim, 400)
        broker = sim.engine.broker
        cancel = broker.cancel_order
        crashed: list[str] = []

        def crash_first(order_id: str) -> None:
            # The OrderManager crashes after sending the cancel, before its confirmation.
            if "-flat-" in order_id and not crashed:
                crashed.append(order_id)
                sim.engine.book.tell("order_manager", Crash("test"))
            cancel(order_id)

        broker.cancel_order = crash_first  # type: ignore[method-assign]
        sim.engine.flatten("test", va_id="va1")
        sim.idle()
        _walk_away(sim, (99.6, 99.5, 99.4, 99.3, 99.2))
        assert len(_crashes(sim)) == 1
        limit_order, *closes = _flatten_exits(sim)
        assert _counts(_plan_events(sim, limit_order.id)) == ["market"]
        assert (limit_order.status.value, limit_order.filled) == ("cancelled", 100)
        # At market, or (if the gate was still closed while the governor heard the order
        # manager was back) queued and closed by a new marketable limit once it reopened.
        assert closes and sum(o.filled for o in closes) == 300
        assert sim.ledger.open_positions() == []
        assert sim.snapshot("governor").state.value == "ACTIVE"


def test_a_flatten_limit_still_goes_to_market_after_an_engine_restart(
    tmp_path: Path, ledger_url: str
) -> None:
    with _engine(tmp_path, _flat_config(max_reprices=1), database_url=ledger_url) as first:
        _hold_aapl(first, 800)
        first.engine.flatten("test")
        first.idle()
        _walk_away(first, (99.6,))
        [limit_order] = _flatten_exits(first)
        assert _counts(_plan_events(first, limit_order.id)) == ["1/1"]
        first.broker.set_mid("AAPL", 99.3)
        old_broker, stopped_at = first.broker, first.engine.clock.now()
    restart = {
        "start": stopped_at + _A_SECOND,
        "broker_factory": _same_broker(old_broker),
        "database_url": ledger_url,
    }
    with _engine(tmp_path, _flat_config(max_reprices=1), **restart) as again:
        governor = again.snapshot("governor")
        assert (governor.state.value, governor.reason) == (
            "HALTED",
            "restart during flatten: halted",
        )
        _walk_away(again, (99.0,))
        # Its re-prices are spent, but halted no new order may pass the gate: the limit is
        # re-pegged to the touch instead of being cancelled for a market order that could
        # not go out.
        assert _counts(_plan_events(again, limit_order.id)) == ["1/1", "1/1"]
        assert again.ledger.order(limit_order.id).status.is_working
        again.engine.resume("trader: finish the flatten")
        again.idle()
        _walk_away(again, (98.8, 98.6))
        again.advance(2)
        limit_after, market_order = _flatten_exits(again)
        assert _counts(_plan_events(again, limit_order.id))[-1] == "market"
        assert (limit_after.status.value, market_order.order_type.value) == ("cancelled", "MKT")
        assert limit_after.filled + market_order.filled == 800
        assert again.ledger.open_positions() == []


# -- option entries -----------------------------------------------------------------------------


def _working_put_entry(sim: SimEngine) -> OrderRecord:
    """Run second by second until the first put sale is working and has re-priced once."""
    for _ in range(400):
        entries = [o for o in sim.ledger.orders(va_id="puts-a") if o.purpose == "entry"]
        if entries and _plan_events(sim, entries[0].id):
            return entries[0]
        sim.advance(1)
    raise AssertionError("no put sale walked")


def _walk_to_the_bid(sim: SimEngine, entry: OrderRecord) -> list[str]:
    for _ in range(40):
        if not sim.ledger.order(entry.id).status.is_working:
            break
        sim.advance(1)
    return _counts(_plan_events(sim, entry.id))


def test_an_option_entry_goes_on_walking_to_the_bid_after_the_order_manager_crashes(
    tmp_path: Path,
) -> None:
    with _engine(tmp_path, put_config()) as sim:
        entry = _working_put_entry(sim)
        _failing_reprice(sim, at=1)
        sim.advance(5)  # the second re-price crashes the OrderManager
        assert len(_crashes(sim)) == 1
        assert _walk_to_the_bid(sim, entry) == ["1/4", "2/4", "3/4", "4/4"]
        filled = sim.ledger.order(entry.id)
        assert (filled.status.value, filled.filled) == ("filled", entry.quantity)
        [position] = sim.ledger.open_positions()
        assert position.quantity == -entry.quantity


def test_an_option_entry_goes_on_walking_after_an_engine_restart(
    tmp_path: Path, ledger_url: str
) -> None:
    with _engine(tmp_path, put_config(), database_url=ledger_url) as first:
        entry = _working_put_entry(first)
        old_broker, stopped_at = first.broker, first.engine.clock.now()
    restart = {
        "start": stopped_at + _A_SECOND,
        "broker_factory": _same_broker(old_broker),
        "database_url": ledger_url,
    }
    with _engine(tmp_path, put_config(), **restart) as again:
        assert _walk_to_the_bid(again, entry) == ["1/4", "2/4", "3/4", "4/4"]
        filled = again.ledger.order(entry.id)
        assert (filled.status.value, filled.filled) == ("filled", entry.quantity)
        limits = [Decimal(d.rsplit(" ", 1)[1]) for d in _plan_events(again, entry.id)]
        assert limits == sorted(limits, reverse=True)  # a sell walks down, toward the bid
