"""The engine on ``--broker ib`` against the simulated TWS when IB revises what it reported: an
execution corrected (not a second fill, no halt), a commission report that comes after the
adapter stopped waiting (kept in the ledger), and a fill while the engine was down across
midnight (IB lists only today's executions: proven from its completed orders, no halt)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ib_engine_support import (
    broker_positions,
    engine_config,
    governor,
    ib_broker,
    ledger_positions,
    make_engine,
    signal,
    tws_for,
)
from ib_support import TZ, wait_until
from test_ib_engine import orders_by_id, start

from broker.tws.server import TwsSimServer
from core.domain import OrderStatus
from engine.engine import Engine

#: A Tuesday, 20 minutes before the close (20 wall seconds at 60x).
TUESDAY_1540 = datetime(2026, 1, 6, 15, 40, tzinfo=TZ)


def _reconcile_events(engine: Engine) -> list[str]:
    return [e.reason for e in engine.ledger.risk_events() if e.kind in ("reconcile", "halt")]


def test_a_corrected_execution_replaces_the_fill_without_doubling_or_halting(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = tws_for(config)
    engine_servers.append(tws)
    engine = start(make_engine(config, tws, f"sqlite:///{tmp_path / 'ib.db'}"), engines)
    quote = tws.last_quote("AAPL")
    assert quote is not None
    corrected_price = round(quote.mid - 0.25, 2)
    tws.correct_next_execution(price=corrected_price, quantity=60)

    signal(tmp_path, "in-1", "manual", "AAPL", "BUY", quantity=100)

    wait_until(
        lambda: [e.exec_id[-3:] for e in engine.ledger.executions()] == [".02"],
        timeout_s=15,
        what="the correction to replace the execution",
    )
    (fill,) = engine.ledger.executions()
    assert (fill.order_id, fill.quantity, fill.price) == ("in-1", 60, Decimal(str(corrected_price)))
    wait_until(
        lambda: ledger_positions(engine) == {"AAPL": 60} == broker_positions(tws),
        what="ledger and IB at the corrected 60 shares",
    )
    wait_until(
        lambda: orders_by_id(engine)["in-1"].filled == 60, what="the entry's filled quantity"
    )
    # The stop follows the corrected position, and a few reconcile ticks find nothing.
    wait_until(
        lambda: orders_by_id(engine)["in-1.stop"].quantity == 60, what="the stop resized to 60"
    )
    reconciled_before = len(engine.ledger.risk_events())
    wait_until(
        lambda: engine.clock.now() >= fill.time + timedelta(seconds=60), what="a simulated minute"
    )
    assert _reconcile_events(engine) == []
    assert governor(engine).state.value == "ACTIVE"
    assert len(engine.ledger.risk_events()) >= reconciled_before
    va = engine.ask_snapshot("va:manual", timeout_s=5.0)
    assert va.open_positions == 1  # type: ignore[attr-defined]


def test_a_commission_report_later_than_the_wait_lands_in_the_ledger(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = tws_for(config)
    engine_servers.append(tws)
    engine = start(make_engine(config, tws, f"sqlite:///{tmp_path / 'ib.db'}"), engines)
    tws.delay_next_commission(3.5)  # wall seconds; the adapter waits 2 (FAST)

    signal(tmp_path, "in-1", "manual", "AAPL", "BUY", quantity=100)

    (booked,) = wait_until(engine.ledger.executions, timeout_s=15, what="the fill")
    assert booked.commission == 0  # delivered after the wait, without its report
    wait_until(
        lambda: engine.ledger.executions()[0].commission == Decimal("0.35"),
        timeout_s=10,
        what="the late commission in the ledger",
    )
    # The VA's P&L carries it: realized is minus the commission on an open position.
    wait_until(
        lambda: (
            engine.ask_snapshot("va:manual", timeout_s=5.0).realized_pnl  # type: ignore[attr-defined]
            == Decimal("-0.35")
        ),
        what="the VA's realized P&L to carry the commission",
    )
    assert ib_broker(engine).stats()["late_commissions"] == 1


@pytest.mark.slow
def test_a_stop_filled_while_the_engine_was_down_across_midnight_is_proven_not_halted(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = tws_for(config, start=TUESDAY_1540)
    engine_servers.append(tws)
    db = f"sqlite:///{tmp_path / 'ib.db'}"
    first = start(make_engine(config, tws, db), engines)
    signal(tmp_path, "in-1", "manual", "AAPL", "BUY", quantity=100)
    wait_until(lambda: ledger_positions(first) == {"AAPL": 100}, timeout_s=10, what="bought")
    wait_until(
        lambda: orders_by_id(first)["in-1.stop"].status is OrderStatus.SUBMITTED,
        what="stop working",
    )
    stop_price = orders_by_id(first)["in-1.stop"].stop_price
    first.stop()  # the stop stays working at IB

    tws.set_mid("AAPL", float(stop_price) - 3)  # it fills on Tuesday, while the engine is down
    wait_until(lambda: broker_positions(tws) == {}, what="the stop filled at IB")
    wait_until(
        lambda: tws.now() >= TUESDAY_1540.replace(day=7, hour=9, minute=31),
        timeout_s=30,
        what="Wednesday's session",
    )

    second = start(make_engine(config, tws, db), engines)

    assert ledger_positions(second) == {} == broker_positions(tws)
    (proof,) = [e for e in second.ledger.executions() if e.order_id == "in-1.stop"]
    assert proof.exec_id == "ib-completed-in-1.stop-filled100" and proof.quantity == 100
    assert proof.price == stop_price  # the stop's trigger: IB's completed order has no price
    assert orders_by_id(second)["in-1.stop"].status is OrderStatus.FILLED
    [event] = [e for e in second.ledger.risk_events() if e.kind == "reconciled"][-1:]
    detail = json.loads(event.detail)
    assert detail["mismatch"] is False
    assert any("proven by IB's completed orders" in d for d in detail["differences"])
    assert governor(second).state.value == "ACTIVE"
