"""The engine's ledger as the harness reads it, read-only, on SQLite or PostgreSQL (by URL):
cheap counters polled every few milliseconds, and consistent snapshots through ``db.Ledger``
(both on the harness's thread)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import peewee
from playhouse import db_url

from db.instances import DEFAULT_INSTANCE, schema_name
from db.integrity import ENDED  # the statuses that end an order short of a fill

_TIME_COLUMNS = (
    ('"order"', "created_at"),
    ('"order"', "updated_at"),
    ("order_event", "time"),
    ("execution", "time"),
    ("risk_event", "time"),
    ("signal", "time"),
)


def read_only_database(url: str, *, timeout_s: float) -> peewee.Database | None:
    """A peewee database that reads the ledger at ``url`` and cannot write it: an SQLite file
    opened read-only (None while the file does not exist), or PostgreSQL sessions whose
    transactions are read-only, the engine's schema (``ledger_main``) first on the search path.

    Raises:
        ValueError: neither an SQLite nor a PostgreSQL URL.
    """
    kind = db_url.schemes.get(urlparse(url).scheme)
    if kind is not None and issubclass(kind, peewee.SqliteDatabase):
        path = Path(str(db_url.parse(url)["database"]))
        if not path.exists():
            return None
        return peewee.SqliteDatabase(f"file:{path}?mode=ro", uri=True, timeout=timeout_s)
    if kind is not None and issubclass(kind, peewee.PostgresqlDatabase):
        settings = {
            "default_transaction_read_only": "on",
            "search_path": f"{schema_name(DEFAULT_INSTANCE)},public",
            "lock_timeout": f"{int(timeout_s * 1000)}",
        }
        options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        database: peewee.Database = db_url.connect(url, options=options)
        return database
    raise ValueError(f"the crash harness reads an SQLite or PostgreSQL ledger, not {url!r}")


def snapshot_transaction(database: peewee.Database) -> AbstractContextManager[Any]:
    """One read transaction that sees one state of the ledger: SQLite's deferred transaction
    (a WAL snapshot from its first read), PostgreSQL's ``REPEATABLE READ`` (its default, READ
    COMMITTED, would let each statement see newer commits)."""
    if isinstance(database, peewee.PostgresqlDatabase):
        atomic: AbstractContextManager[Any] = database.atomic(isolation_level="REPEATABLE READ")
        return atomic
    return database.atomic()


# -- the ledger, read-only ---------------------------------------------------------------------
class LedgerProbe:
    """Cheap counters polled every few milliseconds (single statements, autocommit)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: peewee.Database | None = None
        self._marks: tuple[int, int] | None = None  # newest order event and execution ids
        self._counts = (0, 0)  # (orders, executions) when the marks were read

    def _rows(self, sql: str, *args: object) -> Iterator[tuple[Any, ...]] | None:
        """The rows of ``sql`` (``{p}`` marks a parameter); None when the ledger cannot be
        read yet (no file, no tables, no server: the engine has not made it)."""
        try:
            if self._db is None:
                self._db = read_only_database(self.url, timeout_s=2.0)
                if self._db is None:
                    return None
            cursor = self._db.execute_sql(sql.format(p=self._db.param), args)
            return iter(cursor.fetchall())
        except peewee.PeeweeException:
            self.close()
            return None

    def _one(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        rows = self._rows(sql, *args)
        return next(rows, None) if rows is not None else None

    def close(self) -> None:
        if self._db is not None and not self._db.is_closed():
            with contextlib.suppress(peewee.PeeweeException):
                self._db.close()
        self._db = None
        self._marks = None

    def counts(self) -> tuple[int, int]:
        """(orders, executions) stored; (0, 0) before the tables exist.

        Polled every half millisecond: the rows are counted again only when the newest order
        event or execution id moved (every stored order adds an order event in its
        transaction). On PostgreSQL a count scans the table (hundreds of microseconds, and
        growing), the newest id is one index read."""
        row = self._one(
            "SELECT (SELECT coalesce(max(id), 0) FROM order_event), "
            "(SELECT coalesce(max(id), 0) FROM execution)"
        )
        if not row:
            return (0, 0)
        marks = (int(row[0]), int(row[1]))
        if marks != self._marks:
            counted = self._one(
                'SELECT (SELECT count(*) FROM "order"), (SELECT count(*) FROM execution)'
            )
            if not counted:
                return (0, 0)
            self._marks, self._counts = marks, (int(counted[0]), int(counted[1]))
        return self._counts

    def order_ids(self) -> frozenset[str]:
        """The ids of the orders stored so far."""
        return frozenset(r[0] for r in self._rows('SELECT id FROM "order"') or ())

    def orders_after(self, known: Iterable[str]) -> list[str]:
        """The orders stored that are not in ``known`` (by creation time)."""
        seen = set(known)
        rows = self._rows('SELECT id FROM "order" ORDER BY created_at, id') or ()
        return [r[0] for r in rows if r[0] not in seen]

    def max_risk_event_id(self) -> int:
        row = self._one("SELECT coalesce(max(id), 0) FROM risk_event")
        return int(row[0]) if row else 0

    def times_outside(self, first: datetime, last: datetime) -> dict[str, tuple[int, str]]:
        """Per ledger time column: how many stored times fall outside [first, last] and one of
        them (the ledger stores naive UTC)."""
        low, high = (t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for t in (first, last))
        found: dict[str, tuple[int, str]] = {}
        for table, column in _TIME_COLUMNS:
            row = self._one(
                f"SELECT count(*), max({column}) FROM {table} "
                f"WHERE {column} < {{p}} OR {column} > {{p}}",
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
            "SELECT id, detail, time FROM risk_event WHERE kind = 'reconciled' AND id > {p} "
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

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: peewee.Database | None = None
        self._ledger: Any = None

    def snapshot(self) -> LedgerSnapshot | None:
        from db import Ledger
        from db.models import database_proxy

        try:
            if self._db is None:
                self._db = read_only_database(self.url, timeout_s=5.0)
                if self._db is None:
                    return None
                database_proxy.initialize(self._db)
                self._ledger = Ledger(self._db)
            with snapshot_transaction(self._db):  # one consistent snapshot
                orders = {o.id: o for o in self._ledger.orders()}
                executions = self._ledger.executions()
                positions = self._ledger.open_positions()
                events = self._ledger.risk_events()
                p = self._db.param
                cursor = self._db.execute_sql(
                    f"SELECT order_id, detail FROM order_event WHERE status IN ({p}, {p}, {p}) "
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
            with contextlib.suppress(peewee.PeeweeException):
                self._db.close()
        self._db = None
