"""Ledgers this engine must not use, refused in one line when opened (issue 15, items 4 and 10):
a schema a newer version migrated, a file that is no database or a damaged one, a URL of no
known database, a path that is a directory or lies under a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from playhouse.migrations import Runner

from db import close_database, open_database
from db.connection import MIGRATIONS_DIR
from db.private_files import LedgerPathRefused
from db.refusals import LedgerUnreadable, SchemaAltered, SchemaTooNew, UnknownLedgerScheme


def _add_future_migration(url: str) -> None:
    """What a newer engine leaves behind: a migration row this version has no file for."""
    db = open_database(url)
    try:
        Runner(db, directory=str(MIGRATIONS_DIR)).History.create(name="0004_future")
    finally:
        close_database(db)


@pytest.mark.parametrize("migrate", [True, False], ids=["engine", "reader"])
def test_a_ledger_with_a_migration_this_engine_lacks_is_refused(
    ledger_url: str, migrate: bool
) -> None:
    _add_future_migration(ledger_url)
    with pytest.raises(SchemaTooNew) as caught:
        open_database(ledger_url, migrate=migrate)
    message = str(caught.value)
    assert "has a newer schema than this engine knows (migration 0004_future is not" in message
    assert message.endswith("run the version that migrated it, or another --db")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"garbage, not a database\n" * 10, "file is not a database"),
        (None, "database disk image is malformed"),
    ],
    ids=["garbage", "truncated"],
)
def test_a_file_that_is_no_database_or_a_damaged_one_is_refused(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "ledger.db"
    if content is None:  # a real ledger cut short, as a full disk or a bad copy leaves it
        whole = tmp_path / "whole.db"
        close_database(open_database(f"sqlite:///{whole}"))
        content = whole.read_bytes()[:20_000]
    path.write_bytes(content)
    for migrate in (True, False):
        with pytest.raises(LedgerUnreadable) as caught:
            open_database(f"sqlite:///{path}", migrate=migrate)
        assert str(caught.value) == (
            f"the ledger {path} cannot be read: {reason}; check --db (is it the ledger file?) "
            "or restore the ledger from a backup"
        )


def test_a_url_of_no_known_database_is_refused_naming_the_schemes_to_use() -> None:
    with pytest.raises(UnknownLedgerScheme) as caught:
        open_database("mongodb://x")
    assert str(caught.value) == (
        "the ledger URL mongodb://x has an unknown scheme 'mongodb': use sqlite:///PATH or "
        "postgresql://USER@HOST/DATABASE in --db or engine.database_url"
    )
    assert isinstance(caught.value, RuntimeError)  # as peewee's own refusal of it


def test_a_ledger_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LedgerPathRefused) as caught:
        open_database(f"sqlite:///{tmp_path}")
    assert str(caught.value) == (
        f"the ledger {tmp_path} is a directory, not a database file: name a file in --db or "
        f"engine.database_url (e.g. sqlite:///{tmp_path / 'engine.db'})"
    )


def test_a_ledger_path_under_a_file_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("a file")
    with pytest.raises(LedgerPathRefused) as caught:
        open_database(f"sqlite:///{tmp_path / 'notes' / 'deeper' / 'ledger.db'}")
    assert str(caught.value) == (
        f"the ledger {tmp_path / 'notes' / 'deeper' / 'ledger.db'} cannot be made: "
        f"{tmp_path / 'notes'} is a file, not a directory; check --db or engine.database_url"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


@pytest.mark.parametrize(
    ("alteration", "lacking"),
    [
        ("ALTER TABLE signal RENAME COLUMN detail TO detail_old", "table signal: no column detail"),
        ("ALTER TABLE signal RENAME TO signal_old", "no table signal"),
    ],
    ids=["column-renamed", "table-renamed"],
)
@pytest.mark.parametrize("migrate", [True, False], ids=["engine", "reader"])
def test_a_ledger_whose_tables_were_changed_by_hand_is_refused(
    ledger_url: str, alteration: str, lacking: str, migrate: bool
) -> None:
    db = open_database(ledger_url)
    try:
        db.execute_sql(alteration)
    finally:
        close_database(db)
    with pytest.raises(SchemaAltered) as caught:
        open_database(ledger_url, migrate=migrate)
    message = str(caught.value)
    assert (
        f"does not have the tables its migrations made ({lacking}): it was changed by " in message
    )
    assert message.endswith("restore it from a backup, or use another --db")
