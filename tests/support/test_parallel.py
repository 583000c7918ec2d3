"""The `HEAVY` xdist group (tests/support/parallel.py) holds exactly the three long runs: the
crash harness's report tests on both backends, the inbox burst and the two-day validation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = ("tests/test_crash_harness.py", "tests/test_inbox_burst.py",
         "tests/broker/ib/test_validation_run.py")  # fmt: skip


def _collected(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-o", "addopts=-q",
         "-p", "no:cacheprovider", "-p", "no:xdist", *args, *FILES],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {line for line in done.stdout.splitlines() if "::" in line}


def test_the_heavy_group_is_the_crash_harness_runs_the_burst_and_the_validation() -> None:
    heavy = _collected("-m", "xdist_group")
    slow = _collected("-m", "slow")
    crash = {t for t in heavy if t.startswith("tests/test_crash_harness.py::")}
    assert len(crash) == 12, crash  # six report tests, each on sqlite and postgresql
    assert len([t for t in crash if t.endswith("[sqlite]")]) == 6, crash
    assert len([t for t in crash if t.endswith("[postgresql]")]) == 6, crash
    assert heavy == slow, heavy ^ slow  # every slow test of these files, nothing else
    assert "tests/test_inbox_burst.py::" in " ".join(heavy)
    assert any(t.startswith("tests/broker/ib/test_validation_run.py::test_two") for t in heavy)
