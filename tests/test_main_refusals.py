"""What an operator types never reaches a traceback (issue 15, items 10 and 11): each bad value
is one line on stderr naming it, exit 2 for bad input, exit 1 for a runtime fault."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"


def main_py(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``main.py args`` in ``cwd`` (its logs and default files land there)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("speed", "shown"), [("inf", "inf"), ("1e308", "1e+308"), ("1e12", "1e+12"), ("nan", "nan")]
)
def test_tws_sim_refuses_a_speed_no_clock_can_run_at(
    tmp_path: Path, speed: str, shown: str
) -> None:
    result = main_py(
        "tws-sim",
        "--config",
        str(CONFIG),
        "--no-state",
        "--port",
        "0",
        "--speed",
        speed,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert one_line(result) == f"tws-sim: --speed: must be > 0 and <= 100000 (got {shown})"


def test_tws_sim_refuses_a_start_in_year_one(tmp_path: Path) -> None:
    result = main_py(
        "tws-sim",
        "--config",
        str(CONFIG),
        "--no-state",
        "--port",
        "0",
        "--start",
        "0001-01-01T09:30",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert one_line(result) == (
        "tws-sim: --start: 0001-01-01T09:30:00 is outside the years 1990 to 2100 "
        "(a typo in the year?)"
    )


@pytest.mark.parametrize(
    ("option", "moment", "shown"),
    [
        ("--start", "9999-12-31T23:59", "9999-12-31T23:59:00"),
        ("--start", "0001-01-01T09:30", "0001-01-01T09:30:00"),
        ("--until", "9999-12-31T23:59:59", "9999-12-31T23:59:59"),
    ],
)
def test_run_refuses_a_moment_outside_the_years_a_market_traded(
    tmp_path: Path, option: str, moment: str, shown: str
) -> None:
    start = [] if option == "--start" else ["--start", "2026-11-16T09:30"]
    result = main_py(
        "run",
        "--headless",
        "--config",
        str(CONFIG),
        "--speed",
        "max",
        "--db",
        f"sqlite:///{tmp_path / 'ledger.db'}",
        *start,
        option,
        moment,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert one_line(result) == (
        f"main.py run: {option}: {shown} is outside the years 1990 to 2100 (a typo in the year?)"
    )
    assert not (tmp_path / "ledger.db").exists()


def test_run_refuses_an_infinite_speed(tmp_path: Path) -> None:
    result = main_py(
        "run",
        "--headless",
        "--config",
        str(CONFIG),
        "--speed",
        "inf",
        "--db",
        f"sqlite:///{tmp_path / 'ledger.db'}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert one_line(result) == "main.py run: --speed: must be > 0 and <= 100000 (got inf)"
