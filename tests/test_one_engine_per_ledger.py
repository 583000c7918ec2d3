"""One engine per ledger, as a trader meets it: two ``main.py run`` processes on one SQLite file
or one PostgreSQL database (empty, or already migrated): exactly one runs, the other exits 2
with one line naming the holder; a SIGKILLed engine restarts at once on its own ledger; and
``report`` reads a ledger without the lease and without migrating it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import main
from db.connection import close_database, open_database, pending_migrations
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent
CONFIG = ROOT.parent / "config.toml"

pytestmark = pytest.mark.slow


def _run_args(url: str, *extra: str, start: str | None = "2026-11-16T09:30") -> list[str]:
    """``main.py run --headless`` on the shipped config at 200x (it runs until stopped), from
    ``start`` (None: where the ledger ends)."""
    return [
        sys.executable, str(ROOT.parent / "main.py"), "run", "--headless", "--config", str(CONFIG),
        "--speed", "200", *(("--start", start) if start else ()), "--db", url, *extra,
    ]  # fmt: skip


class _Engines:
    """The engine processes a test started, each with its stderr in a file (a pipe nobody
    reads would fill and stall a running engine); killed (if still running) at the end."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.procs: list[subprocess.Popen[str]] = []
        self.logs: dict[int, Path] = {}

    def start(
        self, url: str, *extra: str, start: str | None = "2026-11-16T09:30"
    ) -> subprocess.Popen[str]:
        log = self.cwd / f"engine-{len(self.procs)}.err"
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                _run_args(url, *extra, start=start),
                cwd=self.cwd,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        self.procs.append(proc)
        self.logs[proc.pid] = log
        return proc

    def stderr(self, proc: subprocess.Popen[str]) -> str:
        return self.logs[proc.pid].read_text()

    def wait_for_line(self, proc: subprocess.Popen[str], needle: str, timeout_s: float) -> str:
        """Poll ``proc``'s stderr until a line contains ``needle`` (bounded by ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            for line in self.stderr(proc).splitlines():
                if needle in line:
                    return line
            if proc.poll() is not None or time.monotonic() >= deadline:
                raise AssertionError(
                    f"no line with {needle!r} (exit {proc.poll()}): {self.stderr(proc)[-2000:]}"
                )
            try:
                proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue

    def refusal(self, proc: subprocess.Popen[str]) -> str:
        """The refused engine's whole stderr: exactly one line."""
        assert proc.wait(timeout=60) == 2, self.stderr(proc)[-2000:]
        lines = self.stderr(proc).splitlines()
        assert len(lines) == 1, lines
        return lines[0]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[_Engines]:
    started = _Engines(tmp_path)
    try:
        yield started
    finally:
        started.close()


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def _assert_names_the_holder(line: str, holder: subprocess.Popen[str]) -> None:
    assert line.startswith("main.py run: ledger "), line
    assert f"host {socket.gethostname()}, pid {holder.pid}, started at 20" in line, line
    assert "--speed 200 --start 2026-11-16T09:30" in line, line  # the holder's command
    assert "stop that engine, or use another --db" in line, line


def _migrated(url: str) -> str:
    close_database(open_database(url))
    return url


@pytest.mark.parametrize("ledger", ["empty", "migrated"])
def test_a_second_engine_on_a_ledger_exits_2_with_one_line_naming_the_holder(
    ledger_url: str, ledger: str, engines: _Engines
) -> None:
    url = _migrated(ledger_url) if ledger == "migrated" else ledger_url
    first = engines.start(url)
    engines.wait_for_line(first, "reconciled", timeout_s=90)  # running: reconciled, trading
    second = engines.start(url, "--seed", "7")
    _assert_names_the_holder(engines.refusal(second), first)
    assert first.poll() is None, "the holder keeps running"
    assert _stop(first) == 0


def test_two_engines_started_at_once_on_an_empty_postgresql_database_one_runs(
    postgres: PostgresServer, engines: _Engines
) -> None:
    """Both start at the same moment: neither crashes in the migration, one runs and the
    other is refused naming it."""
    url = postgres.new_database()
    pair = [engines.start(url), engines.start(url)]
    deadline = time.monotonic() + 90
    while all(proc.poll() is None for proc in pair) and time.monotonic() < deadline:
        _wait_for_exit(pair, deadline)
    refused = [proc for proc in pair if proc.poll() is not None]
    assert len(refused) == 1, "exactly one of the two is refused"
    running = next(proc for proc in pair if proc is not refused[0])
    _assert_names_the_holder(engines.refusal(refused[0]), running)
    engines.wait_for_line(running, "reconciled", timeout_s=90)
    assert _stop(running) == 0


def _wait_for_exit(pair: list[subprocess.Popen[str]], deadline: float) -> None:
    """Wait (bounded by ``deadline``) until one of ``pair`` exits."""
    for proc in pair:
        try:
            proc.wait(timeout=max(0.01, min(0.2, deadline - time.monotonic())))
            return
        except subprocess.TimeoutExpired:
            continue


def test_a_sigkilled_engine_restarts_at_once_on_its_own_ledger(
    ledger_url: str, engines: _Engines
) -> None:
    first = engines.start(ledger_url)
    engines.wait_for_line(first, "reconciled", timeout_s=90)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    again = engines.start(ledger_url, start=None)  # on from the ledger's end: one timeline
    engines.wait_for_line(again, "reconciled", timeout_s=90)  # not refused: it runs
    assert _stop(again) == 0


def test_report_reads_a_ledger_an_engine_holds_and_never_migrates_one(
    ledger_url: str, engines: _Engines, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty ledger: report says it is not migrated and leaves it so (an engine may be
    # migrating it under its lease).
    assert main.main(["report", "--config", str(CONFIG), "--db", ledger_url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("main.py report: ledger ") and "is not migrated yet" in err, err
    database = open_database(ledger_url, migrate=False)
    try:
        assert pending_migrations(database), "report migrated the ledger"
    finally:
        close_database(database)
    # A ledger an engine holds: report reads it (no lease needed).
    holder = engines.start(ledger_url)
    engines.wait_for_line(holder, "reconciled", timeout_s=90)
    assert main.main(["report", "--json", "--config", str(CONFIG), "--db", ledger_url]) == 0
    assert '"risk_events": [{' in capsys.readouterr().out
    assert holder.poll() is None
    assert _stop(holder) == 0
