"""Shutdown and what a run leaves on disk, as a trader runs it (separate processes)."""

from __future__ import annotations

import os
import selectors
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout_s: float) -> str:
    """Read stderr until a line contains ``needle`` (bounded by ``timeout_s``)."""
    assert proc.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} in {timeout_s}s: {''.join(seen)[-2000:]}")


def _start_headless(tmp_path: Path, db: Path) -> subprocess.Popen[str]:
    """``main.py run --headless`` on the default config at 1000x, its stderr piped."""
    return subprocess.Popen(
        [
            sys.executable, str(ROOT / "main.py"), "run", "--headless", "--config", str(CONFIG),
            "--speed", "1000", "--start", "2026-11-16T09:30", "--db", f"sqlite:///{db}",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip


def _report_json(db: Path) -> str:
    """What ``main.py report --json`` prints for ``db`` (it fails the test if it cannot)."""
    return subprocess.run(
        [
            sys.executable, str(ROOT / "main.py"), "report", "--config", str(CONFIG),
            "--db", f"sqlite:///{db}", "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout  # fmt: skip


def test_sigterm_stops_a_headless_run_cleanly_within_five_seconds(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    proc = _start_headless(tmp_path, db)
    try:
        _wait_for_line(proc, "reconciled", timeout_s=60)  # running: reconciled, trading
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _wait_for_line(proc, "stopping", timeout_s=5)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - sent < 5.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()  # an unclosed pipe warns later, in whichever test runs then
    # What it stored is intact and owner-only.
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    logs = tmp_path / "logs"
    assert stat.S_IMODE(os.stat(logs).st_mode) == 0o700
    for log in logs.iterdir():
        assert stat.S_IMODE(os.stat(log).st_mode) == 0o600, log
    assert '"risk_events": [{' in _report_json(db)  # what it stored is intact and readable


def test_a_second_signal_during_the_stop_forces_the_exit(tmp_path: Path) -> None:
    """SIGTERM starts the graceful stop; a SIGINT right behind it (a trader pressing ctrl+c
    again) forces the process out with 130, and what was stored is still readable."""
    db = tmp_path / "engine.db"
    proc = _start_headless(tmp_path, db)
    try:
        _wait_for_line(proc, "reconciled", timeout_s=60)
        # Two different signals: the interpreter runs both handlers even if both arrive before
        # it gets to the first (two SIGTERMs pending at once would count as one).
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGINT)
        _wait_for_line(proc, "second signal: forcing exit", timeout_s=5)
        assert proc.wait(timeout=5) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
    assert '"risk_events": [{' in _report_json(db)


def test_a_bad_config_touches_nothing_in_the_database(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    db.write_bytes(b"not touched")
    before = db.stat().st_mtime_ns
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.read_text().replace("[risk]", "[risk]\nmax_trades_pre_day = 3", 1))
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "run",
            "--headless",
            "--config",
            str(bad),
            "--db",
            f"sqlite:///{db}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"{bad}: risk.max_trades_pre_day: unknown key"
    assert db.read_bytes() == b"not touched" and db.stat().st_mtime_ns == before
    assert not (tmp_path / "logs").exists()
