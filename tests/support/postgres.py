"""A throwaway PostgreSQL server for the suite: ``initdb`` into a temporary directory, ``pg_ctl``
on a free loopback port, a fresh database per test, everything removed at the end.

The machine image has the PostgreSQL server binaries on PATH (docs: ../shared/PLATFORM.md);
``initdb`` refuses to run as root, so as root the server runs as the OS user ``postgres``. Where
the binaries (or that user) are missing, ``PostgresServer.unavailable()`` says why, and the
tests that need a server are skipped with that line.

Threads: the fixture's (pytest's) thread only.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg2

__all__ = ["PostgresServer"]

_USER = "engine"
_BINARIES = ("initdb", "pg_ctl")
_START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL server on 127.0.0.1, owned by the test session."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="engine-pg-"))
        self.port = _free_port()
        self._numbers = itertools.count(1)
        self._running = False

    @staticmethod
    def unavailable() -> str | None:
        """Why no server can be started here, or None when one can."""
        missing = [b for b in _BINARIES if shutil.which(b) is None]
        if missing:
            return f"no PostgreSQL server binaries on PATH ({', '.join(missing)} missing)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no OS user 'postgres' to run initdb as"
        return None

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_START_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )

    def start(self) -> None:
        """``initdb`` and ``pg_ctl start`` (trust authentication, loopback only)."""
        if os.geteuid() == 0:
            shutil.chown(self._dir, user="postgres")
        data = self._dir / "data"
        self._run("initdb", "-A", "trust", "-U", _USER, "-D", str(data))
        options = f"-h 127.0.0.1 -p {self.port} -k {self._dir}"
        log = str(self._dir / "log")
        self._run("pg_ctl", "-D", str(data), "-o", options, "-w", "-l", log, "start")
        self._running = True

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        try:
            if self._running:
                self._run("pg_ctl", "-D", str(self._dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            self._running = False
            shutil.rmtree(self._dir, ignore_errors=True)

    def url(self, database: str) -> str:
        """The peewee URL of ``database`` on this server."""
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "ledger") -> str:
        """Create an empty database and return its URL."""
        name = f"{prefix}_{next(self._numbers)}"
        admin = psycopg2.connect(host="127.0.0.1", port=self.port, user=_USER, dbname="postgres")
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        return self.url(name)
