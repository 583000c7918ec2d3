"""db/lease.py: one engine per ledger (an OS lock on SQLite, an advisory lock on PostgreSQL), and
migrations that never race on an empty PostgreSQL database."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from db.connection import close_database, open_database, pending_migrations
from db.lease import LeaseHeld, LedgerLease, acquire_lease, lease_file
from db.refusals import LedgerRefused
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]

#: A process that takes the lease and says so, then waits to be killed.
_HOLD = """
import sys
from db.lease import acquire_lease
lease = acquire_lease(sys.argv[1], instance=sys.argv[2], command="the child engine")
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def leases() -> Iterator[list[LedgerLease]]:
    """The leases a test took, released at its end."""
    taken: list[LedgerLease] = []
    yield taken
    for lease in taken:
        lease.release()


def _acquire_within(url: str, instance: str, timeout_s: float) -> LedgerLease:
    """Acquire, trying again while refused until ``timeout_s`` (a killed process's PostgreSQL
    session ends a moment after the process)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return acquire_lease(url, instance=instance, command="after the kill")
        except LeaseHeld:
            if time.monotonic() >= deadline:
                raise


def test_a_second_lease_on_a_ledger_is_refused_with_one_line_naming_the_holder(
    ledger_url: str, leases: list[LedgerLease]
) -> None:
    leases.append(acquire_lease(ledger_url, instance="main", command="main.py run --headless"))
    with pytest.raises(LeaseHeld) as refused:
        acquire_lease(ledger_url, instance="main", command="a second engine")
    line = str(refused.value)
    assert isinstance(refused.value, LedgerRefused)
    assert "\n" not in line
    assert f"host {socket.gethostname()}, pid {os.getpid()}, started at 20" in line
    assert "command 'main.py run --headless'" in line
    assert "stop that engine, or use another --db" in line
    assert "password" not in line


def test_a_released_lease_can_be_taken_again_and_release_is_idempotent(
    ledger_url: str, leases: list[LedgerLease]
) -> None:
    first = acquire_lease(ledger_url, instance="main", command="first")
    first.release()
    first.release()
    leases.append(acquire_lease(ledger_url, instance="main", command="second"))


class _LingeringSession:
    """A psycopg2 connection whose ``close`` leaves the session open: as when the server
    process of a closed connection ends a moment after the close (under load, after the next
    engine asked)."""

    def __init__(self, real: object) -> None:
        self.real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def close(self) -> None:
        return None


def test_a_released_postgresql_lease_is_free_before_its_session_has_ended(
    postgres: PostgresServer, leases: list[LedgerLease]
) -> None:
    url = postgres.new_database()
    first = acquire_lease(url, instance="main", command="first")
    session = first._connection  # type: ignore[attr-defined]
    first._connection = _LingeringSession(session)  # type: ignore[attr-defined]
    try:
        first.release()
        leases.append(acquire_lease(url, instance="main", command="a restart at once"))
    finally:
        session.close()


@pytest.mark.slow
def test_the_lease_of_a_sigkilled_process_is_free_at_once(
    ledger_url: str, leases: list[LedgerLease]
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, ledger_url, "main"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(LeaseHeld, match=f"pid {child.pid}, .*command 'the child engine'"):
            acquire_lease(ledger_url, instance="main", command="while the child holds it")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        leases.append(_acquire_within(ledger_url, "main", timeout_s=5))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()


def test_instances_on_one_postgresql_database_do_not_block_each_other(
    postgres: PostgresServer, leases: list[LedgerLease]
) -> None:
    url = postgres.new_database()
    leases.append(acquire_lease(url, instance="main", command="engine of main"))
    leases.append(acquire_lease(url, instance="paper", command="engine of paper"))
    with pytest.raises(LeaseHeld, match=r"instance paper\).*command 'engine of paper'"):
        acquire_lease(url, instance="paper", command="a second engine of paper")


def test_a_refused_postgresql_engine_names_the_session_when_the_holder_wrote_no_row(
    postgres: PostgresServer, leases: list[LedgerLease]
) -> None:
    """A holder that has the lock but whose row is missing (or a stale row of a killed engine):
    the server's view of the session holding the lock names it."""
    url = postgres.new_database()
    leases.append(acquire_lease(url, instance="main", command="the holder"))
    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("UPDATE ledger_main.engine_lease SET backend_pid = 0")
    finally:
        connection.close()
    with pytest.raises(LeaseHeld, match=r"held by another engine: PostgreSQL session \d+ from "):
        acquire_lease(url, instance="main", command="a second engine")


def test_an_sqlite_lease_is_an_owner_only_file_beside_the_ledger(
    tmp_path: Path, leases: list[LedgerLease]
) -> None:
    database = tmp_path / "private" / "ledger.db"
    leases.append(acquire_lease(f"sqlite:///{database}", instance="main", command="x"))
    assert stat.S_IMODE(os.stat(lease_file(database)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(database.parent).st_mode) == 0o700


def test_an_in_memory_ledger_needs_no_lease(leases: list[LedgerLease]) -> None:
    leases.append(acquire_lease("sqlite:///:memory:", instance="main", command="a"))
    leases.append(acquire_lease("sqlite:///:memory:", instance="main", command="b"))


#: Opens (and so migrates) the database once the parent says go.
_MIGRATE = """
import sys
from db.connection import close_database, open_database
print("ready", flush=True)
sys.stdin.readline()
close_database(open_database(sys.argv[1]))
print("migrated", flush=True)
"""


@pytest.mark.slow
def test_processes_migrating_an_empty_postgresql_database_at_once_never_crash(
    postgres: PostgresServer,
) -> None:
    """Several processes open one empty database at the same moment: each waits for the
    migration lock; none crashes on a duplicate ``pg_type`` row, and the ledger is complete."""
    for _attempt in range(3):
        url = postgres.new_database()
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _MIGRATE, url],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = []
        try:
            for child in children:  # every child has imported what it needs ...
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready"
            for child in children:  # ... then all go at once
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
            results = [child.communicate(timeout=60) for child in children]
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.communicate(timeout=10)
        for child, (out, err) in zip(children, results, strict=True):
            assert child.returncode == 0, err[-2000:]
            assert out.strip() == "migrated"
        database = open_database(url, migrate=False)
        try:
            assert pending_migrations(database) == []
        finally:
            close_database(database)


def test_a_lease_file_that_cannot_be_made_is_refused_in_one_line(tmp_path: Path) -> None:
    # Not a traceback, and not mistaken (as an OSError was) for "cannot connect to TWS".
    # (A ledger path under a file is refused before, as a path: tests/db/test_ledger_refusals.)
    blocker = tmp_path / "ledger.db.lease"
    blocker.mkdir()  # the lease file's name is taken by a directory
    with pytest.raises(LedgerRefused) as refused:
        acquire_lease(f"sqlite:///{tmp_path / 'ledger.db'}", instance="main", command="engine")
    line = str(refused.value)
    assert line == (
        f"cannot take the lease on the ledger {tmp_path / 'ledger.db'}: {blocker}: Is a directory"
    )
