"""Several engine instances in one database: on PostgreSQL a schema each, so an instance sees
only its own rows; an SQLite file holds one instance and refuses another; ``main.py report
--instance`` / ``--all`` on both backends."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import db.connection
import main
from core.domain import OrderStatus, OrderType, Side
from db import AccountRecord, ExecutionRecord, Ledger, OrderRecord, close_database, open_database
from db.instances import InstanceRefused, instances_in
from tests.support.postgres import PostgresServer

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _trade(ledger: Ledger, va: str, symbol: str, quantity: int, exit_price: str | None) -> None:
    """``va`` buys ``quantity`` ``symbol`` at 100 (commission 1) and, given an exit price,
    sells them there (commission 1)."""
    ledger.upsert_accounts([AccountRecord(va, "demo", Decimal(100000), T0)])
    legs = [(Side.BUY, "100", T0)]
    if exit_price is not None:
        legs.append((Side.SELL, exit_price, T0 + timedelta(hours=1)))
    for n, (side, price, at) in enumerate(legs):
        oid = f"{va}-{n}"
        ledger.insert_order(
            OrderRecord(oid, va, symbol, symbol, side, OrderType.MKT, quantity, "entry", at)
        )
        ledger.update_order(
            oid, status=OrderStatus.FILLED, filled=quantity, avg_fill_price=Decimal(price), time=at
        )
        ledger.insert_execution(
            ExecutionRecord(
                f"{oid}.x", oid, va, symbol, side, quantity, Decimal(price), Decimal(1), at
            )
        )


def _write(url: str, instance: str, va: str, symbol: str, exit_price: str | None) -> None:
    database = open_database(url, instance=instance)
    try:
        _trade(Ledger(database), va, symbol, 10, exit_price)
    finally:
        close_database(database)


def _read(url: str, instance: str) -> tuple[list[str], list[str]]:
    """(order ids, table names) as ``instance`` sees them."""
    database = open_database(url, instance=instance, migrate=False)
    try:
        return [o.id for o in Ledger(database).orders()], database.get_tables()
    finally:
        close_database(database)


def test_two_instances_on_one_postgres_database_see_only_their_own_rows(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    _write(url, "alpha", "va1", "SPY", "110")
    _write(url, "beta", "va1", "QQQ", None)  # the same VA name: still two ledgers
    alpha_orders, alpha_tables = _read(url, "alpha")
    beta_orders, _ = _read(url, "beta")
    assert alpha_orders == ["va1-0", "va1-1"]
    assert beta_orders == ["va1-0"]
    assert "schema_migration" in alpha_tables  # each instance migrates its own schema
    database = open_database(url, instance="alpha", migrate=False)
    try:
        assert instances_in(database, fallback="main") == ["alpha", "beta"]
        rows = database.execute_sql(
            'SELECT contract_key FROM ledger_beta."order" UNION ALL '
            "SELECT contract_key FROM ledger_alpha.\"order\" WHERE contract_key = 'QQQ'"
        ).fetchall()
        assert rows == [("QQQ",)]  # beta's row only in beta's schema
        assert database.execute_sql("SHOW search_path").fetchone() == ("ledger_alpha",)
    finally:
        close_database(database)


def test_every_thread_of_an_instance_gets_its_schema(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    _write(url, "alpha", "va1", "SPY", None)
    database = open_database(url, instance="alpha", migrate=False)
    seen: list[object] = []

    def other_thread() -> None:
        seen.append(database.execute_sql("SHOW search_path").fetchone())
        database.close()

    try:
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(timeout=10)
    finally:
        close_database(database)
    assert seen == [("ledger_alpha",)]


def test_an_sqlite_file_refuses_a_second_instance(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _write(url, "alpha", "va1", "SPY", None)
    with pytest.raises(InstanceRefused) as refused:
        open_database(url, instance="beta")
    assert str(refused.value) == (
        f"{tmp_path / 'ledger.db'} holds instance 'alpha'; this engine is 'beta': give each "
        "instance its own SQLite file, or share a PostgreSQL database"
    )
    assert _read(url, "alpha")[0] == ["va1-0"]  # the file is unchanged and still alpha's


def test_the_engine_run_refuses_another_instances_sqlite_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _write(url, "alpha", "va1", "SPY", None)
    config = tmp_path / "beta.toml"
    config.write_text(CONFIG.read_text().replace('instance = "main"', 'instance = "beta"', 1))
    code = main.main(
        ["run", "--headless", "--config", str(config), "--db", url, "--speed", "max",
         "--start", "2026-03-03T09:30", "--until", "09:31"]
    )  # fmt: skip
    assert code == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("main.py run: ")]
    assert lines == [
        f"main.py run: {tmp_path / 'ledger.db'} holds instance 'alpha'; this engine is 'beta': "
        "give each instance its own SQLite file, or share a PostgreSQL database"
    ]


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main.main(["report", "--config", str(CONFIG), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_report_gives_one_instance_or_all_with_their_totals(
    ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    postgres = ledger_url.startswith("postgresql")
    _write(ledger_url, "alpha", "va1", "SPY", "110")  # +100 - 2 commissions
    if postgres:
        _write(ledger_url, "beta", "va2", "QQQ", None)  # open, -1 commission
    code, out, _ = _report(capsys, "--db", ledger_url, "--instance", "alpha", "--json")
    assert code == 0
    alpha = json.loads(out)
    assert [t["pnl"] for t in alpha["trades"]] == [98.0]
    assert alpha["positions"] == []

    code, out, _ = _report(capsys, "--db", ledger_url, "--all", "--json")
    assert code == 0
    every = json.loads(out)
    names = ["alpha", "beta"] if postgres else ["alpha"]
    assert list(every["instances"]) == names
    assert every["instances"]["alpha"] == alpha
    expected = {"instances": len(names), "trades": 1, "wins": 1, "losses": 0}
    expected |= (
        {"realized_pnl": 97.0, "open_positions": 1, "orders": 3}
        if postgres
        else {"realized_pnl": 98.0, "open_positions": 0, "orders": 2}
    )
    assert every["totals"] == expected

    code, out, _ = _report(capsys, "--db", ledger_url, "--all")
    assert code == 0
    assert "=== Instance alpha ===" in out
    assert ("=== Instance beta ===" in out) is postgres
    total = [line for line in out.splitlines() if line.strip().startswith("TOTAL ")]
    assert len(total) == len(names) + 1  # each instance's VA table's, the instances' totals
    assert f"open positions {expected['open_positions']:>3}" in total[-1]


def test_report_of_an_instance_without_a_ledger_exits_2_with_one_line(
    ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(ledger_url, "alpha", "va1", "SPY", None)
    code, out, err = _report(capsys, "--db", ledger_url, "--instance", "gamma")
    assert code == 2 and out == ""
    if ledger_url.startswith("postgresql"):
        assert err.startswith("main.py report: ledger postgresql://127.0.0.1:")
        assert "(instance 'gamma', schema ledger_gamma) is not migrated yet (5 migration(s)" in err
    else:
        assert err.startswith("main.py report: ") and "holds instance 'alpha'" in err
    code, _, err = _report(capsys, "--db", ledger_url, "--instance", "Bad-Name")
    assert code == 2 and err == "main.py report: not an instance name: 'Bad-Name'\n"


def test_report_never_migrates_an_older_ledger_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    older = tmp_path / "migrations"
    older.mkdir()
    shutil.copy(db.connection.MIGRATIONS_DIR / "0001_initial.py", older)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with monkeypatch.context() as patched:
        patched.setattr(db.connection, "MIGRATIONS_DIR", older)
        close_database(open_database(url))
    code, out, err = _report(capsys, "--db", url)
    assert code == 2 and out == ""
    assert err == (
        f"main.py report: ledger {tmp_path / 'ledger.db'} is not migrated yet (4 migration(s) "
        "pending, from 0002_option_entry_fields): no engine of this version has run on it; "
        "check --db and --instance, or run the engine first\n"
    )
    database = open_database(url, migrate=False)
    try:
        assert [r[0] for r in database.execute_sql("SELECT name FROM schema_migration")] == [
            "0001_initial"
        ]
    finally:
        close_database(database)


@pytest.mark.parametrize("recorded", ["main", "other"])
def test_an_instance_recorded_by_another_process_between_read_and_insert_is_no_crash(
    ledger_url: str, recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes open one new ledger: both read "no instance", one records its own first.
    The other one's insert must neither crash on the duplicate key nor take a ledger that now
    records another instance."""
    import db.instances

    database = open_database(ledger_url)  # migrated and claimed for "main" ...
    try:
        database.execute_sql("DELETE FROM ledger_meta WHERE key = 'instance'")
        database.execute_sql(  # ... then, as the faster process: recorded after our read
            f"INSERT INTO ledger_meta (key, value) VALUES ('instance', {database.param})",
            (recorded,),
        )
        real = db.instances.recorded_instance
        reads: list[str | None] = []

        def first_read_saw_none(each: object) -> str | None:
            reads.append(None if not reads else real(each))  # our first read saw no instance
            return reads[-1]

        monkeypatch.setattr(db.instances, "recorded_instance", first_read_saw_none)
        if recorded == "main":
            db.instances.claim_instance(database, "main", where="the ledger", write=True)
        else:
            with pytest.raises(InstanceRefused, match="holds instance 'other'"):
                db.instances.claim_instance(database, "main", where="the ledger", write=True)
        assert real(database) == recorded
        assert reads[0] is None
    finally:
        close_database(database)
