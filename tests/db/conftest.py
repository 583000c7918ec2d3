"""Fixtures for the ledger tests: a fresh, migrated ledger per test, once on an SQLite file and
once on a database of the session's PostgreSQL server (``ledger_url``, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from db import Ledger, close_database, open_database, open_temporary_database


@pytest.fixture
def database(ledger_url: str) -> Iterator[peewee.Database]:
    db = open_database(ledger_url)
    yield db
    close_database(db)


@pytest.fixture
def ledger(database: peewee.Database) -> Ledger:
    return Ledger(database)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[peewee.Database]:
    """A migrated SQLite file, for the tests of what only SQLite has (pragmas, file modes)."""
    db = open_temporary_database(tmp_path)
    yield db
    close_database(db)
