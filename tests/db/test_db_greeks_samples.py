"""The ``greeks_sample`` table (migration 0004): a database made before it upgrades in place
with the table empty, and a stored sample reads back as written, in time order."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import db.connection
from db import Ledger, close_database, open_database, run_migrations
from db.greeks_samples import greeks_samples, insert_greeks_sample
from db.records import GreeksSampleRecord

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def test_samples_read_back_as_written_in_time_order(ledger: Ledger) -> None:
    later = GreeksSampleRecord(
        T0 + timedelta(minutes=1), "puts", -5123.25, 14.5, Decimal("9876.5"), 2
    )
    first = GreeksSampleRecord(T0, "puts", -4000.0, 12.0, Decimal(9000), 1)
    insert_greeks_sample(ledger, later)
    insert_greeks_sample(ledger, first)
    assert greeks_samples(ledger) == [first, later]


def test_a_database_made_before_the_greeks_table_upgrades_in_place(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = tmp_path / "migrations"
    older.mkdir()
    for name in ("0001_initial", "0002_option_entry_fields", "0003_ledger_meta"):
        shutil.copy(db.connection.MIGRATIONS_DIR / f"{name}.py", older)
    monkeypatch.setattr(db.connection, "MIGRATIONS_DIR", older)
    close_database(open_database(ledger_url))
    monkeypatch.undo()

    upgraded = open_database(ledger_url, migrate=False)
    try:
        assert run_migrations(upgraded) == ["0004_greeks_sample", "0005_rolled_from"]
        ledger = Ledger(upgraded)
        assert greeks_samples(ledger) == []
        sample = GreeksSampleRecord(T0, "puts", -1.5, 0.25, Decimal(100), 1)
        insert_greeks_sample(ledger, sample)
        assert greeks_samples(ledger) == [sample]
    finally:
        close_database(upgraded)
