"""The engine on ``--broker ib`` against the simulated TWS, in process, both clocks at 60x:
a trading session with the simulator broker's invariants, a connection dropped mid-session,
and startup reconciliation with an unknown broker order and with a fill the ledger missed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ib_engine_support import (
    broker_order_refs,
    broker_positions,
    engine_config,
    governor,
    ib_broker,
    ledger_positions,
    make_engine,
    positions_agree,
    signal,
    tws_for,
)
from ib_support import other_client, wait_until

import main
from broker.tws.server import TwsSimServer
from core.domain import OrderStatus
from engine.engine import Engine

pytestmark = pytest.mark.serial  # load-sensitive: runs alone (Makefile unit)


def reconciliations(engine: Engine) -> int:
    return sum(1 for e in engine.ledger.risk_events() if e.kind == "reconciled")


def start(engine: Engine, engines: list[Engine]) -> Engine:
    """Start ``engine`` and wait for its startup reconciliation (the ledger may hold earlier
    runs' events)."""
    engines.append(engine)
    before = reconciliations(engine)
    engine.start()
    wait_until(lambda: reconciliations(engine) > before, what="the startup reconciliation")
    return engine


def orders_by_id(engine: Engine) -> dict[str, Any]:
    return {o.id: o for o in engine.ledger.orders()}


def test_a_session_on_ib_trades_with_the_simulator_brokers_invariants(
    tmp_path: Path,
    engines: list[Engine],
    engine_servers: list[TwsSimServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = engine_config(tmp_path)
    tws = tws_for(config)
    engine_servers.append(tws)
    db = f"sqlite:///{tmp_path / 'ib.db'}"
    engine = start(make_engine(config, tws, db), engines)
    began = engine.clock.now()
    assert abs(began - tws.now()) < timedelta(seconds=5)  # clocks in step
    wait_until(
        lambda: len({e.order_id for e in engine.ledger.executions()}) >= 6,
        timeout_s=30,
        what="several filled orders",
    )
    positions_agree(engine, tws)
    engine.halt("test over")
    wait_until(lambda: governor(engine).state.value == "HALTED", what="halted")
    engine.stop()

    orders = engine.ledger.orders()
    executions = engine.ledger.executions()
    assert len({e.exec_id for e in executions}) == len(executions)
    by_id = {o.id: o for o in orders}
    entries = [o for o in orders if o.purpose == "entry"]
    assert entries
    for entry in entries:
        stop = by_id.get(f"{entry.id}.stop")
        assert stop is not None, f"entry {entry.id} has no protective stop"
        assert stop.side != entry.side and stop.parent_id == entry.id
    for execution in executions:  # every fill belongs to an order we sent, at its price level
        assert execution.order_id in by_id
    # What the ledger says is working is what IB works, and nothing else is.
    open_refs, done_refs = broker_order_refs(tws)
    assert open_refs == {o.id for o in orders if o.status.is_working}
    assert open_refs | done_refs <= set(by_id)
    filled_here = {o.id for o in orders if o.status is OrderStatus.FILLED}
    assert filled_here <= done_refs

    assert main.main(["report", "--json", "--config", str(_config_file(tmp_path)), "--db", db]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {
        "trades",
        "orders",
        "accounts",
        "risk_events",
        "decisions",
        "positions",
    } <= report.keys()
    assert {o["id"] for o in report["orders"]} == set(by_id)
    assert all(o["dry_run"] is False for o in report["orders"])
    assert {a["id"] for a in report["accounts"]} == {"fast", "manual"}


def _config_file(tmp_path: Path) -> Path:
    """A config file for ``main.py report`` (it reads only the time zone from it)."""
    path = tmp_path / "report.toml"
    if not path.exists():
        root = Path(__file__).resolve().parents[3]
        path.write_text((root / "config.toml").read_text())
    return path


def test_a_connection_dropped_mid_session_sends_nothing_while_down_and_takes_in_what_filled(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = tws_for(config)
    engine_servers.append(tws)
    engine = start(
        make_engine(
            config,
            tws,
            f"sqlite:///{tmp_path / 'ib.db'}",
            reconnect_base_s=2.5,
            reconnect_cap_s=5.0,
        ),
        engines,
    )
    signal(tmp_path, "in-1", "manual", "AAPL", "BUY", quantity=100)
    wait_until(lambda: ledger_positions(engine) == {"AAPL": 100}, timeout_s=10, what="bought")
    stop_id = "in-1.stop"
    wait_until(
        lambda: orders_by_id(engine)[stop_id].status is OrderStatus.SUBMITTED, what="stop working"
    )
    broker = ib_broker(engine)
    sent_before = broker.stats()["orders_sent"]
    open_before, done_before = broker_order_refs(tws)

    tws.drop_connections()
    wait_until(lambda: not governor(engine).connected, what="the governor hears DISCONNECTED")
    signal(tmp_path, "in-2", "fast", "MSFT", "BUY", quantity=50)  # must not leave
    stop_price = float(orders_by_id(engine)[stop_id].stop_price)
    tws.set_mid("AAPL", stop_price - 3)  # the stop fires at IB while we are away
    wait_until(lambda: broker_positions(tws) == {}, what="the stop filled at IB")
    assert not governor(engine).connected  # still away (the first retry waits 2-2.5 s)
    assert broker.stats()["orders_sent"] == sent_before

    wait_until(lambda: governor(engine).connected, timeout_s=10, what="reconnected")
    wait_until(
        lambda: orders_by_id(engine)[stop_id].status is OrderStatus.FILLED,
        timeout_s=10,
        what="the stop's fill taken in after the reconnect",
    )
    positions_agree(engine, tws)
    assert ledger_positions(engine) == {}
    open_after, done_after = broker_order_refs(tws)
    assert open_after | done_after == open_before | done_before  # nothing new reached IB
    refused = wait_until(lambda: engine.ledger.signal("in-2"), what="the decision on in-2")
    assert not refused.accepted and refused.rule in ("connection", "gate")
    events = [e.kind for e in engine.ledger.risk_events()]
    assert events.count("connection") == 2  # DISCONNECTED, then CONNECTED
    assert events.count("reconciled") == 2  # at start, and after the reconnect


def test_startup_reconciliation_reports_an_order_at_ib_the_ledger_does_not_know(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = tws_for(config)
    engine_servers.append(tws)
    quote = tws.last_quote("JPM")
    assert quote is not None

    async def place(ib: Any) -> None:
        from ib_async import LimitOrder, Stock

        (contract,) = await ib.qualifyContractsAsync(Stock("JPM", "SMART", "USD"))
        order = LimitOrder("BUY", 10, round(quote.bid - 10, 2), orderRef="typed-by-hand")
        trade = ib.placeOrder(contract, order)
        while trade.orderStatus.status != "Submitted":
            import asyncio

            await asyncio.sleep(0.02)

    other_client(tws, place, client_id=77)
    engine = start(make_engine(config, tws, f"sqlite:///{tmp_path / 'ib.db'}"), engines)
    [event] = [e for e in engine.ledger.risk_events() if e.kind == "reconciled"]
    detail = json.loads(event.detail)
    assert "broker order typed-by-hand is not in the ledger" in detail["differences"]
    assert detail["mismatch"] is False  # an order is not a position: trading may go on


def test_a_fill_the_ledger_missed_while_stopped_is_in_the_ledger_after_the_next_start(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = tws_for(config)
    engine_servers.append(tws)
    db = f"sqlite:///{tmp_path / 'ib.db'}"
    first = start(make_engine(config, tws, db), engines)
    signal(tmp_path, "in-1", "manual", "AAPL", "BUY", quantity=100)
    wait_until(lambda: ledger_positions(first) == {"AAPL": 100}, timeout_s=10, what="bought")
    wait_until(
        lambda: orders_by_id(first)["in-1.stop"].status is OrderStatus.SUBMITTED,
        what="stop working",
    )
    stop_price = float(orders_by_id(first)["in-1.stop"].stop_price)
    first.stop()  # orders stay working at IB

    tws.set_mid("AAPL", stop_price - 3)  # the stop fills while the engine is down
    wait_until(lambda: broker_positions(tws) == {}, what="the stop filled at IB")

    second = start(make_engine(config, tws, db), engines)
    assert broker_positions(tws) == {}, "nothing moved at IB meanwhile"
    assert ledger_positions(second) == {}, [
        (e.order_id, e.exec_id, e.quantity) for e in second.ledger.executions()
    ]
    stop_fills = [e for e in second.ledger.executions() if e.order_id == "in-1.stop"]
    assert sum(e.quantity for e in stop_fills) == 100
    assert all(e.commission > 0 for e in stop_fills)
    [event] = [e for e in second.ledger.risk_events() if e.kind == "reconciled"][-1:]
    assert json.loads(event.detail)["mismatch"] is False
    assert governor(second).state.value == "ACTIVE"
