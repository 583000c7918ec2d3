"""A headless day of the shipped config at ``--speed max`` as a real process: progress lines on
a pipe, a progress bar on a terminal (a pseudo-terminal), the run's summary at its end (the
same text ``db.run_summary`` makes from the ledger), and trading through the day (issue 17:
the shipped config went quiet by 10:06)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config
from db.reading import read_reports, read_run_summary
from tests.support.headless import CONFIG, MAIN, Place, short_place

TZ = load_config(str(CONFIG)).tz
START = datetime(2026, 11, 16, 9, 30, tzinfo=TZ)  # a Monday; the seed is the shipped one


@dataclass(frozen=True)
class Day:
    place: Place
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any]


def _argv(place: Place, *extra: str) -> list[str]:
    return [
        sys.executable, str(MAIN), "run", "--headless", "--config", str(CONFIG),
        "--speed", "max", "--start", START.strftime("%Y-%m-%dT%H:%M"), "--db", place.url,
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    """The shipped config's whole day, stderr to a file (not a terminal), run once."""
    cwd = tmp_path_factory.mktemp("day")
    with short_place(cwd) as place:
        err_path = cwd / "stderr.txt"
        with err_path.open("w") as err:
            done = subprocess.run(
                _argv(place),
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=180,
                cwd=cwd,
                check=False,
            )
        report, _ = read_reports(place.url, instance="main", every_instance=False, tz=TZ)
        yield Day(place, done.returncode, done.stdout, err_path.read_text(), report)


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(TZ)


def test_a_headless_day_on_a_pipe_prints_plain_progress_lines(day: Day) -> None:
    assert day.code == 0, day.stderr[-2000:]
    lines = [line for line in day.stderr.splitlines() if line.startswith("progress ")]
    times = [line[len("progress ") : len("progress 2026-11-16 10:00")] for line in lines]
    assert len(lines) >= 13, lines  # every simulated half hour of 6 h 30, and the last
    assert times == sorted(times)
    assert all(re.search(r"\(\d+%\)  fills \d+  ", line) for line in lines)
    assert lines[-1].startswith("progress 2026-11-16 16:00 (100%)")
    assert lines[-1].endswith("done")
    assert "\r" not in day.stderr and "\x1b[" not in day.stderr  # no bar drawn into a file


def test_the_day_ends_with_the_runs_summary_from_the_ledger(day: Day) -> None:
    expected = read_run_summary(day.place.url, instance="main", tz=TZ, since=START)
    assert day.stdout == expected
    assert day.stdout.startswith("Run summary since 2026-11-16 09:30:00 EST: ")
    for va in load_config(str(CONFIG)).accounts:
        assert f"\n  {va.id:<16} " in day.stdout
    assert "\nStill open: " in day.stdout and "\nRefusals by rule: " in day.stdout


def test_the_shipped_config_trades_after_eleven_on_the_default_seed(day: Day) -> None:
    report = day.report
    entries = [o for o in report["orders"] if o["purpose"] == "entry" and o["status"] == "filled"]
    late = [o for o in entries if _local(o["created_at"]).hour >= 11]
    assert len(late) >= 10, f"{len(late)} entries after 11:00"
    hours = Counter(_local(o["created_at"]).hour for o in entries)
    assert all(hours[h] > 0 for h in range(11, 16)), hours  # into the last hour
    refused = Counter(d["rule"] for d in report["decisions"] if not d["accepted"])
    assert refused["max_trades_per_day"] == 0, refused  # the day's limit still has room
    assert refused["slippage"] == 0, refused  # every entry fits the book it is sent to
    traded = {t["contract"] for t in report["trades"]}
    assert "BAC" in traded  # BAC entries were all refused for slippage before


def test_a_headless_run_on_a_terminal_draws_a_progress_bar(tmp_path: Path) -> None:
    with short_place(tmp_path) as place:
        master, slave = os.openpty()
        try:
            proc = subprocess.Popen(
                _argv(place, "--until", "10:30"),
                stdout=subprocess.PIPE,
                stderr=slave,
                stdin=subprocess.DEVNULL,
                cwd=tmp_path,
                env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
            )
        finally:
            os.close(slave)
        try:
            drawn = _read_all(master, timeout_s=120)
            stdout, _ = proc.communicate(timeout=60)
        finally:
            os.close(master)
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        assert proc.returncode == 0, drawn[-2000:]
        text = drawn.decode("utf-8", "replace")
        assert "\r\x1b[2K" in text  # the bar is redrawn in place
        assert "━" in text  # rich's bar
        assert re.search(r"2026-11-16 10:30:00 .*100%.*fills \d+  done", text)
        # A fill line is written above the bar, not into it.
        assert re.search(r"\r\x1b\[2K2026-11-16 \d\d:\d\d:\d\d fill ", text)
        assert stdout.decode().startswith("Run summary since 2026-11-16 09:30:00 EST: ")


def _read_all(fd: int, *, timeout_s: float) -> bytes:
    """Everything written to the pseudo-terminal until its writer closed it (bounded)."""
    out = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer has closed it
            break
        if not chunk:
            break
        out += chunk
    return out
