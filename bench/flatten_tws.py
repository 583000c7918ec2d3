"""Figure 6: flatten all through the IB adapter against the TWS-protocol simulator (real socket,
real pacing), until the last closing order is acknowledged by the broker; with zero pacing
errors (IB error 100).

The engine is built for ``broker.kind = "ib"`` pointed at a ``broker.tws.TwsSimServer`` on a
free loopback port (as ``main.py run --broker ib`` against ``main.py tws-sim``). It opens one
position per VA with signals, then ``engine.flatten()``; a closing order counts as acknowledged
once its status leaves ``pending_submit``. Limit: 100 orders at IB's 50 messages/s = 2.0 s.

Until ``broker/ib`` provides the adapter (a ``Broker`` the engine builds for ``kind = "ib"``)
this figure reports ``{"status": "not measured: ..."}`` and nothing else.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from actors.messages.snapshots import OrderSnapshot
from bench.harness import MONDAY_10, bench_config, production_logging
from bench.stats import Row, median_of_runs, ratio
from core.domain import OrderStatus
from core.gate import GateState

__all__ = ["FIGURE", "NOT_BUILT", "TARGET", "adapter_available", "describe", "run"]

FIGURE = "6 Flatten all against tws-sim with IB pacing until the last closing order is acked"
TARGET_S, LIMIT_S = 2.5, 2.0
TARGET = f"<= {TARGET_S:g} s for 100 orders, zero pacing errors"
NOT_BUILT = "not measured: the IB adapter is not built yet"
_SIZES = {"tiny": (1, 10), "full": (3, 100)}  # runs, positions (one per VA)
_ADAPTER_NAMES = ("IBBroker", "IbBroker", "IBKRBroker")


class _NotBuiltError(Exception):
    pass


def adapter_available() -> str | None:
    """None if the engine can trade through the IB adapter, else why not."""
    try:
        module = importlib.import_module("broker.ib")
    except ImportError as exc:
        return f"{NOT_BUILT} (broker.ib: {exc})"
    if not any(hasattr(module, name) for name in _ADAPTER_NAMES):
        return NOT_BUILT
    return None


class _Acks:
    """Bus subscriber: entries filled, closing orders acknowledged (first status after
    ``pending_submit``); a log sink: the adapter's pacing violations (IB error 100)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.filled: set[str] = set()
        self.acked: dict[str, float] = {}
        self.pacing_errors = 0

    def __call__(self, item: object) -> None:
        now = time.perf_counter()
        if isinstance(item, OrderSnapshot):
            with self.lock:
                if item.status is OrderStatus.FILLED:
                    self.filled.add(item.order_id)
                if "-flat-" in item.order_id and item.status is not OrderStatus.PENDING_SUBMIT:
                    self.acked.setdefault(item.order_id, now)

    def log_sink(self, message: Any) -> None:
        if "pacing violation" in message.record["message"]:
            with self.lock:
                self.pacing_errors += 1


class _Sent:
    """Wraps the adapter's order calls: when each message left for the broker."""

    def __init__(self, broker: Any) -> None:
        self.times: list[float] = []
        for name in ("place_order", "cancel_order", "modify_order"):
            original = getattr(broker, name)

            def sent(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.times.append(time.perf_counter())
                return _original(*args, **kwargs)

            setattr(broker, name, sent)

    def max_in_one_second(self, since: float) -> int:
        times = sorted(t for t in self.times if t >= since)
        best, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= 1.0:
                first += 1
            best = max(best, last - first + 1)
        return best


def _wait(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)


def one_run(positions: int) -> dict[str, Any]:
    from actors.messages.commands import Signal
    from broker.tws.runner import server_from_config
    from core.domain import Contract, Side
    from engine.engine import Engine
    from engine.options import RunOptions

    directory = Path(tempfile.mkdtemp(prefix="bench-tws-"))
    base = bench_config(vas=positions, symbols=20, universe=1)
    server = server_from_config(base, port=0, speed=1.0, start=MONDAY_10)
    server.start()
    try:
        with production_logging(directory / "logs"):
            ib = base.broker.ib.model_copy(update={"port": server.port, "client_id": 71})
            broker = base.broker.model_copy(update={"kind": "ib", "ib": ib})
            config = base.model_copy(update={"broker": broker})
            options = RunOptions(database_url=f"sqlite:///{directory / 'ledger.db'}", speed=1.0)
            try:
                engine = Engine(config, options)
            except ValueError as exc:  # the engine does not build the adapter yet
                raise _NotBuiltError(
                    f"{NOT_BUILT} (the engine refuses broker.kind ib: {exc})"
                ) from exc
            acks = _Acks()
            engine.bus.subscribe(acks)
            sink = logger.add(acks.log_sink, level="WARNING")
            sent = _Sent(engine.broker)
            engine.start()
            try:
                _wait(lambda: engine.gate.state is GateState.OPEN, 30, "the gate did not open")
                symbols = {a.universe[0] for a in config.enabled_accounts}
                _wait(
                    lambda: all(engine.quotes.latest(s) is not None for s in symbols),
                    30,
                    "no quotes",
                )
                ids = []
                for n, account in enumerate(config.enabled_accounts):
                    ids.append(f"tws-{account.id}-{n}")
                    engine.book.tell(
                        f"va:{account.id}",
                        Signal(
                            ids[-1],
                            account.id,
                            Contract.stock(account.universe[0]),
                            Side.BUY,
                            engine.clock.now(),
                            "bench",
                            quantity=10,
                        ),
                    )
                    time.sleep(0.06)  # entries within IB's pace (order + stop each)
                _wait(lambda: acks.filled >= set(ids), 60, "entries did not fill")
                time.sleep(2.0)  # protective stops acknowledged; the pacing window is empty
                started = time.perf_counter()
                engine.flatten("bench")
                _wait(lambda: len(acks.acked) >= positions, 60, "closing orders not acked")
                elapsed = max(acks.acked.values()) - started
            finally:
                engine.stop()
                logger.remove(sink)
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return {
        "wall_s": round(elapsed, 3),
        "pacing_errors": acks.pacing_errors,
        "max_msgs_per_s": sent.max_in_one_second(started),
        "orders": positions,
    }


def run(*, size: str = "full") -> dict[str, Any]:
    reason = adapter_available()
    if reason is not None:
        return {"status": reason, "checked": datetime.now().astimezone().isoformat("T", "seconds")}
    runs, positions = _SIZES[size]
    try:
        return median_of_runs([one_run(positions) for _ in range(runs)])
    except _NotBuiltError as exc:
        return {
            "status": str(exc),
            "checked": datetime.now().astimezone().isoformat("T", "seconds"),
        }


def describe(result: dict[str, Any]) -> Row:
    wall, errors = result["wall_s"], result["pacing_errors"]
    limit = LIMIT_S * result["orders"] / 100
    return Row(
        figure=FIGURE,
        result=(
            f"{wall:.2f} s for {result['orders']} orders, {errors} pacing errors (at most "
            f"{result['max_msgs_per_s']} messages in any second)"
        ),
        target=TARGET,
        limit=f"{limit:.1f} s ({result['orders']} orders at 50 messages/s)",
        ratio=ratio(wall, limit),
        met=wall <= TARGET_S and errors == 0,
    )
