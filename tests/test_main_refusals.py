"""What an operator types never reaches a traceback (issue 15, items 10 and 11): each bad value
is one line on stderr naming it, exit 2 for bad input, exit 1 for a runtime fault."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from playhouse.migrations import Runner

from db import close_database, open_database
from db.connection import MIGRATIONS_DIR

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


def on_ledger(
    command: str,
    url: str,
    *,
    cwd: Path,
    start: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``main.py <command> --db url`` (``run``: headless at max speed, from ``start`` if given)."""
    extra = ["--headless", "--speed", "max"] if command == "run" else []
    if command == "run" and start is not None:
        extra += ["--start", start]
    return main_py(command, "--config", str(CONFIG), "--db", url, *extra, cwd=cwd, env=env)


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


def _garbage(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database\n" * 50)
    return path, "file is not a database"


def _truncated(tmp_path: Path) -> tuple[Path, str]:
    whole = tmp_path / "whole.db"
    close_database(open_database(f"sqlite:///{whole}"))
    path = tmp_path / "truncated.db"
    path.write_bytes(whole.read_bytes()[:20_000])
    return path, "database disk image is malformed"


@pytest.mark.parametrize("damage", [_garbage, _truncated], ids=["garbage", "truncated"])
@pytest.mark.parametrize("command", ["run", "report", "check-ledger"])
def test_a_damaged_ledger_is_refused_in_one_line_by_every_command(
    tmp_path: Path, damage: object, command: str
) -> None:
    path, reason = damage(tmp_path)  # type: ignore[operator]
    result = on_ledger(command, f"sqlite:///{path}", cwd=tmp_path, start="2026-11-16T09:30")
    assert result.returncode == 2
    assert one_line(result) == (
        f"main.py {command}: the ledger {path} cannot be read: {reason}; check --db (is it the "
        "ledger file?) or restore the ledger from a backup"
    )


@pytest.mark.parametrize("command", ["run", "report", "check-ledger"])
def test_a_database_url_of_no_known_scheme_is_refused_in_one_line(
    tmp_path: Path, command: str
) -> None:
    result = on_ledger(command, "mongodb://x", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result) == (
        f"main.py {command}: the ledger URL mongodb://x has an unknown scheme 'mongodb': use "
        "sqlite:///PATH or postgresql://USER@HOST/DATABASE in --db or engine.database_url"
    )


@pytest.mark.parametrize("command", ["run", "report"])
def test_a_ledger_path_that_is_a_directory_is_refused_in_one_line(
    tmp_path: Path, command: str
) -> None:
    folder = tmp_path / "ledgers"
    folder.mkdir()
    result = on_ledger(command, f"sqlite:///{folder}", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result) == (
        f"main.py {command}: the ledger {folder} is a directory, not a database file: name a file "
        f"in --db or engine.database_url (e.g. sqlite:///{folder / 'engine.db'})"
    )
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "logs") == ["ledgers"]


def test_a_ledger_path_under_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file")
    database = tmp_path / "notes.txt" / "ledger.db"
    result = main_py(
        "run",
        "--headless",
        "--speed",
        "max",
        "--config",
        str(CONFIG),
        "--db",
        f"sqlite:///{database}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert one_line(result) == (
        f"main.py run: the ledger {database} cannot be made: {tmp_path / 'notes.txt'} is a file, "
        "not a directory; check --db or engine.database_url"
    )


def test_report_on_a_mistyped_path_creates_no_ledger(tmp_path: Path) -> None:
    typo = tmp_path / "dat" / "engine.db"
    result = main_py("report", "--config", str(CONFIG), "--db", f"sqlite:///{typo}", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result).startswith(f"main.py report: ledger {typo} is not migrated yet (")
    assert not (tmp_path / "dat").exists()


def test_a_postgresql_ledger_without_the_driver_is_refused_in_one_line(tmp_path: Path) -> None:
    # A driver that cannot be imported, first on the path: as on an install without [postgres].
    for name in ("psycopg2", "psycopg"):
        (tmp_path / "no_driver" / name).mkdir(parents=True)
        (tmp_path / "no_driver" / name / "__init__.py").write_text(
            f"raise ImportError(\"No module named '{name}'\")\n"
        )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "no_driver")}
    url = "postgresql://engine@127.0.0.1:5432/ledger"
    for command in ("run", "report"):
        result = on_ledger(command, url, cwd=tmp_path, env=env)
        assert result.returncode == 2
        line = one_line(result)
        assert line.startswith(f"main.py {command}: the ledger ")
        assert re.search(
            r" needs the PostgreSQL driver \(.+\): pip install -e '\.\[postgres\]'$", line
        ), line


def test_a_ledger_a_newer_version_migrated_is_refused_by_every_command(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    database = open_database(f"sqlite:///{path}")
    try:
        Runner(database, directory=str(MIGRATIONS_DIR)).History.create(name="0004_future")
    finally:
        close_database(database)
    for command in ("run", "report", "check-ledger"):
        result = on_ledger(command, f"sqlite:///{path}", cwd=tmp_path)
        assert result.returncode == 2
        known = len(list(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py")))
        assert one_line(result) == (
            f"main.py {command}: the ledger {path} has a newer schema than this engine knows "
            f"(migration 0004_future is not among this version's {known}): run the version that "
            "migrated it, or another --db"
        )


@pytest.mark.parametrize(
    ("start", "line"),
    [
        (
            "2026-12-05T09:30",
            "main.py run: no session on 2026-12-05 (Saturday): the run starts at the next open "
            "2026-12-07T09:30",
        ),
        (
            "2026-11-16T17:00",
            "main.py run: no session after the close on 2026-11-16 (16:00): the run starts at the "
            "next open 2026-11-17T09:30",
        ),
    ],
    ids=["saturday", "after-the-close"],
)
def test_a_start_with_no_session_says_so_and_runs_from_the_next_open(
    tmp_path: Path, start: str, line: str
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = main_py(
        "run",
        "--headless",
        "--config",
        str(CONFIG),
        "--speed",
        "max",
        "--db",
        url,
        "--start",
        start,
        "--until",
        "09:40",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == line
    opened = line.rsplit(" ", 1)[1]
    day = opened[:10]
    assert f"{day} 09:30:00 risk - day_start: net liquidation" in result.stderr


@pytest.mark.parametrize("command", ["run", "report", "check-ledger"])
def test_a_ledger_whose_table_was_renamed_is_refused_by_every_command(
    tmp_path: Path, command: str
) -> None:
    path = tmp_path / "ledger.db"
    database = open_database(f"sqlite:///{path}")
    try:
        database.execute_sql("ALTER TABLE signal RENAME TO signal_old")
    finally:
        close_database(database)
    result = on_ledger(command, f"sqlite:///{path}", cwd=tmp_path)
    assert result.returncode == 2
    assert one_line(result) == (
        f"main.py {command}: the ledger {path} does not have the tables its migrations made (no "
        "table signal): it was changed by hand or by another program; restore it from a backup, "
        "or use another --db"
    )


@pytest.mark.parametrize("command", ["run", "report"])
def test_a_ledger_damaged_where_only_reading_finds_it_is_refused_in_one_line(
    tmp_path: Path, command: str
) -> None:
    # Opening reads the schema and the migrations; the damage is in the signal table's first
    # page, which only the reads after it (the last record, the report) meet.
    path = tmp_path / "ledger.db"
    close_database(open_database(f"sqlite:///{path}"))
    with sqlite3.connect(path) as ledger:
        (root,) = ledger.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'signal'"
        ).fetchone()
        (page_size,) = ledger.execute("PRAGMA page_size").fetchone()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)
    result = on_ledger(command, f"sqlite:///{path}", cwd=tmp_path, start="2026-11-16T09:30")
    assert result.returncode == 2
    assert one_line(result) == (
        f"main.py {command}: the ledger {path} cannot be read: database disk image is malformed; "
        "check --db (is it the ledger file?) or restore the ledger from a backup"
    )
