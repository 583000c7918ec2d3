"""Real engines for the command-line tests: ``main.py run --headless`` on the simulator as a
process, a fresh SQLite ledger in a short directory under /tmp (its control socket is derived
beside it: ``<dir>/control/main.sock``, well under the 107 bytes a Unix socket path may have),
its stderr in a file (a pipe nobody reads would fill and stall it), killed at the end."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from engine.control.client import Connection

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "main.py"
CONFIG = ROOT / "config.toml"


@dataclass(frozen=True)
class Place:
    """Where a test's engine keeps its things: ``cwd`` (its logs/), the ledger's ``url`` and
    the control ``socket`` derived beside it."""

    cwd: Path
    directory: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.directory / 'engine.db'}"

    @property
    def socket(self) -> str:
        return str(self.directory / "control" / "main.sock")


@contextmanager
def short_place(cwd: Path) -> Iterator[Place]:
    """A fresh ledger directory under /tmp (removed at the end), the engine run from ``cwd``."""
    directory = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))
    try:
        yield Place(cwd, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main_py(*args: str, cwd: Path, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """``python main.py ARGS`` run to its end (bounded)."""
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        cwd=cwd,
    )


def headless_argv(place: Place, *extra: str, speed: str = "1000") -> list[str]:
    """``main.py run --headless`` on the shipped config at ``speed``, from a Monday's open."""
    return [
        sys.executable, str(MAIN), "run", "--headless", "--config", str(CONFIG),
        "--speed", speed, "--start", "2026-11-16T09:30", "--db", place.url, *extra,
    ]  # fmt: skip


def wait_serving(proc: subprocess.Popen[bytes], socket: str, timeout_s: float) -> Connection:
    """Wait (bounded) until ``proc`` serves ``socket`` and its VAs have started (the socket is
    served before the actors start): a read-only connection to it (close it). Fails the test
    if the process exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    problem = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the engine exited with {proc.returncode} before serving")
        try:
            connection = Connection.open(socket, client="test", read_only=True, timeout_s=2)
        except (OSError, ConnectionError) as err:
            problem = str(err)
        else:
            if connection.welcome.engine.pid == proc.pid and connection.first_state.vas:
                return connection
            connection.close()
            problem = "serving, its VAs not started yet"
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)
    raise AssertionError(f"no engine served {socket} within {timeout_s}s: {problem}")


@contextmanager
def headless_engine(
    place: Place, *extra: str, speed: str = "1000", serve_timeout_s: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """A headless engine serving ``place.socket``; killed at the end if still running."""
    log = place.cwd / f"engine-{time.monotonic_ns()}.err"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            headless_argv(place, *extra, speed=speed),
            cwd=place.cwd,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        try:
            wait_serving(proc, place.socket, serve_timeout_s).close()
        except AssertionError as err:
            raise AssertionError(f"{err}\n{log.read_text()[-2000:]}") from None
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
