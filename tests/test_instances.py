"""Two engine instances trade into ONE PostgreSQL database at the same time, each against its
own simulated TWS (``main.py run --broker ib --headless``, two processes at once): each
instance's ledger holds exactly its own broker's executions and positions, and ``main.py
report --all`` shows both and their totals."""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import pytest

import main
from db import Ledger, close_database, open_database
from tests.support.crash.broker import BrokerReader
from tests.support.crash.engine_process import EngineProcess
from tests.support.crash.harness import ROOT
from tests.support.crash.market import Market
from tests.support.crash.options import HarnessOptions
from tests.support.postgres import PostgresServer

INSTANCES = {"alpha": 42, "beta": 7}  # instance -> market seed (two different markets)
SPEED = 120.0
MIN_EXECUTIONS = 4  # per instance, with a position open, before the markets are frozen
TRADING_WAIT_S = 90.0  # measured: 10-20 s on 2 shared cores
SETTLE_WAIT_S = 30.0

# serial: two engines and two tws-sims, settling within bounds: runs alone (Makefile unit)
pytestmark = [pytest.mark.timeout(TRADING_WAIT_S + 2 * SETTLE_WAIT_S + 60), pytest.mark.serial]


def _template(tmp_path: Path, instance: str, seed: int) -> Path:
    """config.toml with this instance's name and market seed."""
    text = (ROOT / "config.toml").read_text()
    for old, new in (
        ('instance = "main"', f'instance = "{instance}"'),
        ("seed = 42", f"seed = {seed}"),
    ):
        assert old in text, f"config.toml: no {old!r} (update this test)"
        text = text.replace(old, new, 1)
    path = tmp_path / f"{instance}.toml"
    path.write_text(text)
    return path


def _count(url: str, instance: str) -> int:
    """Executions stored in the instance's schema (0 before it exists)."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM ledger_{instance}.execution")
            row = cursor.fetchone()
    except psycopg2.Error:
        return 0
    finally:
        conn.close()
    return int(row[0]) if row else 0


def _until(predicate: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.25)


def _ledger(url: str, instance: str) -> tuple[dict[str, int], set[str]]:
    """The instance's positions per contract (summed over its VAs) and its exec ids."""
    database = open_database(url, instance=instance, migrate=False)
    try:
        ledger = Ledger(database)
        held: dict[str, int] = defaultdict(int)
        for position in ledger.open_positions():
            held[position.contract.key] += position.quantity
        executions = {e.exec_id for e in ledger.executions() if not e.exec_id.startswith("cross-")}
    finally:
        close_database(database)
    return {k: q for k, q in held.items() if q}, executions


def test_two_instances_trade_into_one_postgres_database_concurrently(
    postgres: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.new_database()
    markets: dict[str, Market] = {}
    engines: dict[str, EngineProcess] = {}
    try:
        for instance, seed in INSTANCES.items():
            workdir = tmp_path / instance
            workdir.mkdir()
            options = HarnessOptions(
                speed=SPEED, config=_template(tmp_path, instance, seed), workdir=workdir
            )
            market = Market(options, workdir)
            market.start()
            markets[instance] = market
        for number, (instance, market) in enumerate(markets.items(), 1):
            command = [
                *(sys.executable, str(ROOT / "main.py"), "run", "--broker", "ib", "--headless"),
                *("--speed", f"{SPEED:g}", "--config", str(market.config_path), "--db", url),
            ]
            engines[instance] = EngineProcess(
                number, command, market.workdir, market.workdir / "engine.stderr"
            )
        traded = _until(
            lambda: (
                all(_count(url, i) >= MIN_EXECUTIONS for i in INSTANCES)
                or not all(e.alive() for e in engines.values())
            ),
            TRADING_WAIT_S,
        )
        tails = {i: e.tail() for i, e in engines.items()}
        assert traded and all(e.alive() for e in engines.values()), f"engines: {tails}"
        for market in markets.values():
            market.freeze()  # no more quotes, no resting order matches

        last: dict[str, Any] = {}

        def settled() -> dict[str, tuple[dict[str, int], set[str]]] | None:
            """Each instance's ledger against its own broker, now that nothing moves."""
            seen = {}
            for instance, market in markets.items():
                broker = BrokerReader(market.server.port).snapshot(completed=False)
                held, exec_ids = _ledger(url, instance)
                theirs = {e.exec_id for e in broker.executions}
                last[instance] = (held, broker.positions, exec_ids ^ theirs)
                if held != broker.positions or exec_ids != theirs:
                    return None
                seen[instance] = (held, exec_ids)
            return seen

        # Fills in flight at the freeze reach the running engines' ledgers; then they stop
        # (on_shutdown = "leave": positions stay) and nothing moves any more.
        assert _until(settled, SETTLE_WAIT_S), f"(ledger, broker, exec ids in one only): {last}"
        for instance, engine in engines.items():
            code, _ = engine.terminate(10.0)
            assert code == 0, f"{instance}: {engine.tail()}"
        found = settled()
        assert found, f"after the stop (ledger, broker, exec ids in one only): {last}"
        assert all(found[i][1] for i in INSTANCES)  # both traded
        assert found["alpha"] != found["beta"]  # two different books, each its broker's
    finally:
        for engine in engines.values():
            engine.kill()
        for market in markets.values():
            market.stop()

    config = str(markets["alpha"].config_path)
    assert main.main(["report", "--config", config, "--db", url, "--all", "--json"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert list(every["instances"]) == ["alpha", "beta"]
    for instance in INSTANCES:
        report = every["instances"][instance]
        positions: dict[str, int] = defaultdict(int)
        for p in report["positions"]:
            positions[p["contract"]] += p["qty"]
        assert dict(positions) == found[instance][0]  # its own broker's positions
    totals = every["totals"]
    per = every["per_instance"]
    assert totals["instances"] == 2
    assert totals["trades"] == per["alpha"]["trades"] + per["beta"]["trades"]
    assert totals["orders"] == per["alpha"]["orders"] + per["beta"]["orders"] > 0
    assert totals["realized_pnl"] == pytest.approx(
        per["alpha"]["realized_pnl"] + per["beta"]["realized_pnl"], abs=0.01
    )
    assert main.main(["report", "--config", config, "--db", url, "--instance", "beta"]) == 0
    assert "Virtual accounts" in capsys.readouterr().out
