"""The engine on ``--broker ib`` against the simulated TWS when IB settles options without the
engine watching: an engine stopped across an expiration night restarts, books the expiry or
assignment IB processed overnight and does not halt; an early assignment while it runs is
booked as an assignment."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from ib_engine_support import TUESDAY_10, governor, ledger_positions, make_engine
from ib_support import TZ, wait_until
from test_ib_engine_options import (
    NAKED_PUT_TOML,
    SETTLEMENT_TOML,
    SPEED,
    THURSDAY_0931,
    _run,
    broker_positions_by_key,
)

from broker.tws.server import TwsSimServer
from core.config import parse_config
from engine.engine import Engine

#: Settles against tws-sim within wall-clock bounds while the VA trades on: runs alone.
pytestmark = pytest.mark.serial

#: The Monday after the Friday expiration of THURSDAY_0931's puts.
MONDAY_0931 = datetime(2026, 1, 12, 9, 31, tzinfo=TZ)


def _puts(engine: Engine, va: str) -> list[Any]:
    return [e for e in engine.ledger.executions(va_id=va) if " P " in e.contract_key]


@pytest.mark.slow
def test_an_engine_stopped_across_the_expiration_night_settles_at_restart_and_trades_on(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = parse_config(SETTLEMENT_TOML, source="test.toml")
    tws, first = _run(
        config,
        tmp_path,
        engine_servers,
        engines,
        start=THURSDAY_0931,
        speed=120.0,
        clock_sync_s=0.5,
    )
    wait_until(lambda: _puts(first, "itm") and _puts(first, "otm"), timeout_s=15.0, what="sales")
    sold = {va: _puts(first, va)[0] for va in ("itm", "otm")}
    first.stop()
    wait_until(lambda: tws.now() >= MONDAY_0931, timeout_s=40.0, what="the Monday session")
    assert not [k for k in broker_positions_by_key(tws) if " P " in k], "IB settled overnight"

    db_url = f"sqlite:///{tmp_path / 'ib.db'}"
    second = make_engine(config, tws, db_url, speed=120.0, clock_sync_s=0.5)
    engines.append(second)
    second.start()

    def reconciled() -> list[Any]:
        return [e for e in second.ledger.risk_events() if e.kind == "reconciled"]

    events = wait_until(lambda: reconciled()[1:], timeout_s=15.0, what="the startup pass")
    detail = json.loads(events[-1].detail)
    assert detail["mismatch"] is False, detail
    settled = {
        o.va_id: o
        for o in second.ledger.orders()
        if o.purpose in ("expiry", "assignment") and " P " in o.contract_key
    }
    for va, put in sold.items():
        assert settled[va].contract_key == put.contract_key
        assert settled[va].id.startswith(("found-expiry-", "found-assigned-"))
        assert any(put.contract_key in d for d in detail["differences"])
    assert not [k for k in ledger_positions(second) if " P " in k]
    # (The VA may be selling the assigned stock meanwhile: compare once both have settled.)
    wait_until(
        lambda: ledger_positions(second) == broker_positions_by_key(tws),
        timeout_s=10.0,
        what="ledger positions == IB's",
    )
    assert governor(second).state.value == "ACTIVE"


def test_an_early_assignment_is_booked_as_an_assignment_and_the_books_agree(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = parse_config(NAKED_PUT_TOML, source="test.toml")
    tws, engine = _run(config, tmp_path, engine_servers, engines, start=TUESDAY_10, speed=SPEED)
    (sale,) = wait_until(lambda: _puts(engine, "puts"), timeout_s=40.0, what="a sold put")
    wait_until(
        lambda: broker_positions_by_key(tws).get(sale.contract_key) == -sale.quantity,
        what="the short put at IB",
    )

    assert tws.assign_early("AAPL") == sale.quantity

    def assigned() -> list[Any]:
        return [o for o in engine.ledger.orders() if o.purpose == "assignment"]

    bookings = wait_until(
        lambda: len(assigned()) == 2 and assigned(), timeout_s=15.0, what="the assignment booked"
    )
    assert {o.contract_key for o in bookings} == {sale.contract_key, "AAPL"}
    assert all("early" in o.id for o in bookings)
    wait_until(
        lambda: (
            ledger_positions(engine)
            == broker_positions_by_key(tws)
            == {"AAPL": 100 * sale.quantity}
        ),
        timeout_s=10.0,
        what="the ledger and IB holding the delivered stock",
    )
    assert governor(engine).state.value == "ACTIVE"
    assert not [e for e in engine.ledger.risk_events() if e.kind == "reconcile"]
