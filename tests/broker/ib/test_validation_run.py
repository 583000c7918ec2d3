"""``main.py validate`` at CI size: two simulated days of the shipped naked-put VAs over the IB
API against the simulated TWS (about 160 wall seconds at 300x), with the halt and circuit-breaker
drills, and the command line's refusals of bad input."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.validation import ValidationOptions, run_validation

pytestmark = [pytest.mark.timeout(400), pytest.mark.serial]  # serial: runs alone


def _check(result: dict[str, object], name: str) -> dict[str, object]:
    checks = result["checks"]
    assert isinstance(checks, list)
    (found,) = [c for c in checks if c["name"] == name]
    return found


@pytest.mark.slow
def test_two_validated_days_trade_options_drills_and_ends_equal_to_ib(tmp_path: Path) -> None:
    db = tmp_path / "validation.db"
    shown = io.StringIO()
    result = run_validation(
        ValidationOptions(
            days=2,
            speed=300.0,
            min_trades=0,
            database_url=f"sqlite:///{db}",
            progress_stream=shown,
        )
    )
    # Its progress, as `main.py validate` shows it when stderr is not a terminal.
    lines = shown.getvalue().splitlines()
    assert len(lines) >= 10, lines  # every simulated half hour of two days and more
    assert all(line.startswith("progress 2026-01-0") and " fills " in line for line in lines)
    assert "(100%)" in lines[-1] and lines[-1].endswith("done")
    failed = {c["name"]: c["detail"] for c in result["checks"] if not c["passed"]}
    for name in (
        "orders left PENDING_SUBMIT",
        "110 rejections of our own prices",
        "emergency halt",
        "daily-loss circuit breaker",
        "ledger positions equal IB's",
        "IB's executions of our orders are in the ledger",
        "working orders agree",
    ):
        assert name not in failed, f"{name}: {failed[name]}"
    halt = result["halt"]
    assert halt is not None and halt["entries_working_at_halt"] >= 1
    fired = [f["kind"] for f in result["faults"]]
    # The shipped drill's first two days (the rest falls after the run's end).
    assert fired[:3] == ["drop_connection", "reject_next_order", "outage"], fired
    assert "refuse_next_modification" in fired and "stop_quotes" in fired, fired
    (dropped, *_) = [f for f in result["faults"] if f["kind"] == "drop_connection"]
    assert any("DISCONNECTED" in answer for answer in dropped["answers"]), dropped
    with sqlite3.connect(db) as conn:
        (sold,) = conn.execute(
            "SELECT COUNT(*) FROM execution WHERE side = 'SELL' AND multiplier = 100"
        ).fetchone()
    assert sold >= 1, "no put was sold over the IB API"


def _validate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    main = Path(__file__).resolve().parents[3] / "main.py"
    return subprocess.run(
        [sys.executable, str(main), "validate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def test_bad_validate_arguments_exit_2_with_one_line(tmp_path: Path) -> None:
    days = _validate("--days", "0")
    assert days.returncode == 2
    assert days.stderr.strip() == "validate: --days: must be 1 to 60 (got 0)"
    seed = _validate("--seed", "-5")
    assert seed.returncode == 2
    assert seed.stderr.strip() == f"validate: --seed: must be >= 0 and <= {2**63 - 1} (got -5)"
    used = tmp_path / "used.db"
    used.write_bytes(b"x")
    again = _validate("--db", f"sqlite:///{used}")
    assert again.returncode == 2
    assert again.stderr.strip().endswith("exists; the validation needs a fresh ledger")


def test_a_config_without_naked_put_vas_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "stocks.toml"
    text = Path("config.toml").read_text(encoding="utf-8")
    config.write_text(text.replace('kind = "naked_put"', 'kind = "external"'), encoding="utf-8")
    run = _validate("--config", str(config), "--db", f"sqlite:///{tmp_path / 'v.db'}", cwd=tmp_path)
    assert run.returncode == 2
    assert "no enabled naked_put VA" in run.stderr


def test_a_bad_scenario_file_exits_2_naming_the_file_and_key(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text('[[fault]]\nafter = "1h"\nkind = "explode"\n', encoding="utf-8")
    run = _validate("--scenario", str(scenario), "--db", f"sqlite:///{tmp_path / 'v.db'}")
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert str(scenario) in line and "kind" in line
