"""Opening and closing the ledger database, and running its migrations.

Any peewee URL works (``sqlite:///ledger.db``, ``postgresql://user@host/db``, ...). SQLite is
the default and is tuned for several threads in one process: WAL, ``synchronous=NORMAL``, a
5 s busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for every transaction (deferred
transactions that upgrade from read to write fail with "database is locked" under
concurrent writers; immediate ones queue on the busy timeout).

Connections are thread-local: each thread that touches the database opens its own connection
on first use and must close it itself (``close_database`` or ``Ledger.close`` on that thread,
e.g. in an actor's ``on_stop``).

``sqlite:///:memory:`` works for single-threaded use only: every thread's connection, and every
reconnection, sees its own empty database. Tests that involve threads use
``open_temporary_database(tmp_path)`` (a file) instead.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import peewee
from playhouse import db_url
from playhouse.migrations import Runner

from db.instances import (
    DEFAULT_INSTANCE,
    claim_instance,
    create_schema,
    is_postgres,
    postgres_options,
    schema_name,
)
from db.lease import migration_lock_sql
from db.models import database_proxy
from db.private_files import make_private_dirs, refuse_unusable_path, tighten
from db.refusals import (
    LedgerUnreachable,
    LedgerUnreadable,
    SchemaAltered,
    SchemaTooNew,
    UnknownLedgerScheme,
    ledger_label,
)
from db.schema_shape import altered_tables

__all__ = [
    "MIGRATIONS_DIR",
    "SQLITE_PRAGMAS",
    "LedgerUnreachable",
    "close_database",
    "damage_refused",
    "open_database",
    "open_temporary_database",
    "pending_migrations",
    "run_migrations",
    "unknown_migrations",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
"""Numbered migration files (``NNNN_name.py`` with ``up(migrator, db)``), applied in order."""

SHIPPED_MIGRATIONS_DIR = MIGRATIONS_DIR
"""The migrations the ledger models (``db.models``) describe the result of: a ledger that has
applied exactly these must have every model's table and column."""

SQLITE_PRAGMAS: dict[str, object] = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
}
"""Executed on every new SQLite connection (busy_timeout in milliseconds)."""

_MEMORY = ":memory:"


def open_database(
    url: str, *, instance: str = DEFAULT_INSTANCE, migrate: bool = True
) -> peewee.Database:
    """Open the database at ``url``, bind the ledger models to it and apply pending migrations.

    ``instance`` names the engine in its ledger (``db/instances.py``). On PostgreSQL every
    connection's ``search_path`` is the instance's schema ``ledger_<instance>`` (created here
    when ``migrate``): the tables, the migrations table included, are the instance's own. On
    SQLite the file records its instance; another instance's engine is refused. With
    ``migrate=False`` (a reader: ``report``, ``check-ledger``) nothing is created or written.

    For an SQLite file (``migrate``), every directory created on the way is owner-only (0o700)
    and the file owner-only (0o600) before the first connection, an existing one tightened to
    0o600; SQLite gives its ``-wal``/``-shm`` files the same mode. A path that is a directory
    or lies under a file is refused (``db.private_files.LedgerPathRefused``).
    Binding goes through the process-wide ``database_proxy``, so one ledger database is open
    per process at a time (opening another rebinds the models).

    Runs on the calling thread, which keeps the connection open afterwards.

    Raises:
        db.refusals.UnknownLedgerScheme: unknown URL scheme (a ``RuntimeError``).
        ValueError: the URL names no database, or ``instance`` is not an instance name.
        LedgerUnreachable: the database cannot be opened (driver, server, database, file).
        db.refusals.LedgerUnreadable: the file is not a database, or a damaged one.
        db.refusals.SchemaTooNew: the ledger records a migration this version does not have.
        db.refusals.SchemaAltered: a table or column of this version's models is missing.
        db.private_files.LedgerPathRefused: the SQLite path is a directory or under a file.
        db.instances.InstanceRefused: the SQLite file holds another instance.
        peewee.OperationalError: a migration fails.
    """
    schema_name(instance)  # raises ValueError for a name that is not an instance's
    scheme = urlparse(url).scheme
    db_class = db_url.schemes.get(scheme)
    if db_class is None:
        raise UnknownLedgerScheme.of(url)
    options: dict[str, object] = {}
    if db_class is not None and issubclass(db_class, peewee.SqliteDatabase):
        path = str(db_url.parse(url)["database"])
        if path != _MEMORY and not path.startswith("file:"):
            refuse_unusable_path(Path(path).resolve())
            if migrate:
                _create_private_file(Path(path))
        options = {"pragmas": dict(SQLITE_PRAGMAS), "lock_type": "IMMEDIATE"}
    elif db_class is not None and issubclass(db_class, peewee.PostgresqlDatabase):
        options = postgres_options(instance)
    db: peewee.Database = db_url.connect(url, **options)
    database_proxy.initialize(db)
    try:
        _connect(db, url)
        if migrate and is_postgres(db):
            create_schema(db, instance)
        if migrate:
            _migrate_under_lock(db, url)  # a ledger a newer version migrated is refused first
        else:
            _refuse_unknown_migrations(db, url)
        _refuse_altered_tables(db, url, instance)
        claim_instance(db, instance, where=_where(url), write=migrate)
    except (peewee.DatabaseError, sqlite3.DatabaseError) as err:
        db.close()
        if LedgerUnreadable.is_damage(err):
            raise LedgerUnreadable.damaged(_where(url), err) from err
        raise
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def damage_refused(url: str) -> Iterator[None]:
    """Reading the ledger at ``url`` inside: a damaged file met there (SQLite's "database disk
    image is malformed" from a page the opening did not read) becomes the one-line
    ``LedgerUnreadable``; other errors pass."""
    try:
        yield
    except (peewee.DatabaseError, sqlite3.DatabaseError) as err:
        if LedgerUnreadable.is_damage(err):
            raise LedgerUnreadable.damaged(_where(url), err) from err
        raise


def open_temporary_database(directory: str | os.PathLike[str]) -> peewee.Database:
    """Open (and migrate) a fresh SQLite file ``ledger.db`` in ``directory``.

    For tests: unlike ``sqlite:///:memory:``, every thread sees the same database. Pass
    pytest's ``tmp_path``; the caller owns the directory and its cleanup.
    """
    path = Path(directory).resolve() / "ledger.db"
    return open_database(f"sqlite:///{path}")


def run_migrations(db: peewee.Database) -> list[str]:
    """Apply every pending migration in ``MIGRATIONS_DIR``; returns the names applied.

    Each migration runs in its own transaction and is recorded in ``schema_migration``, so a
    database made by an older version opens in a newer one, and a second run is a no-op.
    """
    runner = Runner(db, directory=str(MIGRATIONS_DIR))
    applied: list[str] = runner.up()
    return applied


def pending_migrations(db: peewee.Database) -> list[str]:
    """The migrations ``run_migrations`` would apply to ``db``, in order; reads only (for the
    commands that read a ledger without its lease: they never migrate one an engine may be
    migrating)."""
    runner = Runner(db, directory=str(MIGRATIONS_DIR))
    return [m.name for m in runner.status() if m.path is not None and m.applied is None]


def unknown_migrations(db: peewee.Database) -> list[str]:
    """The migrations ``db`` records that ``MIGRATIONS_DIR`` does not have (a newer engine's),
    in order; reads only."""
    runner = Runner(db, directory=str(MIGRATIONS_DIR))
    return [m.name for m in runner.status() if m.path is None]


def _refuse_unknown_migrations(db: peewee.Database, url: str) -> None:
    """A ledger a newer version has migrated is not this engine's to read or write: its
    tables may have columns this one does not fill, or lack ones it expects."""
    newer = unknown_migrations(db)
    if newer:
        raise SchemaTooNew(
            f"the ledger {_where(url)} has a newer schema than this engine knows (migration "
            f"{', '.join(newer)} is not among this version's {len(_known_migrations())}): "
            "run the version that migrated it, or another --db"
        )


def _refuse_altered_tables(db: peewee.Database, url: str, instance: str) -> None:
    """A migrated ledger whose tables were changed by hand or another program (a renamed
    table or column) would fail on the first write there: refused now (``db.schema_shape``).
    A reader's ledger with migrations pending is left to the reader, which says so."""
    applied = set(Runner(db, directory=str(SHIPPED_MIGRATIONS_DIR)).applied())
    if applied != {path.stem for path in _migration_files(SHIPPED_MIGRATIONS_DIR)}:
        return  # not at this version's schema (a reader's ledger with migrations pending)
    lacking = altered_tables(db, schema=schema_name(instance) if is_postgres(db) else None)
    if lacking:
        raise SchemaAltered(
            f"the ledger {_where(url)} does not have the tables its migrations made "
            f"({'; '.join(lacking)}): it was changed by hand or by another program; restore it "
            "from a backup, or use another --db"
        )


def _known_migrations() -> list[Path]:
    return _migration_files(MIGRATIONS_DIR)


def _migration_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.py"))


def _migrate_under_lock(db: peewee.Database, url: str) -> None:
    """``run_migrations``, on PostgreSQL under a database-wide advisory lock: engines of several
    instances starting at once on an empty database take turns (concurrent ``CREATE TABLE``
    fails with a duplicate ``pg_type`` key); the second finds nothing left to apply. An SQLite
    ledger is migrated under its engine's lease and SQLite's own write lock. Either way a
    ledger that records a migration this version lacks is refused before anything is applied."""
    if not isinstance(db, peewee.PostgresqlDatabase):
        _refuse_unknown_migrations(db, url)
        run_migrations(db)
        return
    take, give_back = migration_lock_sql()
    db.execute_sql(take)
    # If either fails, open_database closes the session, which drops the lock.
    _refuse_unknown_migrations(db, url)
    run_migrations(db)
    db.execute_sql(give_back)


def close_database(db: peewee.Database) -> None:
    """Close the calling thread's connection to ``db`` (a no-op if it has none).

    Other threads' connections stay open: each thread closes its own.
    """
    if not db.is_closed():
        db.close()


def _connect(db: peewee.Database, url: str) -> None:
    """Open the calling thread's connection, or say in one line why the ledger cannot be."""
    try:
        db.connect(reuse_if_open=True)
    except peewee.ImproperlyConfigured as err:
        raise LedgerUnreachable.no_driver(ledger_label(url), err) from err
    except peewee.DatabaseError as err:  # OperationalError too; damage before that
        if LedgerUnreadable.is_damage(err):
            raise LedgerUnreadable.damaged(_where(url), err) from err
        raise LedgerUnreachable.failed(ledger_label(url), err) from err


def _where(url: str) -> str:
    """The ledger as a refusal names it: the SQLite file's path, else the URL's host and
    database (never a password)."""
    parsed = urlparse(url)
    if parsed.scheme.startswith("sqlite"):
        return str(db_url.parse(url)["database"])
    return f"{parsed.hostname or 'localhost'}{parsed.path}"


def _create_private_file(path: Path) -> None:
    """The ledger file owner-only: created 0600 in 0700 directories, or an existing one (and
    its ``-wal``/``-shm``) tightened to 0600 (``db.private_files``)."""
    make_private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            tighten(file)
        return
    os.close(fd)
