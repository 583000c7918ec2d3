"""``--broker ib`` keeps the ledger's timeline too: an engine whose broker clock (tws-sim's
time, which the engine's clock is anchored at) is behind the ledger's last record is refused as
a clock error, before any actor starts: nothing written, nothing sent, and the connection it
made to anchor its clock is closed again. Through ``main.py run``: exit 2 with that line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from ib_engine_support import TUESDAY_10, engine_config, make_engine, tws_for
from ib_support import wait_until
from test_ib_cli import config_file, run_cli

from broker.tws.runner import server_from_config
from broker.tws.server import TwsSimServer
from core.config import load_config
from db import Ledger, RiskEventRecord, close_database, open_database
from db.refusals import TimelineRefused

#: A record a day after tws-sim's clock: the ledger was written by a later run.
LATER = TUESDAY_10 + timedelta(days=1)

CLOCK_ERROR = re.compile(
    r"the broker's clock says 2026-01-06T10:0\d:\d\d(\.\d+)?-05:00 but the ledger (?P<ledger>\S+) "
    r"already holds a record at 2026-01-07T10:00:00-05:00: a clock error on this machine or at "
    r"the broker; nothing was sent \(check the clocks, or use a new --db\)"
)


def _ledger_ahead_of_the_broker(url: str) -> list[RiskEventRecord]:
    """Store one record at ``LATER``; returns what the ledger holds."""
    database = open_database(url)
    try:
        ledger = Ledger(database)
        ledger.insert_risk_event(RiskEventRecord(LATER, "halt", "HALTED", "a later run"))
        return ledger.risk_events()
    finally:
        close_database(database)


def _held(url: str) -> tuple[list[RiskEventRecord], int, int]:
    database = open_database(url)
    try:
        ledger = Ledger(database)
        return ledger.risk_events(), len(ledger.orders()), len(ledger.accounts())
    finally:
        close_database(database)


def test_a_broker_clock_behind_the_ledger_is_refused_and_the_connection_closed(
    tmp_path: Path, engine_servers: list[TwsSimServer]
) -> None:
    config = engine_config(tmp_path, trading=False)
    tws = tws_for(config)
    engine_servers.append(tws)
    url = f"sqlite:///{tmp_path / 'ib.db'}"
    stored = _ledger_ahead_of_the_broker(url)
    with pytest.raises(TimelineRefused) as refused:
        engine = make_engine(config, tws, url)
        engine.broker.stop()  # reached only when not refused (the test fails): disconnect
    found = CLOCK_ERROR.fullmatch(str(refused.value))
    assert found is not None, str(refused.value)
    assert found["ledger"] == url
    wait_until(lambda: tws.connected_client_ids() == [], what="the engine's connection closed")
    assert _held(url) == (stored, 0, 0)  # not one row written


@pytest.fixture
def server() -> Iterator[list[TwsSimServer]]:
    made: list[TwsSimServer] = []
    yield made
    for tws in made:
        tws.stop()


def test_main_py_run_exits_2_with_the_clock_error_line(
    tmp_path: Path, server: list[TwsSimServer]
) -> None:
    config = load_config(config_file(tmp_path, port=7497))
    tws = server_from_config(config, port=0, speed=60.0, start=TUESDAY_10)
    tws.start()
    server.append(tws)
    path = config_file(tmp_path, port=tws.port)
    db = f"sqlite:///{tmp_path / 'ib.db'}"
    stored = _ledger_ahead_of_the_broker(db)
    run = run_cli(
        "run", "--broker", "ib", "--headless", "--config", str(path), "--speed", "60",
        "--until", "10:30", "--db", db,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    last_line = run.stderr.strip().splitlines()[-1]
    assert last_line.startswith("main.py run: the broker's clock says "), run.stderr[-3000:]
    assert CLOCK_ERROR.fullmatch(last_line.removeprefix("main.py run: ")) is not None, last_line
    wait_until(lambda: tws.connected_client_ids() == [], what="the engine's connection closed")
    assert _held(db) == (stored, 0, 0)
