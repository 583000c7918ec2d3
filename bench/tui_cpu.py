"""TUI CPU: what the dashboard costs with 100 VAs updating at 4 Hz, in a real terminal.

The dashboard runs in a child process on a pseudo-terminal (so Textual renders and writes every
frame, as in a real terminal; headless mode skips that), against a stand-in engine whose
"actor" thread publishes ``vas`` changed VA snapshots ``hz`` times a second. Measured over
``seconds`` after a one-second warm-up:

* ``pct``: the process's CPU time minus the publishing thread's, over wall time (100 = one core).
  This is the TUI: its UI thread, Textual's writer and input threads, and the bus callback.
* ``ui_thread_pct``: the UI thread alone (``time.thread_time`` on it).
* ``feeder_pct``: the stand-in actor thread (building and publishing snapshots), for reference.

    python -m bench.tui_cpu [--seconds 10] [--vas 100] [--hz 4] [--orders 0] [--size 140x40]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import pty
import resource
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["run"]

NY = ZoneInfo("America/New_York")


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


# -- the child: the dashboard against a stand-in engine -----------------------------------------
class _Clock:
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(NY)


@dataclass
class _Config:
    accounts: tuple[Any, ...] = ()
    broker: Any = None

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        return {}


@dataclass
class _Engine:
    """Just enough engine for the dashboard: a real bus and gate, commands that do nothing."""

    bus: Any
    gate: Any
    clock: _Clock = field(default_factory=_Clock)
    config: _Config = field(default_factory=_Config)

    def halt(self, reason: str = "", *, by: str = "") -> None: ...
    def resume(self, reason: str = "", *, by: str = "") -> None: ...
    def flatten(self, reason: str = "", va_id: str | None = None, *, by: str = "") -> None: ...
    def pause_va(self, va_id: str, *, paused: bool, reason: str = "") -> None: ...

    def ask_snapshot(self, name: str, timeout_s: float = 1.0) -> Any:
        raise LookupError(name)

    def inspect_va(self, va_id: str, timeout_s: float = 1.0) -> Any:
        raise LookupError(va_id)

    def reload_config(self, path: str) -> Any:
        raise LookupError(path)


def _child(out: Path, *, seconds: float, vas: int, hz: float, orders: int) -> None:
    from actors.messages.snapshots import OrderSnapshot, RiskStatus, VASnapshot
    from actors.runtime.base import Bus
    from core.config import BrokerSettings
    from core.domain import Contract, OrderStatus, OrderType, Purpose, Side, TradingState
    from core.gate import GateState, TradingGate
    from tui import EngineApp

    engine = _Engine(bus=Bus(), gate=TradingGate(GateState.OPEN, "bench"))
    engine.config.broker = BrokerSettings()
    stop = threading.Event()
    feeder_cpu: list[float] = []
    published = [0]

    def va(n: int, tick: int) -> VASnapshot:
        now = datetime.now(NY)
        return VASnapshot(
            va_id=f"va{n:03d}",
            strategy="ma_cross",
            symbol="AAPL",
            state="cooldown" if n % 10 == 0 else "in_position",
            capital=Decimal(100_000),
            equity=Decimal(100_000 + (tick * 7 + n) % 500),
            realized_pnl=Decimal(0),
            unrealized_pnl=Decimal((tick * 7 + n) % 500),
            day_pnl=Decimal((tick * 7 + n) % 500 - 250),
            drawdown_pct=((tick + n) % 50) / 10,
            peak_equity=Decimal(100_500),
            wins=tick // 10,
            losses=n % 5,
            consecutive_losses=0,
            cooldown_until=now + timedelta(minutes=5) if n % 10 == 0 else None,
            open_positions=1,
            working_orders=0,
            time=now,
        )

    def feed() -> None:
        started = time.thread_time()
        tick = 0
        while not stop.wait(1 / hz):
            tick += 1
            for n in range(vas):
                engine.bus.publish(va(n, tick))
                published[0] += 1
        feeder_cpu.append(time.thread_time() - started)

    class BenchApp(EngineApp):
        def on_mount(self) -> None:  # runs after EngineApp.on_mount (Textual calls both)
            now = datetime.now(NY)
            for n in range(orders):
                engine.bus.publish(
                    OrderSnapshot(
                        f"o-{n:04d}",
                        f"va{n % max(vas, 1):03d}",
                        Contract.stock("AAPL"),
                        Side.BUY,
                        OrderType.LMT,
                        Purpose.ENTRY,
                        100,
                        0,
                        OrderStatus.SUBMITTED,
                        Decimal(100),
                        None,
                        now,
                        now,
                    )
                )
            engine.bus.publish(
                RiskStatus(TradingState.ACTIVE, "bench", Decimal(0), Decimal(-5000), (), now)
            )
            self.set_timer(1.0, self._start)

        def _start(self) -> None:
            self._marks = (time.monotonic(), _process_cpu(), time.thread_time(), self.flushes)
            self._feeder = threading.Thread(target=feed, name="bench-feeder", daemon=True)
            self._feeder.start()
            self.set_timer(seconds, self._finish)

        def _finish(self) -> None:
            wall = time.monotonic() - self._marks[0]
            process = _process_cpu() - self._marks[1]
            ui_thread = time.thread_time() - self._marks[2]
            flushes = self.flushes - self._marks[3]
            stop.set()
            self._feeder.join(5)
            feeder = feeder_cpu[0] if feeder_cpu else 0.0
            result = {
                "pct": round(100 * (process - feeder) / wall, 1),
                "ui_thread_pct": round(100 * ui_thread / wall, 1),
                "feeder_pct": round(100 * feeder / wall, 1),
                "total_pct": round(100 * process / wall, 1),
                "wall_s": round(wall, 2),
                "flushes": flushes,
                "snapshots_published": published[0],
            }
            out.write_text(json.dumps(result), encoding="utf-8")
            self.exit()

    BenchApp(engine).run()


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the parent: a pseudo-terminal that swallows the frames ------------------------------------
def run(
    *,
    seconds: float = 10.0,
    vas: int = 100,
    hz: float = 4.0,
    orders: int = 0,
    columns: int = 140,
    lines: int = 40,
) -> dict[str, Any]:
    """Measure the dashboard's CPU use; returns ``{"pct": ..., ...}`` (see the module doc)."""
    import textual

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        errors = out.with_suffix(".err")
        command = [
            sys.executable,
            "-m",
            "bench.tui_cpu",
            "--child",
            str(out),
            "--seconds",
            str(seconds),
            "--vas",
            str(vas),
            "--hz",
            str(hz),
            "--orders",
            str(orders),
        ]
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
        root = Path(__file__).resolve().parent.parent
        # Textual writes its frames to stderr: all three streams are the terminal.
        child = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=root,
            start_new_session=True,
        )
        os.close(slave)
        written = 0
        deadline = time.monotonic() + seconds + 60
        try:
            while child.poll() is None and time.monotonic() < deadline:
                try:
                    written += len(os.read(master, 1 << 16))
                except OSError:  # the child closed the terminal
                    break
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(10)
            os.close(master)
        if not out.exists():
            why = errors.read_text() if errors.exists() else f"exit status {child.returncode}"
            raise RuntimeError(f"the dashboard did not report: {why[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
    result.update(
        vas=vas,
        hz=hz,
        orders=orders,
        seconds=seconds,
        terminal=f"{columns}x{lines} pty, {written / 1e6:.1f} MB written",
        machine=_machine(),
        python=platform.python_version(),
        textual=textual.__version__,
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tui_cpu", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--vas", type=int, default=100)
    parser.add_argument("--hz", type=float, default=4.0)
    parser.add_argument("--orders", type=int, default=0)
    parser.add_argument("--size", default="140x40", help="terminal COLUMNSxLINES")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = Path(args.child)
        try:
            _child(out, seconds=args.seconds, vas=args.vas, hz=args.hz, orders=args.orders)
        except BaseException:
            out.with_suffix(".err").write_text(traceback.format_exc(), encoding="utf-8")
            raise
        return 0
    columns, lines = (int(part) for part in args.size.split("x"))
    result = run(
        seconds=args.seconds,
        vas=args.vas,
        hz=args.hz,
        orders=args.orders,
        columns=columns,
        lines=lines,
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
