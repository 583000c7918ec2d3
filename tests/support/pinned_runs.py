"""Simulated runs pinned to what they traded: ``main.py run --headless --speed max`` on a
frozen copy of the shipped config (``tests/pinned_runs/config.toml``, so a change of the
shipped defaults does not move the pin), and the ledger's record of it made comparable across
runs: every order, execution, decision, trade, account P&L and open position, with the
run-specific tokens (the order-id counter and run hash, the simulator's execution-id prefix)
taken out and the rows sorted.

The records were taken from main's code before the speed-ups of issue 18 (item 3). Re-record
them only for a deliberate change of behaviour (``python -m tests.support.pinned_runs``), and
say so in the commit.

Threads: the run is a child process; the ledger is read in the calling thread.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from db import close_database, open_database
from db.models import Execution

ROOT = Path(__file__).resolve().parents[2]
PINNED = ROOT / "tests" / "pinned_runs"
CONFIG = PINNED / "config.toml"

#: An order id's run-specific part: ``<va>-<run hash>-<counter>`` (a stop: ``...-<n>.stop``).
_ORDER_TOKEN = re.compile(r"-[0-9a-f]{6}-\d+")


@dataclass(frozen=True)
class PinnedRun:
    """One run: its name (the record's file name) and its window."""

    name: str
    start: str
    until: str

    @property
    def record(self) -> Path:
        return PINNED / f"{self.name}.json"


#: A full day of the stock strategies (figure 9's day) and the first days of the 12-week
#: options run (figure 10's window: entries, re-pricing, the nights skipped).
RUNS = (
    PinnedRun("stock_day", "2026-11-16T09:30", "2026-11-16T16:00"),
    PinnedRun("options_days", "2026-01-05T09:30", "2026-01-07T16:00"),
)


def run_and_read(run: PinnedRun, *, timeout_s: float = 600) -> dict[str, Any]:
    """Run ``run`` in a fresh directory and return its comparable record.

    Raises:
        AssertionError: the run or the report failed (with the tail of its stderr).
    """
    directory = Path(tempfile.mkdtemp(prefix="pin", dir="/tmp"))
    try:
        url = f"sqlite:///{directory / 'engine.db'}"
        main = str(ROOT / "main.py")
        config = ["--config", str(CONFIG), "--db", url]
        done = subprocess.run(
            [sys.executable, main, "run", "--headless", "--speed", "max", *config,
             "--start", run.start, "--until", run.until],
            capture_output=True, text=True, timeout=timeout_s, check=False, cwd=directory,
        )  # fmt: skip
        assert done.returncode == 0, f"{run.name}: exit {done.returncode}: {done.stderr[-2000:]}"
        report = subprocess.run(
            [sys.executable, main, "report", "--json", *config],
            capture_output=True, text=True, timeout=120, check=False, cwd=directory,
        )  # fmt: skip
        assert report.returncode == 0, f"{run.name}: report: {report.stderr[-2000:]}"
        return comparable(json.loads(report.stdout), _executions(url))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _executions(url: str) -> list[dict[str, Any]]:
    database = open_database(url)
    try:
        return [
            {
                "va": row.va_id,
                "contract": row.contract_key,
                "side": row.side,
                "quantity": row.quantity,
                "price": _number(row.price),
                "commission": _number(row.commission),
                "multiplier": row.multiplier,
                "time": row.time.isoformat(),
            }
            for row in Execution.select()
        ]
    finally:
        close_database(database)


def _number(value: Decimal | float) -> str:
    return str(Decimal(str(value)).normalize())


def comparable(report: dict[str, Any], executions: list[dict[str, Any]]) -> dict[str, Any]:
    """The report and the executions without run-specific tokens, each list sorted."""
    orders = []
    for row in report["orders"]:
        order = dict(row)
        order["id"] = _ORDER_TOKEN.sub("", order["id"])
        if order.get("parent_id") is not None:
            order["parent_id"] = _ORDER_TOKEN.sub("", order["parent_id"])
        orders.append(order)
    record = {
        "orders": orders,
        "executions": executions,
        "trades": report["trades"],
        "accounts": report["accounts"],
        "positions": report["positions"],
        "decisions": report["decisions"],
        "risk_events": report["risk_events"],
    }
    return {key: sorted(rows, key=_sort_key) for key, rows in record.items()}


def _sort_key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def load_record(run: PinnedRun) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(run.record.read_text())
    return loaded


def _record_all() -> None:
    """Write every run's record (a deliberate change of behaviour only)."""
    for run in RUNS:
        record = run_and_read(run)
        run.record.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        counts = ", ".join(f"{len(rows)} {key}" for key, rows in record.items())
        sys.stdout.write(f"{run.record}: {counts}\n")


if __name__ == "__main__":
    _record_all()
