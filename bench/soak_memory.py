"""Figure 14: engine memory over simulated sessions (a short soak): resident memory growth per
simulated session after warm-up, on ``--broker ib`` against tws-sim and on the simulator.

The engine runs the default config (``config.toml``) in this process (the figure's own child
process, so its RSS is the engine's alone), as ``main.py run --headless`` does: production
logging to files, a SQLite ledger in a scratch directory. ``--broker ib``: ``main.py tws-sim``
runs as a separate process (its memory is not measured) at ``IB_SPEED`` x real time from a
Monday's open, and the engine follows its clock across the closed hours;
``filters.max_quote_age_ms`` is raised to its maximum because at that speed a quote is
seconds old in simulated time when it arrives, and the entries that trade are what this
figure is about. ``sim``: the in-process simulator at ``--speed max``.

At each simulated session's open (the engine clock's trading day changes) the process's RSS
is read (after a ``gc.collect``); the figure is the least-squares slope of RSS over the sessions
after ``WARM_UP`` (imports, caches, the first day's subscriptions), in MB per session. The
adapter's bounded maps (``broker/ib/retention.py``) are reported as they end.
"""

from __future__ import annotations

import gc
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import NY, production_logging
from bench.stats import Row

__all__ = ["FIGURE", "TARGET", "describe", "run"]

FIGURE = "14 Engine RSS growth per simulated session after warm-up (soak, default config)"
TARGET_MB = 0.5
TARGET = f"<= {TARGET_MB:g} MB per session on --broker ib"
ROOT = Path(__file__).resolve().parent.parent
MONDAY_OPEN = datetime(2026, 11, 16, 9, 30, tzinfo=NY)
IB_SPEED = 600.0
WARM_UP = 2  # sessions before the slope is measured
_SIZES = {"tiny": 1, "full": 8}  # sessions sampled per broker (after the first open)
_STARTS = {"tiny": MONDAY_OPEN.replace(hour=15), "full": MONDAY_OPEN}  # tiny: the first open soon
_SESSION_WALL_S = 240.0  # a session that takes longer than this is a hang


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tws-sim exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"tws-sim did not listen on {port} within {timeout_s:.0f} s")


def slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, ... (0 for fewer than two)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return num / sum((x - mean_x) ** 2 for x in range(n))


def _bounded_sizes(engine: Any) -> dict[str, int]:
    """The adapter's bounded maps (``broker/ib/retention.py``), when it has them."""
    parts = getattr(engine.broker, "_parts", None)
    forgetting = getattr(getattr(parts, "connection", None), "forgetting", None)
    return dict(forgetting.sizes()) if forgetting is not None else {}


def soak(kind: str, sessions: int, start: datetime = MONDAY_OPEN) -> dict[str, Any]:
    """Run the engine on ``kind`` (``ib`` or ``sim``) until ``sessions`` session opens after
    the first have been sampled; RSS (MB) and orders at each."""
    from actors.messages.snapshots import OrderSnapshot
    from core.config import load_config
    from engine.engine import Engine
    from engine.options import RunOptions

    directory = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    config = load_config(ROOT / "config.toml")
    engine_section = config.engine.model_copy(update={"log_dir": str(directory / "logs")})
    config = config.model_copy(update={"engine": engine_section})
    server = None
    if kind == "ib":
        port = _free_port()
        command = [sys.executable, str(ROOT / "main.py"), "tws-sim", "--no-state"]
        command += ["--port", str(port), "--speed", str(IB_SPEED)]
        command += ["--start", start.strftime("%Y-%m-%dT%H:%M")]
        command += ["--config", str(ROOT / "config.toml")]
        server = subprocess.Popen(
            command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_listening(port, server, 60)
        ib = config.broker.ib.model_copy(update={"port": port, "client_id": 73})
        filters = config.filters.model_copy(update={"max_quote_age_ms": 60_000})
        broker = config.broker.model_copy(update={"kind": "ib", "ib": ib})
        config = config.model_copy(update={"broker": broker, "filters": filters})
        options = RunOptions(database_url=f"sqlite:///{directory / 'ledger.db'}", speed=IB_SPEED)
    else:
        until = start + timedelta(days=sessions + 4)  # weekends included
        options = RunOptions(
            database_url=f"sqlite:///{directory / 'ledger.db'}",
            speed=None,
            start=start,
            until=until,
        )
    orders: set[str] = set()
    lock = threading.Lock()

    def count(item: object) -> None:
        if isinstance(item, OrderSnapshot):
            with lock:
                orders.add(item.order_id)

    rss: list[float] = []
    at_open: list[int] = []
    started = time.perf_counter()
    try:
        with production_logging(directory / "logs"):
            engine = Engine(config, options)
            engine.bus.subscribe(count)
            engine.start()
            try:
                day = engine.calendar.trading_day(engine.clock.now())
                deadline = time.monotonic() + _SESSION_WALL_S
                while len(rss) < sessions + 1:
                    if engine.done.wait(0.2):
                        raise RuntimeError(f"the {kind} run ended after {len(rss)} sessions")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{kind}: no new session within {_SESSION_WALL_S} s")
                    now = engine.clock.now()
                    today = engine.calendar.trading_day(now)
                    if today == day or now < engine.calendar.session_open(today):
                        continue
                    day = today
                    deadline = time.monotonic() + _SESSION_WALL_S
                    gc.collect()
                    rss.append(round(_rss_mb(), 2))
                    with lock:
                        at_open.append(len(orders))
                bounded = _bounded_sizes(engine)
            finally:
                engine.stop()
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(directory, ignore_errors=True)
    measured = rss[WARM_UP:] if len(rss) > WARM_UP + 1 else rss
    per_session = [b - a for a, b in itertools.pairwise(at_open)]
    return {
        "mb_per_session": round(slope(measured), 3),
        "rss_mb": rss,
        "orders_at_open": at_open,
        "orders_per_session": round(sum(per_session) / max(1, len(per_session)), 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "bounded": bounded,
    }


def run(*, size: str = "full") -> dict[str, Any]:
    sessions = _SIZES[size]
    os.environ.setdefault("PYTHONHASHSEED", "0")
    start = _STARTS[size]
    ib, sim = soak("ib", sessions, start), soak("sim", sessions, start)
    return {
        "ib": ib,
        "sim": sim,
        "sessions": sessions,
        "ib_rss_mb": ib["rss_mb"][-1],
        "sim_rss_mb": sim["rss_mb"][-1],
    }


def describe(result: dict[str, Any]) -> Row:
    ib, sim = result["ib"], result["sim"]
    return Row(
        figure=FIGURE,
        result=(
            f"ib: {ib['mb_per_session']:+.2f} MB/session ({ib['orders_per_session']:g} orders a "
            f"session, RSS {ib['rss_mb'][0]:.0f}->{ib['rss_mb'][-1]:.0f} MB); sim: "
            f"{sim['mb_per_session']:+.2f} MB/session ({sim['orders_per_session']:g} orders)"
        ),
        target=TARGET,
        limit="0 MB/session",
        ratio="-",
        met=ib["mb_per_session"] <= TARGET_MB,
    )
