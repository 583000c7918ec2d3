"""Fault drills under a running engine on ``--broker ib``: a tws-sim scenario (a dropped
connection, an outage, a refused order, the nightly reset with a stop filling while TWS is down)
and a tws-sim restarted from its state file; each ends with the ledger equal to what tws-sim holds
and nothing lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ib_engine_support import (
    SPEED,
    TUESDAY_10,
    broker_order_refs,
    broker_positions,
    engine_config,
    governor,
    ledger_positions,
    make_engine,
    positions_agree,
    signal,
)
from ib_support import TZ, other_client, wait_until

from broker.tws.runner import server_from_config
from broker.tws.scenario import load_scenario
from broker.tws.server import TwsSimServer
from core.domain import OrderStatus
from engine.engine import Engine

DRILL = """
[[fault]]
after = "1m"
kind = "drop_connection"

[[fault]]
after = "6m"
kind = "outage"
duration_s = 1.0

[[fault]]
after = "10m"
kind = "reject_next_order"
text = "DRILL: SIMULATED PRECAUTION"

[[fault]]
after = "15m"
kind = "nightly_reset"
pause_s = 2.0
"""


def buy_aapl(tmp_path: Path, server: TwsSimServer) -> None:
    """Signal in-1: buy 100 AAPL with a marketable limit (fills at the next step at the ask;
    an entry at the touch could go stale under load and be cancelled)."""
    quote = server.last_quote("AAPL")
    assert quote is not None
    limit = round(quote.ask + 0.3, 2)
    signal(tmp_path, "in-1", "manual", "AAPL", "BUY", quantity=100, limit_price=limit)


def reconciliations(engine: Engine) -> int:
    return sum(1 for e in engine.ledger.risk_events() if e.kind == "reconciled")


def start(engine: Engine, engines: list[Engine]) -> Engine:
    engines.append(engine)
    before = reconciliations(engine)
    engine.start()
    wait_until(lambda: reconciliations(engine) > before, what="the startup reconciliation")
    return engine


def orders_by_id(engine: Engine) -> dict[str, Any]:
    return {o.id: o for o in engine.ledger.orders()}


def broker_fills(server: TwsSimServer) -> Counter[str]:
    """Shares filled per orderRef at the simulated TWS (every execution it reports)."""

    async def read(ib: Any) -> Counter[str]:
        from ib_async import ExecutionFilter

        fills = await ib.reqExecutionsAsync(ExecutionFilter())
        out: Counter[str] = Counter()
        for fill in fills:
            out[fill.execution.orderRef] += int(fill.execution.shares)
        return out

    return other_client(server, read, client_id=96)


def ledger_fills(engine: Engine) -> Counter[str]:
    out: Counter[str] = Counter()
    for execution in engine.ledger.executions():
        out[execution.order_id] += execution.quantity
    return out


def assert_nothing_lost(engine: Engine, tws: TwsSimServer) -> None:
    """The ledger equals tws-sim: positions, every fill, the working orders; none pending."""
    positions_agree(engine, tws)
    wait_until(lambda: ledger_fills(engine) == broker_fills(tws), what="every fill in the ledger")
    open_refs, _ = broker_order_refs(tws)
    orders = engine.ledger.orders()
    assert open_refs == {o.id for o in orders if o.status.is_working}
    assert not [o.id for o in orders if o.status is OrderStatus.PENDING_SUBMIT]


def test_a_scripted_drill_under_a_running_engine_ends_with_the_ledger_equal_to_tws_sim(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = server_from_config(config, port=0, speed=SPEED, start=TUESDAY_10)
    engine_servers.append(tws)
    tws.start()
    engine = start(make_engine(config, tws, f"sqlite:///{tmp_path / 'ib.db'}"), engines)
    buy_aapl(tmp_path, tws)
    wait_until(lambda: ledger_positions(engine) == {"AAPL": 100}, timeout_s=10, what="bought")
    wait_until(
        lambda: orders_by_id(engine)["in-1.stop"].status is OrderStatus.SUBMITTED, what="stop"
    )
    path = tmp_path / "drill.toml"
    path.write_text(DRILL, encoding="utf-8")
    tws.schedule_faults(load_scenario(path, tz=TZ, start=tws.now(), server_class=TwsSimServer))

    def fired() -> list[str]:
        return [f.kind for f in tws.fired_faults()]

    wait_until(lambda: "reject_next_order" in fired(), timeout_s=20, what="the armed rejection")
    wait_until(lambda: governor(engine).connected, timeout_s=10, what="connected again")
    signal(tmp_path, "in-2", "fast", "MSFT", "BUY", quantity=10)
    wait_until(
        lambda: (
            "in-2" in orders_by_id(engine)
            and orders_by_id(engine)["in-2"].status is OrderStatus.REJECTED
        ),
        timeout_s=10,
        what="the scripted rejection in the ledger",
    )
    assert "DRILL: SIMULATED PRECAUTION" in (orders_by_id(engine)["in-2"].reason or "")

    wait_until(lambda: "nightly_reset" in fired(), timeout_s=20, what="the nightly reset")
    stop_price = float(orders_by_id(engine)["in-1.stop"].stop_price)
    tws.set_mid("AAPL", stop_price - 3)  # the stop fills at IB while TWS restarts
    wait_until(lambda: tws.listening, timeout_s=10, what="tws-sim back after the reset")
    wait_until(lambda: broker_positions(tws) == {}, what="the stop filled at IB")
    wait_until(lambda: governor(engine).connected, timeout_s=15, what="reconnected")
    wait_until(
        lambda: orders_by_id(engine)["in-1.stop"].status is OrderStatus.FILLED,
        timeout_s=15,
        what="the stop's fill taken in",
    )
    assert fired() == ["drop_connection", "outage", "reject_next_order", "nightly_reset"]
    assert all(f.outcome == "ok" or f.outcome.isdigit() for f in tws.fired_faults())
    assert_nothing_lost(engine, tws)
    assert ledger_positions(engine) == {}
    assert governor(engine).state.value == "ACTIVE"


def test_a_tws_sim_restarted_from_its_state_file_under_a_running_engine_loses_nothing(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    state = tmp_path / "tws-sim-state.json"
    first = server_from_config(config, port=0, speed=SPEED, start=TUESDAY_10, state_file=state)
    engine_servers.append(first)
    first.start()
    engine = start(make_engine(config, first, f"sqlite:///{tmp_path / 'ib.db'}"), engines)
    buy_aapl(tmp_path, first)
    wait_until(lambda: ledger_positions(engine) == {"AAPL": 100}, timeout_s=10, what="bought")
    wait_until(
        lambda: orders_by_id(engine)["in-1.stop"].status is OrderStatus.SUBMITTED, what="stop"
    )
    port = first.port
    stopped_at = first.now()
    first.stop()  # tws-sim killed (SIGTERM) under the running engine
    wait_until(lambda: not governor(engine).connected, what="the engine sees it gone")

    second = server_from_config(config, port=port, speed=SPEED, start=TUESDAY_10, state_file=state)
    engine_servers.append(second)
    second.start()
    assert second.now() >= stopped_at  # no jump back to --start
    wait_until(lambda: governor(engine).connected, timeout_s=15, what="reconnected")
    assert broker_positions(second) == {"AAPL": 100}
    assert_nothing_lost(engine, second)
    assert orders_by_id(engine)["in-1.stop"].status is OrderStatus.SUBMITTED
    [event] = [e for e in engine.ledger.risk_events() if e.kind == "reconciled"][-1:]
    assert '"mismatch": false' in event.detail
    assert governor(engine).state.value == "ACTIVE"
    assert engine.clock.now() >= stopped_at
