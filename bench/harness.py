"""A real engine for a benchmark: the simulator, every actor, the SQLite ledger in a temporary
directory, production logging (DEBUG to files, as ``main.py run``), and a max-speed virtual
clock that the benchmark's thread moves (no driver thread, as in tests/support/engine.py).

``OrderTap`` wraps the broker adapter's ``place_order`` to timestamp what reaches it;
``BenchEngine.round_trip`` sends a Signal to a VA, measures until its entry is handed to the
broker, and closes the position again so the next sample starts from the same state.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from actors.messages.commands import Signal
from actors.messages.snapshots import OrderSnapshot
from core.config import AccountConfig, EngineConfig
from core.domain import Contract, OrderRequest, OrderStatus, Side, TradingState
from core.gate import GateState
from engine.engine import Engine
from engine.options import RunOptions

__all__ = [
    "MONDAY_10",
    "BenchEngine",
    "OrderTap",
    "bench_config",
    "production_logging",
    "symbol_names",
]

NY = ZoneInfo("America/New_York")
#: A Monday, half an hour after the open: every filter passes, the session has hours left.
MONDAY_10 = datetime(2026, 11, 16, 10, 0, tzinfo=NY)
_WAIT_S = 5.0  # a sample that takes longer than this is a hang, not a latency


def symbol_names(count: int) -> list[str]:
    """``count`` distinct valid tickers (``XAA``, ``XAB``, ...)."""
    return [f"X{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(count)]


def bench_config(
    *, vas: int, symbols: int = 8, universe: int = 2, disabled: int = 0
) -> EngineConfig:
    """A config with ``vas`` external-signal VAs (each trading ``universe`` of ``symbols``
    quiet stocks) and ``disabled`` more that the engine does not start; limits wide open so
    that only the benchmark decides what trades. More than 100 VAs (the file format's cap) are
    added after validation, each validated on its own."""
    names = symbol_names(symbols)
    data: dict[str, Any] = {
        "engine": {"timezone": "America/New_York", "database_url": "sqlite:///unused.db"},
        "broker": {"kind": "sim"},
        "sim": {
            "seed": 7,
            "tick_interval_s": 1.0,
            "starting_cash": 100_000_000,
            "symbols": {
                name: {
                    "price": 100.0 + 10 * i,
                    "volatility": 0.02,
                    "spread_bps": 2.0,
                    "sector": f"sector{i % 5}",
                    "display_size": 100_000,
                }
                for i, name in enumerate(names)
            },
        },
        "risk": {
            "daily_loss_limit_pct": 50.0,
            "max_concurrent_positions": 1000,
            "max_trades_per_day": 10_000,
            "max_margin_utilization_pct": 100.0,
            "max_sector_concentration_pct": 100.0,
            "max_messages_per_s": 50,
            "entry_burst": 100,
        },
        "filters": {
            "max_spread_bps": 50.0,
            "max_slippage_bps": 50.0,
            "max_quote_age_ms": 60_000,
            "open_margin_min": 0,
            "close_margin_min": 0,
        },
        "orders": {"entry_type": "MKT"},
        "exits": {"profit_target_pct": 50.0, "max_holding_min": 10_080, "exit_before_close_min": 0},
        "inbox": {"enabled": False},
    }
    total = vas + disabled

    def account(i: int) -> dict[str, Any]:
        return {
            "id": f"va{i:04d}",
            "capital": 1_000_000,
            "universe": [names[(i + k) % symbols] for k in range(min(universe, symbols))],
            "enabled": i < vas,
            "strategy": {"kind": "external"},
            "limits": {
                "max_open_positions": 100,
                "max_drawdown_pct": 100.0,
                "cooldown_losses": 100,
                "cooldown_s": 0,
            },
        }

    data["accounts"] = [account(i) for i in range(min(total, 100))]
    config = EngineConfig.model_validate(data)
    if total > 100:
        extra = tuple(AccountConfig.model_validate(account(i)) for i in range(100, total))
        config = config.model_copy(update={"accounts": config.accounts + extra})
    return config


@contextlib.contextmanager
def production_logging(directory: Path) -> Iterator[None]:
    """The sinks ``main.py run`` installs (DEBUG to rotated files, written on the log-writer
    thread), in ``directory``;
    afterwards loguru's default stderr sink and the stdlib root logger are put back."""
    from engine.logging_setup import setup_logging, shutdown_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging(directory, console=False)
    try:
        yield
    finally:
        shutdown_logging()
        logger.add(sys.stderr)
        root.handlers[:] = handlers
        root.setLevel(level)


class OrderTap:
    """Wraps ``broker.place_order``: the moment an order reaches the broker adapter (taken on
    the caller's thread, the OrderManager's, before the adapter runs), per client order id."""

    def __init__(self, broker: Any) -> None:
        self._place: Callable[[OrderRequest], bool] = broker.place_order
        self._lock = threading.Lock()
        self._wanted: dict[str, threading.Event] = {}
        self.handed: dict[str, float] = {}
        self.count = 0
        self.on_order: Callable[[OrderRequest, float], None] | None = None
        broker.place_order = self.place_order

    def expect(self, client_order_id: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._wanted[client_order_id] = event
        return event

    def place_order(self, order: OrderRequest) -> bool:
        now = time.perf_counter()
        cid = order.client_order_id
        with self._lock:
            self.count += 1
            event = self._wanted.pop(cid, None)
            if event is not None:
                self.handed[cid] = now
        if self.on_order is not None:
            self.on_order(order, now)
        if event is not None:
            event.set()
        return self._place(order)


class _Filled:
    """Bus subscriber: sets the event of an order id once its snapshot says FILLED."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted: dict[str, threading.Event] = {}

    def expect(self, order_id: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._wanted[order_id] = event
        return event

    def __call__(self, item: object) -> None:
        if isinstance(item, OrderSnapshot) and item.status is OrderStatus.FILLED:
            with self._lock:
                event = self._wanted.pop(item.order_id, None)
            if event is not None:
                event.set()


class BenchEngine:
    """An engine started on a fresh ledger at ``MONDAY_10``, ready to trade (reconciled, gate
    open). Use as a context manager; everything it started is stopped and deleted on exit.

    Args:
        config: from ``bench_config``.
        seed_ledger: called with the open ``Engine`` before it starts (to store positions the
            engine will recover, as after a restart).
    """

    def __init__(
        self, config: EngineConfig, *, seed_ledger: Callable[[Engine], None] | None = None
    ) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="bench-"))
        self._logging = production_logging(self._dir / "logs")
        self._logging.__enter__()
        options = RunOptions(
            database_url=f"sqlite:///{self._dir / 'ledger.db'}", speed=None, start=MONDAY_10
        )
        self.engine = Engine(config, options)
        self.tap = OrderTap(self.engine.broker)
        self._filled = _Filled()
        self.engine.bus.subscribe(self._filled)
        self._seq = 0
        self.time_moves_by_skipping = False
        try:
            if seed_ledger is not None:
                seed_ledger(self.engine)
            self.engine.start(drive_clock=False)
            self.engine.advance(2.0)  # the first market step, the startup reconciliation
            self.wait_idle()
            if self.engine.gate.state is not GateState.OPEN:
                raise RuntimeError(f"gate {self.engine.gate.state}: {self.engine.gate.reason}")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> BenchEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.engine.stop()
        finally:
            self._logging.__exit__(None, None, None)
            shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def va_ids(self) -> list[str]:
        return [a.id for a in self.engine.config.accounts if a.enabled]

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        if not self.engine.wait_idle(timeout_s):
            raise TimeoutError(f"actors still busy after {timeout_s}s")

    def next_second(self) -> None:
        """Move the clock one second on (the pacing window is per second of clock time).

        Quiet: fire the timers due (a market step: fresh quotes) and wait for the actors.
        Under load (a feeder keeps messages in flight, so the clock would never see idle):
        skip the time forward without firing timers; the feeder's quotes are fresh."""
        if self.time_moves_by_skipping:
            clock = self.engine.clock
            clock.skip_to(clock.now() + timedelta(seconds=1))  # type: ignore[attr-defined]
        else:
            self.engine.advance(1.0)
            self.wait_idle()

    def tell_signal(self, va_id: str, symbol: str, *, close: bool = False) -> str:
        self._seq += 1
        signal_id = f"bench-{va_id}-{self._seq}"
        self.engine.book.tell(
            f"va:{va_id}",
            Signal(
                signal_id=signal_id,
                va_id=va_id,
                contract=Contract.stock(symbol),
                side=Side.SELL if close else Side.BUY,
                time=self.engine.clock.now(),
                source="bench",
                close=close,
                quantity=None if close else 10,
            ),
        )
        return signal_id

    def open_position(self, va_id: str, symbol: str) -> float:
        """Buy 10 shares; returns the seconds from the Signal's tell until the entry was handed
        to the broker adapter, once the entry has filled.

        Raises:
            TimeoutError: the entry did not reach the broker or fill in time.
        """
        sid = f"bench-{va_id}-{self._seq + 1}"
        handed, filled = self.tap.expect(sid), self._filled.expect(sid)
        started = time.perf_counter()
        self.tell_signal(va_id, symbol)
        if not handed.wait(_WAIT_S) or not filled.wait(_WAIT_S):
            raise TimeoutError(f"signal {sid} did not become a filled order")
        return self.tap.handed.pop(sid) - started

    def close_position(self, va_id: str, symbol: str) -> None:
        sid = f"bench-{va_id}-{self._seq + 1}"
        filled = self._filled.expect(sid)
        self.tell_signal(va_id, symbol, close=True)
        if not filled.wait(_WAIT_S):
            raise TimeoutError(f"close {sid} did not fill")

    def round_trip(self, va_id: str, symbol: str) -> float:
        """One signal-to-order sample: open (measured), close, move the clock a second."""
        latency = self.open_position(va_id, symbol)
        self.close_position(va_id, symbol)
        if not self.time_moves_by_skipping:
            self.wait_idle()
        self.next_second()
        return latency

    def governor(self) -> Any:
        return self.engine.actor("governor")

    def halted_and_acked(self, count: int) -> bool:
        """The governor is HALTED and every one of ``count`` VAs acknowledged (read from the
        bench thread: the ack set is only cleared before the state changes to HALTED)."""
        governor = self.governor()
        return governor.state is TradingState.HALTED and len(governor.halt_acks) >= count

    def resume(self) -> None:
        """Back to ACTIVE with the gate open (bounded wait)."""
        self.engine.resume("bench")
        deadline = time.monotonic() + _WAIT_S
        while self.engine.gate.state is not GateState.OPEN or (
            self.governor().state is not TradingState.ACTIVE
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("resume did not open the gate")
            time.sleep(0.001)
