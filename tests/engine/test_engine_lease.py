"""The engine and its ledger's lease: taken first in the constructor (a refused engine connects
to nothing and opens no database), held while it runs, given back when it stops or when its
construction fails."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from core.config import EngineConfig
from db.lease import LeaseHeld, acquire_lease
from db.refusals import LedgerUnreadable
from engine.engine import Engine
from engine.options import RunOptions
from tests.support.engine import MONDAY_10, make_config, start_engine


def _ib_config(port: int) -> EngineConfig:
    """The test config with ``broker.kind = "ib"`` on ``port`` (where nothing listens)."""
    config = make_config()
    ib = config.broker.ib.model_copy(update={"host": "127.0.0.1", "port": port})
    broker = config.broker.model_copy(update={"kind": "ib", "ib": ib})
    return config.model_copy(update={"broker": broker})


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_refused_engine_connects_to_no_broker_and_opens_no_database(tmp_path: Path) -> None:
    database = tmp_path / "engine.db"
    url = f"sqlite:///{database}"
    holder = acquire_lease(url, instance="main", command="the other engine")
    try:
        # Without the lease first, this would fail connecting to IB (nothing listens there).
        with pytest.raises(LeaseHeld, match="command 'the other engine'"):
            Engine(_ib_config(_closed_port()), RunOptions(database_url=url, speed=1.0))
        assert not database.exists(), "the refused engine opened (and migrated) the ledger"
    finally:
        holder.release()


def test_a_running_engine_holds_its_ledger_until_it_stops(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    sim = start_engine(tmp_path)
    with pytest.raises(LeaseHeld, match=r"instance main\) is held by another engine"):
        acquire_lease(url, instance="main", command="a second engine")
    sim.engine.stop()
    acquire_lease(url, instance="main", command="after the stop").release()


def test_an_engine_whose_construction_fails_gives_its_lease_back(tmp_path: Path) -> None:
    not_a_database = tmp_path / "engine.db"
    # sqlite cannot read a file of text: the constructor fails after leasing (a directory is
    # now refused before the lease, by the lease itself).
    not_a_database.write_text("not a database\n" * 100)
    url = f"sqlite:///{not_a_database}"
    options = RunOptions(database_url=url, speed=None, start=MONDAY_10)
    with pytest.raises(LedgerUnreadable, match="file is not a database"):
        Engine(make_config(), options)
    acquire_lease(url, instance="main", command="after the failure").release()
