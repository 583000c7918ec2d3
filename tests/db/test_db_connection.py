"""Opening the ledger database: file modes, pragmas, migrations."""

from __future__ import annotations

import shutil
import stat
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import peewee
import pytest
from playhouse.schema_diff import diff_models

import db.connection
import main
from db import AccountRecord, Ledger, close_database, open_database, run_migrations
from db.connection import LedgerUnreachable
from db.lease import acquire_lease
from db.models import MODELS
from tests.support.postgres import PostgresServer, free_port

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def _pragma(database: peewee.Database, name: str) -> object:
    return database.execute_sql(f"PRAGMA {name}").fetchone()[0]


def test_migrations_create_exactly_the_schema_the_models_describe(
    database: peewee.Database,
) -> None:
    tables = set(database.get_tables())
    assert {
        "virtual_account",
        "order",
        "order_event",
        "execution",
        "signal",
        "risk_event",
    } <= tables
    assert not diff_models(database, list(MODELS))
    indexed = {
        (table, tuple(index.columns))
        for table in ("order", "execution", "signal")
        for index in database.get_indexes(table)
    }
    assert {
        ("order", ("status",)),
        ("order", ("va_id",)),
        ("execution", ("order_id",)),
        ("signal", ("va_id",)),
    } <= indexed


def test_a_second_open_applies_nothing_and_keeps_the_data(ledger_url: str) -> None:
    url = ledger_url
    first = open_database(url)
    applied = first.execute_sql("SELECT name FROM schema_migration ORDER BY name")
    assert [row[0] for row in applied] == [
        "0001_initial",
        "0002_option_entry_fields",
        "0003_ledger_meta",
        "0004_greeks_sample",
        "0005_rolled_from",
    ]
    Ledger(first).upsert_accounts([AccountRecord("va1", "demo", Decimal("1000"), T0)])
    close_database(first)

    second = open_database(url)
    try:
        assert run_migrations(second) == []
        assert second.execute_sql("SELECT COUNT(*) FROM schema_migration").fetchone()[0] == 5
        assert [a.id for a in Ledger(second).accounts()] == ["va1"]
    finally:
        close_database(second)


def test_a_database_made_by_this_version_gets_only_the_next_versions_new_migrations(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = ledger_url
    close_database(open_database(url))
    newer = tmp_path / "migrations"
    newer.mkdir()
    # The next version has every migration of this one (a ledger recording one it lacks is
    # refused as too new), and one more.
    for migration in sorted(db.connection.MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py")):
        shutil.copy(migration, newer)
    (newer / "0099_add_note.py").write_text(
        "import peewee\n\n"
        "def up(migrator, db):\n"
        "    note = peewee.TextField(default='')\n"
        "    migrator.migrate(migrator.add_column('signal', 'note', note))\n"
    )
    monkeypatch.setattr(db.connection, "MIGRATIONS_DIR", newer)

    upgraded = open_database(url, migrate=False)
    try:
        assert run_migrations(upgraded) == ["0099_add_note"]
        assert "note" in {column.name for column in upgraded.get_columns("signal")}
    finally:
        close_database(upgraded)


def test_the_sqlite_file_is_owner_only_in_an_owner_only_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.db"
    database = open_database(f"sqlite:///{path}")
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        close_database(database)


def test_wal_foreign_keys_busy_timeout_and_immediate_transactions_are_in_effect_on_every_thread(
    sqlite_database: peewee.Database,
) -> None:
    database = sqlite_database
    seen: dict[str, tuple[object, ...]] = {}

    def read_pragmas(name: str) -> None:
        seen[name] = tuple(
            _pragma(database, p)
            for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        )
        database.close()

    read_pragmas("main")
    worker = threading.Thread(target=read_pragmas, args=("worker",))
    worker.start()
    worker.join()
    database.connect()  # the fixture closes it

    assert seen["main"] == seen["worker"] == ("wal", 1, 5000, 1)
    assert isinstance(database, peewee.SqliteDatabase)
    assert database._lock_type == "IMMEDIATE"


def test_a_foreign_key_to_a_missing_order_is_refused(database: peewee.Database) -> None:
    with pytest.raises(peewee.IntegrityError, match=r"(?i)foreign key"):
        database.execute_sql(
            "INSERT INTO order_event (order_id, time, status, filled, detail) "
            "VALUES ('nope', '2024-01-01 00:00:00', 'submitted', 0, '')"
        )


def test_an_in_memory_url_works_on_the_opening_thread() -> None:
    database = open_database("sqlite:///:memory:")
    try:
        ledger = Ledger(database)
        ledger.upsert_accounts([AccountRecord("va1", "demo", Decimal("1000"), T0)])
        assert [a.capital for a in ledger.accounts()] == [Decimal("1000")]
    finally:
        close_database(database)


def test_a_ledger_refuses_a_database_the_models_are_not_bound_to(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    other = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        with pytest.raises(ValueError, match="bound to another database"):
            Ledger(database)
    finally:
        close_database(database)
        close_database(other)


def test_a_ledger_on_no_server_is_refused_in_one_line_without_its_password() -> None:
    url = f"postgresql://engine:secret@127.0.0.1:{free_port()}/ledger"
    with pytest.raises(LedgerUnreachable) as refused:
        open_database(url)
    message = str(refused.value)
    assert message.startswith("cannot open the ledger postgresql://engine:***@127.0.0.1:")
    assert "is the server running, and does the database exist?" in message
    assert "secret" not in message and "\n" not in message


def test_a_database_the_server_does_not_have_is_named(postgres: PostgresServer) -> None:
    with pytest.raises(LedgerUnreachable, match='database "nowhere" does not exist'):
        open_database(postgres.url("nowhere"))


def test_without_the_driver_the_refusal_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peewee, "psycopg2", None)
    monkeypatch.setattr(peewee, "psycopg", None)
    with pytest.raises(LedgerUnreachable, match=r"needs the PostgreSQL driver .*\[postgres\]"):
        open_database("postgresql://engine@127.0.0.1:5432/ledger")


def test_main_report_on_an_unreachable_ledger_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = Path(__file__).resolve().parents[2] / "config.toml"
    url = f"postgresql://engine@127.0.0.1:{free_port()}/ledger"
    assert main.main(["report", "--config", str(config), "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"main.py report: cannot open the ledger {url}: ")
    assert err.count("\n") == 1


def test_an_engine_on_no_server_is_refused_by_its_lease_in_the_same_line() -> None:
    """``main.py run`` takes the lease first: it says what ``open_database`` would."""
    url = f"postgresql://engine@127.0.0.1:{free_port()}/ledger"
    with pytest.raises(LedgerUnreachable, match=r"is the server running, and does the database"):
        acquire_lease(url, instance="main", command="test")
