"""The engine on ``--broker ib`` against a simulated TWS whose account has delayed data only:
the configured market data type reaches TWS, the governor flags DELAYED and records it, and
an entry decided on delayed quotes says so in the ledger."""

from __future__ import annotations

from pathlib import Path

from ib_engine_support import SPEED, TUESDAY_10, engine_config, governor, make_engine, signal
from ib_support import wait_until

from broker.tws.runner import server_from_config
from broker.tws.server import TwsSimServer
from engine.engine import Engine


def test_an_engine_on_a_delayed_account_shows_delayed_and_labels_its_decisions(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = server_from_config(config, port=0, speed=SPEED, start=TUESDAY_10, entitlements="delayed")
    tws.start()
    engine_servers.append(tws)
    engine = make_engine(config, tws, f"sqlite:///{tmp_path / 'ib.db'}", market_data_type="delayed")
    engines.append(engine)
    engine.start()
    wait_until(lambda: governor(engine).data_delayed, timeout_s=10, what="DELAYED")
    event = engine.ledger.latest_risk_event("data_type")
    assert event is not None and event.reason.startswith("quotes are delayed")
    assert engine.ledger.latest_risk_event("market_data") is None  # 10167 was asked for
    signal(tmp_path, "d-1", "manual", "AAPL", "BUY", quantity=10)
    wait_until(engine.ledger.orders, timeout_s=10, what="the entry")
    (entry, *_) = [o for o in engine.ledger.orders() if o.purpose == "entry"]
    assert entry.reason.endswith("[delayed data]")
    decision = wait_until(
        lambda: next((s for s in engine.ledger.signals() if s.id == "d-1"), None),
        what="the decision",
    )
    assert decision.accepted and decision.detail.endswith("[delayed data]")
