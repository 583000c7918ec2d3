"""The engine on ``--broker ib`` while its TWS goes away and comes back: the lost link is a
state (no actor crashes, no broker reads), one event when it goes, one when it returns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ib_engine_support import SPEED, engine_config, governor, ib_broker, make_engine
from ib_support import Harness, wait_until

from broker.tws.runner import server_from_config
from broker.tws.server import TwsSimServer
from core.events import ConnectionState
from engine.engine import Engine


def _kinds(engine: Engine, kind: str) -> list[str]:
    return [e.reason for e in engine.ledger.risk_events() if e.kind == kind]


def test_tws_stopped_under_a_running_engine_crashes_no_actor_and_reconnects_once(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = server_from_config(config, port=0, speed=SPEED)
    tws.start()
    engine_servers.append(tws)
    # Other clients' orders re-read at every tick (not cached for 10 s): each tick reads TWS.
    engine = make_engine(
        config,
        tws,
        f"sqlite:///{tmp_path / 'ib.db'}",
        reconnect_cap_s=0.5,
        foreign_orders_refresh_s=0.0,
    )
    engines.append(engine)
    engine.start()
    wait_until(lambda: _kinds(engine, "reconciled"), what="the startup reconciliation")
    port = tws.port

    tws.stop()  # TWS gone: the engine keeps running and retrying
    wait_until(lambda: not governor(engine).connected, what="the governor hears DISCONNECTED")
    ticks_before = engine.clock.now()
    # A dozen reconcile intervals (5 clock seconds each) with no TWS to read from.
    wait_until(
        lambda: (engine.clock.now() - ticks_before).total_seconds() > 60,
        what="a minute of engine time while TWS is away",
    )
    assert _kinds(engine, "actor_crash") == []
    assert engine.crashes == {}

    again = server_from_config(config, port=port, speed=SPEED, start=engine.clock.now())
    again.start()
    engine_servers.append(again)
    wait_until(lambda: governor(engine).connected, timeout_s=15, what="reconnected")
    wait_until(lambda: len(_kinds(engine, "reconciled")) == 2, what="the reconnect pass")
    connection = _kinds(engine, "connection")
    assert len(connection) == 2, connection  # one when it went, one when it came back
    assert connection[0].startswith("DISCONNECTED") and connection[1].startswith("CONNECTED")
    assert _kinds(engine, "actor_crash") == []
    assert ib_broker(engine).stats()["reconnects"] == 1


def test_an_option_chain_read_while_the_link_is_down_is_empty_not_an_error(
    harness: Callable[..., Harness], tws: TwsSimServer
) -> None:
    """A VA's chain scan that finds the link down: no chain (the scan is retried later), not a
    ``ConnectionError`` that would crash the VA."""
    h = harness(reconnect_base_s=30.0, reconnect_cap_s=30.0).start("AAPL")
    tws.drop_connections()
    wait_until(
        lambda: ConnectionState.DISCONNECTED in h.recorder.connection_states(),
        what="DISCONNECTED",
    )
    assert h.broker.option_chain("AAPL", right="P") == []
