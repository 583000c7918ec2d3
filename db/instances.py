"""Engine instances in one ledger database.

Several engines (several IB accounts, or machines) may share one PostgreSQL database: each has
an instance name (``[engine] instance``, ``core.config_errors.INSTANCE_NAME``) and keeps its
rows, its migrations table included, in its own PostgreSQL schema, ``ledger_<instance>``: every
connection of the engine has ``search_path`` set to that schema, so no engine reads or changes
another's orders or positions. An SQLite file holds one instance: the first engine records its
name in the file (table ``ledger_meta``, migration 0003) and an engine of another instance is
refused (``InstanceRefused``).

Runs on the thread that opens the database (``db.connection.open_database``) or reads it.
"""

from __future__ import annotations

import peewee

from core.config_errors import INSTANCE_NAME
from db.refusals import LedgerRefused

__all__ = [
    "DEFAULT_INSTANCE",
    "InstanceRefused",
    "claim_instance",
    "create_schema",
    "instances_in",
    "is_postgres",
    "postgres_options",
    "recorded_instance",
    "schema_name",
]

DEFAULT_INSTANCE = "main"
_PREFIX = "ledger_"
_META = "ledger_meta"
_KEY = "instance"


class InstanceRefused(LedgerRefused):
    """The SQLite file holds another instance's ledger."""


def schema_name(instance: str) -> str:
    """The PostgreSQL schema that holds ``instance``'s rows.

    Raises:
        ValueError: not an instance name.
    """
    if not INSTANCE_NAME.fullmatch(instance):
        raise ValueError(f"not an instance name: {instance!r}")
    return f"{_PREFIX}{instance}"


def is_postgres(db: peewee.Database) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def postgres_options(instance: str) -> dict[str, object]:
    """Connection options that put every connection (each thread opens its own) in the
    instance's schema: psycopg2's ``options`` (libpq's ``-c search_path=...``)."""
    return {"options": f"-c search_path={schema_name(instance)}"}


def create_schema(db: peewee.Database, instance: str) -> None:
    """Create the instance's schema if missing (PostgreSQL). Two engines creating it at once
    both succeed: the loser of the race finds it made."""
    schema = schema_name(instance)
    try:
        with db.atomic():
            db.execute_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except peewee.IntegrityError:
        if not db.execute_sql(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone():
            raise


def recorded_instance(db: peewee.Database) -> str | None:
    """The instance name the ledger records (``ledger_meta``), or None (none yet, or a ledger
    made before instances)."""
    if _META not in db.get_tables():
        return None
    row = db.execute_sql(f"SELECT value FROM {_META} WHERE key = {db.param}", (_KEY,)).fetchone()
    return str(row[0]) if row else None


def claim_instance(db: peewee.Database, instance: str, *, where: str, write: bool) -> None:
    """Refuse a ledger that records another instance; record ``instance`` in one that records
    none (when ``write``; a reader never writes).

    Raises:
        InstanceRefused: the ledger holds another instance.
    """
    held = recorded_instance(db)
    if held is not None and held != instance:
        raise InstanceRefused(
            f"{where} holds instance {held!r}; this engine is {instance!r}: give each instance "
            "its own SQLite file, or share a PostgreSQL database"
        )
    if held is None and write and _META in db.get_tables():
        # Another process opening the same new ledger may record its instance between the read
        # above and this insert: the first one wins, and the loser reads what it recorded.
        with db.atomic():
            db.execute_sql(
                f"INSERT INTO {_META} (key, value) VALUES ({db.param}, {db.param}) "
                "ON CONFLICT (key) DO NOTHING",
                (_KEY, instance),
            )
        claim_instance(db, instance, where=where, write=False)


def instances_in(db: peewee.Database, *, fallback: str) -> list[str]:
    """The instances whose ledgers ``db`` holds, sorted: on PostgreSQL the schemas
    ``ledger_<name>`` with a ledger in them; on SQLite the file's one instance (``fallback``
    when the file records none)."""
    if not is_postgres(db):
        return [recorded_instance(db) or fallback]
    rows = db.execute_sql(
        "SELECT n.nspname FROM pg_namespace n WHERE n.nspname LIKE 'ledger\\_%%' "
        "AND EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = n.nspname "
        "AND t.tablename = 'order') ORDER BY n.nspname"
    ).fetchall()
    names = [str(r[0])[len(_PREFIX) :] for r in rows]
    return [n for n in names if INSTANCE_NAME.fullmatch(n)]
