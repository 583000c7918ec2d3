"""Fixtures for the ledger tests: a fresh, migrated SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from db import Ledger, close_database, open_temporary_database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[peewee.Database]:
    db = open_temporary_database(tmp_path)
    yield db
    close_database(db)


@pytest.fixture
def ledger(database: peewee.Database) -> Ledger:
    return Ledger(database)
