"""One timeline per ledger, as a trader runs it (separate processes): a session, then a second
run with an earlier ``--start`` on the same ledger (refused, nothing written), then one with
no ``--start`` (it continues at the next session open after the ledger's last record), and a
report in which no trade exits before it entered. On SQLite and on PostgreSQL (``ledger_url``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from db import close_database, open_database
from db.models import (
    Execution,
    GreeksSample,
    Order,
    OrderEvent,
    RiskEvent,
    Signal,
    VirtualAccount,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"
NY = ZoneInfo("America/New_York")

#: Every table's time columns: a row is identified by its primary key.
TIME_COLUMNS: dict[type[peewee.Model], tuple[str, ...]] = {
    VirtualAccount: ("created_at",),
    Order: ("created_at", "updated_at"),
    OrderEvent: ("time",),
    Execution: ("time",),
    Signal: ("time",),
    RiskEvent: ("time",),
    GreeksSample: ("time",),
}
Times = dict[str, dict[Any, tuple[datetime, ...]]]


def _main(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=tmp_path,
    )


def _run(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``main.py run --headless --speed max`` on the shipped config and the ledger ``url``."""
    return _main(
        tmp_path,
        "run", "--headless", "--config", str(CONFIG), "--speed", "max", "--db", url, *args,
    )  # fmt: skip


def _times(url: str) -> Times:
    """Every row's time columns, by table and primary key (read in this process)."""
    database = open_database(url)
    try:
        rows: Times = {}
        for model, names in TIME_COLUMNS.items():
            key = model._meta.primary_key
            columns = [getattr(model, name) for name in names]
            rows[model.__name__] = {
                row[0]: tuple(row[1:]) for row in model.select(key, *columns).tuples()
            }
        return rows
    finally:
        close_database(database)


def _last(times: Times) -> datetime:
    return max(t for rows in times.values() for row in rows.values() for t in row)


def _written_since(before: Times, after: Times) -> list[datetime]:
    """Every time a later run wrote: of its new rows, and the changed times of old rows."""
    written = []
    for table, rows in after.items():
        for key, row in rows.items():
            old = before[table].get(key)
            written += [t for n, t in enumerate(row) if old is None or old[n] != t]
    return written


def test_a_ledger_keeps_one_timeline_across_runs(tmp_path: Path, ledger_url: str) -> None:
    first = _run(tmp_path, ledger_url, "--start", "2026-11-16T09:30", "--until", "11:00")
    assert first.returncode == 0, first.stderr[-2000:]
    assert " fill " in first.stderr
    after_first = _times(ledger_url)
    last = _last(after_first).astimezone(NY)
    assert (
        datetime(2026, 11, 16, 9, 30, tzinfo=NY) <= last <= datetime(2026, 11, 16, 11, 0, tzinfo=NY)
    )

    # An earlier start (Monday again, as a second `make run` on a weekend did): refused.
    earlier = _run(tmp_path, ledger_url, "--start", "2026-11-16T10:00", "--until", "11:00")
    assert earlier.returncode == 2, earlier.stderr[-2000:]
    assert "Traceback" not in earlier.stderr
    assert earlier.stderr.strip().splitlines()[-1] == (
        f"main.py run: --start 2026-11-16T10:00:00-05:00 is not after the last record of the "
        f"ledger {ledger_url} ({last.isoformat()}): time in a ledger only moves forward; use a "
        f"new --db, or a --start after {last.isoformat()}, or no --start to continue at "
        "2026-11-17T09:30:00-05:00"
    )
    assert _times(ledger_url) == after_first  # not one row written or changed

    # No start: the run continues at the next session open after the ledger's last record.
    again = _run(tmp_path, ledger_url, "--until", "11:00")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2026-11-17 09:30:00 risk - reconciled" in again.stderr
    written = _written_since(after_first, _times(ledger_url))
    assert written, "the second session wrote nothing"
    assert min(written).astimezone(NY) == datetime(2026, 11, 17, 9, 30, tzinfo=NY)
    assert max(written).astimezone(NY) <= datetime(2026, 11, 17, 11, 0, tzinfo=NY)

    report = _main(tmp_path, "report", "--config", str(CONFIG), "--db", ledger_url, "--json")
    assert report.returncode == 0, report.stderr
    trades = json.loads(report.stdout)["trades"]
    assert trades
    inside_out = [
        t
        for t in trades
        if t["exit_time"] is not None
        and datetime.fromisoformat(t["exit_time"]) < datetime.fromisoformat(t["entry_time"])
    ]
    assert inside_out == []
