"""A throwaway PostgreSQL server for the suite: ``initdb`` into a temporary directory, ``pg_ctl``
on a free loopback port, a fresh database per test, everything removed at the end.

The machine image has the PostgreSQL server binaries on PATH (docs: ../shared/PLATFORM.md); a
plain Debian install keeps them in ``/usr/lib/postgresql/<version>/bin``, which is looked in
too. ``initdb`` refuses to run as root, so as root the server runs as the OS user ``postgres``.
Where the binaries, that user or the driver are missing, ``PostgresServer.unavailable()`` says
why and what to install, and the tests that need a server are skipped with that line.

The server is for tests only: its directory is in ``/dev/shm`` where there is room (a
``CREATE DATABASE`` per test costs ~30 ms there, ~400 ms on a busy disk) and it runs with
``fsync`` and synchronous commit off: what a client sees is the same, only a crash of the
machine could lose what the server had acknowledged. Nothing outlives the session: ``stop()``
stops the server and removes its directory, and a watchdog process does the same if the test
process dies without calling it (SIGKILL, a CI timeout).

Threads: the fixture's (pytest's) thread only.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["PostgresServer", "free_port"]

_USER = "engine"
_BINARIES = ("initdb", "pg_ctl")
_DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_START_TIMEOUT_S = 60
_FAST_DIR = Path("/dev/shm")
_FAST_DIR_MIN_FREE = 1 << 30  # each test database takes ~8 MB
_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "dynamic_shared_memory_type=mmap",  # in the data directory, not /dev/shm: removed with it
)
_INSTALL_HINT = "install the server (Debian: apt-get install postgresql-15)"
#: Text in the test databases sorts as on most servers (ICU English: "a" < "B"), not in the
#: byte order of the "C" locale this machine image has, which is SQLite's too and would hide an
#: ordering the ledger leaves to the database.
_COLLATION = "en-US"

# Runs in its own session: waits for the end of its stdin (the test process closed it, or
# died), then stops the server at once and removes its directory. argv: the stop command
# (JSON), the directory.
_WATCHDOG = """
import json, shutil, subprocess, sys
sys.stdin.buffer.read()
subprocess.run(json.loads(sys.argv[1]), capture_output=True, timeout=60, check=False)
shutil.rmtree(sys.argv[2], ignore_errors=True)
"""


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 (free when asked)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(name: str) -> str | None:
    """``name`` on PATH, else in the newest Debian ``/usr/lib/postgresql/<version>/bin``."""
    found = shutil.which(name)
    if found is not None:
        return found
    versions = sorted(
        (Path(d) for d in glob.glob(_DEBIAN_BIN_GLOB) if Path(d).parent.name.isdigit()),
        key=lambda d: int(d.parent.name),
    )
    for directory in reversed(versions):
        if (directory / name).is_file():
            return str(directory / name)
    return None


def _temporary_directory() -> Path:
    fast = _FAST_DIR.is_dir() and os.access(_FAST_DIR, os.W_OK)
    if fast and shutil.disk_usage(_FAST_DIR).free >= _FAST_DIR_MIN_FREE:
        return Path(tempfile.mkdtemp(prefix="engine-pg-", dir=_FAST_DIR))
    return Path(tempfile.mkdtemp(prefix="engine-pg-"))


class PostgresServer:
    """One PostgreSQL server on 127.0.0.1, owned by the test session."""

    def __init__(self) -> None:
        self._dir = _temporary_directory()
        self.port = free_port()
        self._numbers = itertools.count(1)
        self._running = False
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> Path:
        """The server's temporary directory (data, log, socket); gone after ``stop()``."""
        return self._dir

    @property
    def watchdog_pid(self) -> int | None:
        """The watchdog's process id while the server runs."""
        return None if self._watchdog is None else self._watchdog.pid

    @staticmethod
    def unavailable() -> str | None:
        """Why no server can be started here (and what to install), or None when one can."""
        missing = [b for b in _BINARIES if _binary(b) is None]
        if missing:
            return (
                f"no PostgreSQL server binaries ({', '.join(missing)} not on PATH nor in "
                f"{_DEBIAN_BIN_GLOB}): {_INSTALL_HINT}"
            )
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return (
                    "running as root and there is no OS user 'postgres' to run initdb as: "
                    f"{_INSTALL_HINT}, which creates it"
                )
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            return "no PostgreSQL driver: pip install -e '.[postgres]' (psycopg2-binary)"
        return None

    def _command(self, name: str, *args: str) -> list[str]:
        command = [_binary(name) or name, *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return command

    def _run(self, name: str, *args: str) -> None:
        done = subprocess.run(
            self._command(name, *args),
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{name} {args[0] if args else ''} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )

    def start(self) -> None:
        """``initdb`` and ``pg_ctl start`` (trust authentication, loopback only), with the
        watchdog armed first; on a failure, everything started is stopped again."""
        data = str(self._dir / "data")
        stop = self._command("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, json.dumps(stop), str(self._dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            if os.geteuid() == 0:
                shutil.chown(self._dir, user="postgres")
            self._run("initdb", "-A", "trust", "-U", _USER, "-D", data)
            settings = " ".join(f"-c {setting}" for setting in _SETTINGS)
            options = f"-h 127.0.0.1 -p {self.port} -k {self._dir} {settings}"
            self._running = True  # from here on, stop() tries pg_ctl stop
            log = str(self._dir / "log")
            self._run("pg_ctl", "-D", data, "-o", options, "-w", "-l", log, "start")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (fast shutdown), remove its directory and retire the watchdog."""
        try:
            if self._running and (self._dir / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self._dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            self._running = False
            shutil.rmtree(self._dir, ignore_errors=True)
            watchdog, self._watchdog = self._watchdog, None
            if watchdog is not None:
                assert watchdog.stdin is not None
                watchdog.stdin.close()  # it finds nothing left to stop
                watchdog.wait(timeout=_START_TIMEOUT_S)

    def url(self, database: str) -> str:
        """The peewee URL of ``database`` on this server."""
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "ledger") -> str:
        """Create an empty database (text sorted by ICU ``en-US``) and return its URL."""
        import psycopg2

        name = f"{prefix}_{next(self._numbers)}"
        admin = psycopg2.connect(host="127.0.0.1", port=self.port, user=_USER, dbname="postgres")
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(
                    f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                    f"ICU_LOCALE '{_COLLATION}' LOCALE 'C'"
                )
        finally:
            admin.close()
        return self.url(name)
