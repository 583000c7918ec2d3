"""The command line as a trader uses it: check-config, a headless simulated session, report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import main
from db import close_database, open_database

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"


def test_check_config_accepts_the_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["check-config", "--config", str(CONFIG)]) == 0
    assert ": ok (" in capsys.readouterr().out


def test_a_bad_config_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    text = CONFIG.read_text().replace("capital = 250000", "capital = -5", 1)
    assert text != CONFIG.read_text(), "the shipped config changed: update this test"
    bad.write_text(text)
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "check-config", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"{bad}: accounts[0].capital: must be > 0 (got -5)"
    assert "Traceback" not in result.stderr


def test_run_refuses_a_bad_speed_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main.main(
        [
            "run",
            "--headless",
            "--config",
            str(CONFIG),
            "--speed",
            "fast",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
        ]
    )
    assert code == 2
    assert "--speed" in capsys.readouterr().err


def test_run_refuses_a_negative_seed_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main.main(
        [
            "run",
            "--headless",
            "--config",
            str(CONFIG),
            "--seed",
            "-5",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
        ]
    )
    assert code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(f"--seed: must be >= 0 and <= {2**63 - 1} (got -5)")
    )
    assert not (tmp_path / "x.db").exists()


def test_a_headless_session_at_max_speed_trades_and_reports(tmp_path: Path) -> None:
    """The foundation's promise: a simulated session, several VAs trading, every entry with its
    protective stop, and a report that says so."""
    db = f"sqlite:///{tmp_path / 'engine.db'}"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "run",
            "--headless",
            "--config",
            str(CONFIG),
            "--speed",
            "max",
            "--start",
            "2026-11-16T09:30",
            "--until",
            "16:00",
            "--db",
            db,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert " fill " in run.stderr
    report = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "report",
            "--config",
            str(CONFIG),
            "--db",
            db,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert len({t["va"] for t in data["trades"]}) >= 2
    orders = data["orders"]
    # Stock entries carry a protective stop; option entries (contracts with a space in their
    # key) are stopped by the exit rules instead.
    entries = [o for o in orders if o["purpose"] == "entry" and " " not in o["contract"]]
    stops = {o["parent_id"]: o for o in orders if o["type"] == "STP"}
    assert entries
    for entry in entries:
        assert entry["id"] in stops, f"entry {entry['id']} has no protective stop"
        assert stops[entry["id"]]["action"] != entry["action"]
    assert {"trades", "orders", "accounts", "risk_events", "decisions", "positions"} <= data.keys()
    assert (tmp_path / "logs" / "engine.log").exists()


def test_the_first_stop_signal_asks_for_a_stop_and_the_second_exits_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second signal must not depend on the stop in progress finishing (an actor stuck in
    a broker call): it leaves with ``os._exit``, which no ``finally`` or thread can delay."""

    class Exited(BaseException):  # stands for the process ending: nothing runs after it
        pass

    exits: list[int] = []

    def exit_now(code: int) -> None:
        exits.append(code)
        raise Exited

    monkeypatch.setattr(main.os, "_exit", exit_now)
    signals = main._StopSignals()
    signals._on_signal(15, None)
    assert signals.requested.is_set() and exits == []
    with pytest.raises(Exited):
        signals._on_signal(2, None)
    assert exits == [main.EXIT_FORCED] == [130]
    assert capsys.readouterr().err.splitlines() == [
        "signal 15: stopping",
        "second signal: forcing exit",
    ]


def test_report_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    # `main.py report | head -1`: the reader is gone before the report is written.
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    close_database(open_database(url))
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "report", "--db", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
