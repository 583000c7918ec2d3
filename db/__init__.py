"""The ledger database: models, migrations, the ``Ledger`` and the report.

Open with ``open_database(url)`` (SQLite by default, any peewee URL), wrap in ``Ledger(db)``,
and exchange frozen records with it; ORM rows never leave this package.
"""

from __future__ import annotations

from db.connection import (
    MIGRATIONS_DIR,
    close_database,
    open_database,
    open_temporary_database,
    run_migrations,
)
from db.ledger import DuplicateOrderError, Ledger, LedgerError, UnknownOrderError
from db.records import (
    AccountRecord,
    ExecutionRecord,
    OrderEventRecord,
    OrderRecord,
    RiskEventRecord,
    SignalRecord,
)
from db.report import build_report, format_text_report

__all__ = [
    "MIGRATIONS_DIR",
    "AccountRecord",
    "DuplicateOrderError",
    "ExecutionRecord",
    "Ledger",
    "LedgerError",
    "OrderEventRecord",
    "OrderRecord",
    "RiskEventRecord",
    "SignalRecord",
    "UnknownOrderError",
    "build_report",
    "close_database",
    "format_text_report",
    "open_database",
    "open_temporary_database",
    "run_migrations",
]
