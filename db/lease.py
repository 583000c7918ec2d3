"""One engine per ledger: the exclusive lease an engine holds on its ledger for its whole life.

An SQLite file is leased with an OS lock: ``flock(LOCK_EX | LOCK_NB)`` on ``<db file>.lease``
(0600, beside the database in its 0700 directory), held on a descriptor that stays open while
the engine runs. The holder (host, pid, started at, command, instance) is written into the file
after locking; a refused engine reads it from there. A PostgreSQL ledger is leased with a session
advisory lock (``pg_try_advisory_lock(LEASE_KEY, crc32(instance))``) on a connection the lease
owns, and the holder is written to ``<instance schema>.engine_lease``. Either way the operating
system or the server drops the lock when the process dies, so a SIGKILLed engine never blocks its
own restart: a stale holder text is simply overwritten. ``sqlite:///:memory:`` needs no lease.

Threads: ``acquire_lease`` and ``release`` run on the engine's constructing/stopping thread
(the main thread, or a test's); the lease does nothing in between.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import peewee
from playhouse import db_url

from db.instances import schema_name
from db.private_files import make_private_dirs, refuse_unusable_path, tighten
from db.refusals import LedgerRefused, LedgerUnreachable, UnknownLedgerScheme

__all__ = [
    "LEASE_KEY",
    "MIGRATION_KEY",
    "LeaseHeld",
    "LedgerLease",
    "acquire_lease",
    "instance_key",
    "lease_file",
    "ledger_name",
    "migration_lock_sql",
]

LEASE_KEY = 0x4C454153
"""The first key of every engine's PostgreSQL advisory lock ("LEAS"); the second is the
instance's (``instance_key``)."""

MIGRATION_KEY = (0x4D494752, 0)
"""The PostgreSQL advisory lock held around migrations ("MIGR"), one per database."""

_MEMORY = ":memory:"


class LeaseHeld(LedgerRefused):
    """Another engine holds this ledger; ``str(err)`` names it and says what to do."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lease (what a refused engine prints)."""

    host: str
    pid: int
    started_at: str
    command: str
    instance: str

    def describe(self) -> str:
        return (
            f"host {self.host}, pid {self.pid}, started at {self.started_at}, "
            f"command {self.command!r}"
        )


class LedgerLease(Protocol):
    """An acquired lease; ``release()`` gives it up (idempotent)."""

    @property
    def where(self) -> str: ...

    def release(self) -> None: ...


def acquire_lease(url: str, *, instance: str, command: str) -> LedgerLease:
    """Take the exclusive lease on the ledger at ``url`` for ``instance``, or refuse.

    Raises:
        LeaseHeld: another engine (process) holds it; the message names the holder.
        db.refusals.UnknownLedgerScheme: unknown URL scheme (a ``RuntimeError``).
        db.private_files.LedgerPathRefused: an SQLite path that is a directory or under a
            file.
    """
    me = Holder(
        host=socket.gethostname(),
        pid=os.getpid(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
        instance=instance,
    )
    db_class = _database_class(url)
    if issubclass(db_class, peewee.SqliteDatabase):
        path = _sqlite_path(url)
        if path is None:
            return _NoLease(url)
        return _FileLease.acquire(path, me)
    if issubclass(db_class, peewee.PostgresqlDatabase):
        return _AdvisoryLease.acquire(db_url.parse(url), me)
    raise RuntimeError(f"no engine lease for {urlparse(url).scheme!r} databases")


def ledger_name(url: str) -> str:
    """How a refusal names the ledger at ``url``: a file path, or a server and database (never
    a password)."""
    db_class = _database_class(url)
    if issubclass(db_class, peewee.SqliteDatabase):
        path = _sqlite_path(url)
        return str(path) if path is not None else url
    return _pg_where(db_url.parse(url))


def lease_file(database: Path) -> Path:
    """The lock file of the SQLite ledger ``database``."""
    return database.with_name(database.name + ".lease")


def instance_key(instance: str) -> int:
    """The second advisory-lock key of ``instance``: its CRC-32 as a signed 32-bit integer."""
    crc = zlib.crc32(instance.encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _database_class(url: str) -> type[peewee.Database]:
    scheme = urlparse(url).scheme
    db_class = db_url.schemes.get(scheme)
    if db_class is None:
        raise UnknownLedgerScheme.of(url)
    klass: type[peewee.Database] = db_class
    return klass


def _sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL, or None for an in-memory database."""
    path = str(db_url.parse(url)["database"])
    if path.startswith("file:"):
        path, _, query = path[len("file:") :].partition("?")
        if "mode=memory" in query:
            return None
    if path in ("", _MEMORY):
        return None
    return Path(path).resolve()


def _refusal(where: str, instance: str, holder: str) -> LeaseHeld:
    return LeaseHeld(
        f"ledger {where} (instance {instance}) is held by another engine: {holder}; "
        "stop that engine, or use another --db (or another [engine] instance)"
    )


class _NoLease:
    """An in-memory database belongs to its process alone: nothing to lease."""

    def __init__(self, url: str) -> None:
        self.where = url

    def release(self) -> None:
        return None


class _FileLease:
    """``flock`` on ``<db>.lease``, held on ``self._fd`` until ``release`` (or death)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.where = str(path)
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path, me: Holder) -> _FileLease:
        path = lease_file(database)
        refuse_unusable_path(database)
        try:
            make_private_dirs(database.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            tighten(path)
        except OSError as err:  # a read-only or foreign directory: one line, never a traceback
            raise _unwritable(database, path, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise _unwritable(database, path, err) from None
            holder = _read_holder_file(fd)
            os.close(fd)
            raise _refusal(str(database), me.instance, holder) from None
        try:
            text = json.dumps(_as_json(me)).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, text, 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(database, fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no stale holder for the next reader
        finally:
            os.close(fd)  # closing drops the flock


def _unwritable(database: Path, path: Path, err: OSError) -> LedgerUnreachable:
    """The one line for a lease file that cannot be made or locked (a read-only directory,
    another user's file)."""
    return LedgerUnreachable(
        f"cannot take the lease on the ledger {database}: {path}: {err.strerror}"
    )


def _as_json(holder: Holder) -> dict[str, Any]:
    return {
        "host": holder.host,
        "pid": holder.pid,
        "started_at": holder.started_at,
        "command": holder.command,
        "instance": holder.instance,
    }


def _read_holder_file(fd: int) -> str:
    """The holder written in a lock file someone else holds (it may not have written yet)."""
    raw = os.pread(fd, 64 * 1024, 0)
    try:
        data = json.loads(raw.decode())
        return Holder(
            host=str(data["host"]),
            pid=int(data["pid"]),
            started_at=str(data["started_at"]),
            command=str(data["command"]),
            instance=str(data["instance"]),
        ).describe()
    except (ValueError, KeyError, TypeError):
        return "an engine that has not written its details yet (try again in a moment)"


class _AdvisoryLease:
    """A session advisory lock on a psycopg2 connection of its own (not peewee's)."""

    def __init__(self, where: str, instance: str, connection: Any) -> None:
        self.where = where
        self._instance = instance
        self._connection: Any = connection

    @classmethod
    def acquire(cls, params: dict[str, Any], me: Holder) -> _AdvisoryLease:
        where = _pg_where(params)
        try:
            import psycopg2  # noqa: PLC0415 - only PostgreSQL ledgers need the driver
        except ImportError as err:
            raise LedgerUnreachable.no_driver(where, err) from err

        params = dict(params)
        dbname = params.pop("database")
        try:
            connection = psycopg2.connect(dbname=dbname, **params)
        except psycopg2.OperationalError as err:
            raise LedgerUnreachable.failed(where, err) from err
        try:
            connection.autocommit = True
            key = instance_key(me.instance)
            with connection.cursor() as cursor:
                cursor.execute("SET application_name = %s", (f"engine {me.instance}"[:63],))
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", (LEASE_KEY, key))
                (locked,) = cursor.fetchone()
                if not locked:
                    holder = _read_holder_row(cursor, me.instance, key)
                    raise _refusal(where, me.instance, holder)
                _write_holder_row(cursor, me)
        except BaseException:
            connection.close()
            raise
        return cls(where, me.instance, connection)

    def release(self) -> None:
        import psycopg2  # noqa: PLC0415

        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if not connection.closed:
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"DELETE FROM {_holder_table(self._instance)} "
                        "WHERE backend_pid = pg_backend_pid()"
                    )
                    # Unlocked here, before this returns: a closed connection's lock goes only
                    # once its server process has ended, which can be after the next engine
                    # (a restart in the same second) asked for it and was refused.
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)",
                        (LEASE_KEY, instance_key(self._instance)),
                    )
        except psycopg2.Error:
            pass  # the lock still goes with the connection, a moment later
        finally:
            connection.close()


def _holder_table(instance: str) -> str:
    return f'"{schema_name(instance)}".engine_lease'


def _write_holder_row(cursor: Any, me: Holder) -> None:
    """Called holding the lock: no other engine of this instance creates or writes the table."""
    table = _holder_table(me.instance)
    cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema_name(me.instance)}"')
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (instance text PRIMARY KEY, host text NOT NULL, "
        "pid integer NOT NULL, started_at text NOT NULL, command text NOT NULL, "
        "backend_pid integer NOT NULL)"
    )
    cursor.execute(
        f"INSERT INTO {table} (instance, host, pid, started_at, command, backend_pid) "
        "VALUES (%s, %s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (instance) DO UPDATE SET "
        "host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at, "
        "command = EXCLUDED.command, backend_pid = EXCLUDED.backend_pid",
        (me.instance, me.host, me.pid, me.started_at, me.command),
    )


_LOCK_HOLDER = (
    "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = %s AND l.objid = %s AND l.objsubid = 2"
)


def _read_holder_row(cursor: Any, instance: str, key: int) -> str:
    """The holder of ``instance``'s lease: its row when the row is the lock holder's, else what
    the server knows about the session holding the lock."""
    import psycopg2.errors  # noqa: PLC0415

    keys = (LEASE_KEY & 0xFFFFFFFF, key & 0xFFFFFFFF)
    cursor.execute(
        "SELECT a.pid, a.client_addr, a.backend_start, a.application_name "
        f"FROM pg_stat_activity a WHERE a.pid IN ({_LOCK_HOLDER})",
        keys,
    )
    session = cursor.fetchone()
    try:
        cursor.execute(
            "SELECT host, pid, started_at, command, instance, backend_pid "
            f"FROM {_holder_table(instance)} WHERE instance = %s",
            (instance,),
        )
        row = cursor.fetchone()
    except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName):  # starting
        row = None
    if row is not None and session is not None and row[5] == session[0]:
        return Holder(str(row[0]), int(row[1]), str(row[2]), str(row[3]), str(row[4])).describe()
    if session is None:
        return "a session that has just ended (try again)"
    backend_pid, client, began, name = session
    began_text = began.isoformat(timespec="seconds") if began is not None else "?"
    return (
        f"PostgreSQL session {backend_pid} from {client or 'a local socket'} "
        f"({name or 'no application name'}), connected at {began_text}"
    )


def _pg_where(params: dict[str, Any]) -> str:
    host = params.get("host") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{host}{port}/{params.get('database')}"


def migration_lock_sql() -> tuple[str, str]:
    """The statements that take and give back the migration lock (PostgreSQL)."""
    k1, k2 = MIGRATION_KEY
    return f"SELECT pg_advisory_lock({k1}, {k2})", f"SELECT pg_advisory_unlock({k1}, {k2})"
