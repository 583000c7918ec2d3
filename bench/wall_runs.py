"""Simulated runs of ``main.py run --headless --speed max`` in a child process, timed: what a
user waits for a simulated session (figure 9) or a 12-week options run (figure 10).

The child runs the default config (``config.toml`` at the repository root) in a scratch working
directory, so its logs and inbox path land there, and writes its ledger there (``--db``); it is
killed if it outlives ``timeout_s``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "timed_run"]

ROOT = Path(__file__).resolve().parent.parent


def timed_run(start: str, until: str, *, timeout_s: float) -> dict[str, Any]:
    """Wall seconds of one headless max-speed run from ``start`` to ``until``, and the report's
    counts (trades, orders) as a check that it traded.

    Raises:
        RuntimeError: the run failed or timed out.
    """
    directory = Path(tempfile.mkdtemp(prefix="bench-run-"))
    database = f"sqlite:///{directory / 'ledger.db'}"
    config = str(ROOT / "config.toml")
    main = str(ROOT / "main.py")
    command = [sys.executable, main, "run", "--config", config, "--headless", "--speed", "max"]
    command += ["--start", start, "--until", until, "--db", database]
    try:
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                cwd=directory,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{start} .. {until} did not finish in {timeout_s:.0f} s") from exc
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: {done.stderr[-1500:]}")
        report = subprocess.run(
            [sys.executable, main, "report", "--config", config, "--db", database, "--json"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        import json

        summary = json.loads(report.stdout)
        return {
            "wall_s": round(wall, 2),
            "trades": len(summary.get("trades", [])),
            "orders": len(summary.get("orders", [])),
        }
    finally:
        shutil.rmtree(directory, ignore_errors=True)
