"""``make bench-check`` (``bench.check``): each figure over a same-process calibration, judged
against its committed value; a figure worse by more than the tolerance fails the check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import check
from bench.check import CHECKS, TOLERANCE, Check, judge


def test_a_figure_within_the_tolerance_passes_and_one_beyond_fails() -> None:
    verdicts = judge({"a": 1.9, "b": 2.1, "c": 0.5}, {"a": 1.0, "b": 1.0, "c": 1.0}, 2.0)
    assert [(v.name, v.failed) for v in verdicts] == [("a", False), ("b", True), ("c", False)]
    assert verdicts[1].worse_by == pytest.approx(2.1)


def test_a_figure_without_a_committed_value_fails() -> None:
    [verdict] = judge({"new": 1.0}, {})
    assert verdict.failed and verdict.committed is None


def test_every_check_has_a_committed_value() -> None:
    committed = json.loads(check.BASELINE.read_text())
    assert set(committed) == {c.name for c in CHECKS}
    assert all(value > 0 for value in committed.values())


def test_main_fails_on_a_slowdown_and_update_writes_the_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "check_baseline.json"
    monkeypatch.setattr(check, "BASELINE", baseline)
    monkeypatch.setattr(check, "CHECKS", (Check("fast", "a test figure", lambda: 0.0),))
    cost = {"fast": 1.0}
    monkeypatch.setattr(check, "measure", lambda c, rounds=3: cost[c.name])

    assert check.main(["--update"]) == 0
    assert json.loads(baseline.read_text()) == {"fast": 1.0}
    assert check.main([]) == 0
    cost["fast"] = TOLERANCE * 1.01  # a change that made it slower than the tolerance allows
    assert check.main([]) == 1
    out = capsys.readouterr().out
    assert "FAIL fast: 2.02x the committed value" in out
    assert out.rstrip().endswith("bench-check: 0/1 within 2x in 0 s")


def test_a_child_round_prints_its_ratio_to_the_calibration() -> None:
    child = subprocess.run(
        [sys.executable, "-m", "bench.check", "--child", "log_line"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert float(child.stdout.strip().splitlines()[-1]) > 0
