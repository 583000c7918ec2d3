"""The engine's ledger as the harness reads it, read-only: cheap counters polled every few
milliseconds, and consistent snapshots through ``db.Ledger`` (both on the harness's thread)."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db.integrity import ENDED  # the statuses that end an order short of a fill

_TIME_COLUMNS = (
    ('"order"', "created_at"),
    ('"order"', "updated_at"),
    ("order_event", "time"),
    ("execution", "time"),
    ("risk_event", "time"),
    ("signal", "time"),
)


# -- the ledger, read-only ---------------------------------------------------------------------
class LedgerProbe:
    """Cheap counters polled every few milliseconds (plain sqlite3, read-only, autocommit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _one(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        try:
            if self._conn is None:
                if not self.path.exists():
                    return None
                self._conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=2.0, isolation_level=None
                )
            row: tuple[Any, ...] | None = self._conn.execute(sql, args).fetchone()
            return row
        except sqlite3.Error:
            self.close()
            return None

    def _all(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        try:
            if self._conn is None and self._one("SELECT 1") is None:
                return []
            assert self._conn is not None
            return list(self._conn.execute(sql, args).fetchall())
        except sqlite3.Error:
            self.close()
            return []

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None

    def counts(self) -> tuple[int, int]:
        """(orders, executions) stored; (0, 0) before the tables exist."""
        row = self._one('SELECT (SELECT count(*) FROM "order"), (SELECT count(*) FROM execution)')
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def max_order_rowid(self) -> int:
        row = self._one('SELECT coalesce(max(rowid), 0) FROM "order"')
        return int(row[0]) if row else 0

    def orders_after(self, rowid: int) -> list[str]:
        return [
            r[0] for r in self._all('SELECT id FROM "order" WHERE rowid > ? ORDER BY rowid', rowid)
        ]

    def max_risk_event_id(self) -> int:
        row = self._one("SELECT coalesce(max(id), 0) FROM risk_event")
        return int(row[0]) if row else 0

    def times_outside(self, first: datetime, last: datetime) -> dict[str, tuple[int, str]]:
        """Per ledger time column: how many stored times fall outside [first, last] and one of
        them (the ledger stores naive UTC text)."""
        low, high = (t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for t in (first, last))
        found: dict[str, tuple[int, str]] = {}
        for table, column in _TIME_COLUMNS:
            row = self._one(
                f"SELECT count(*), max({column}) FROM {table} WHERE {column} < ? OR {column} > ?",
                low,
                high,
            )
            if row and row[0]:
                name = table.strip('"')
                found[f"{name}.{column}"] = (int(row[0]), str(row[1]))
        return found

    def reconciled_after(self, event_id: int) -> tuple[int, str, datetime] | None:
        """The first ``reconciled`` risk event stored after ``event_id``: (id, detail, time)."""
        row = self._one(
            "SELECT id, detail, time FROM risk_event WHERE kind = 'reconciled' AND id > ? "
            "ORDER BY id LIMIT 1",
            event_id,
        )
        if not row:
            return None
        when = datetime.fromisoformat(str(row[2])).replace(tzinfo=UTC)
        return int(row[0]), str(row[1]), when


@dataclass
class LedgerSnapshot:
    orders: dict[str, Any]  # id -> db.records.OrderRecord
    executions: list[Any]  # db.records.ExecutionRecord, time order
    positions: list[Any]  # db.records.OpenPosition (per VA and contract)
    risk_events: list[Any]
    # Orders ended (cancelled, rejected, inactive): the detail of the event that ended them.
    end_details: dict[str, str] = field(default_factory=dict)


class LedgerReader:
    """Consistent snapshots through ``db.Ledger`` on a read-only connection (one transaction)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: Any = None
        self._ledger: Any = None

    def snapshot(self) -> LedgerSnapshot | None:
        import peewee

        from db import Ledger
        from db.models import database_proxy

        if not self.path.exists():
            return None
        try:
            if self._db is None:
                self._db = peewee.SqliteDatabase(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
                database_proxy.initialize(self._db)
                self._ledger = Ledger(self._db)
            with self._db.atomic():  # one read transaction: one consistent snapshot
                orders = {o.id: o for o in self._ledger.orders()}
                executions = self._ledger.executions()
                positions = self._ledger.open_positions()
                events = self._ledger.risk_events()
                cursor = self._db.execute_sql(
                    "SELECT order_id, detail FROM order_event WHERE status IN (?, ?, ?) "
                    "ORDER BY id",
                    ENDED,
                )
                end_details = {
                    oid: detail
                    for oid, detail in cursor.fetchall()
                    if oid in orders and orders[oid].status.value in ENDED
                }
            return LedgerSnapshot(orders, executions, positions, events, end_details)
        except peewee.PeeweeException:
            self.close()
            return None

    def close(self) -> None:
        if self._db is not None and not self._db.is_closed():
            self._db.close()
        self._db = None
