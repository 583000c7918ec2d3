"""Figure 3b: ``h`` in a dashboard attached from its own process, in a real terminal, until the
engine's gate is closed.

``main.py attach --socket PATH`` runs in a pty (``bench.terminal``), as a trader runs it over
SSH: the key goes through the terminal, Textual's input thread (the kill switch's own lane,
``tui.kill_switch``), ``RemoteEngine.halt``, the control socket and the server's loop to
``engine.halt()``, which closes the gate first. The benchmark stamps CLOCK_MONOTONIC (one clock
for every process of the machine) in a process of its own just before it writes ``h`` to the
pty (``KeyPresser``), and again when
``engine.halt()`` has returned in the engine's process: the gate is closed then, and every
order checked afterwards is refused. No thread polls the gate meanwhile (figure 3's observer
spins on ``sleep(0)``: it would take a core and the GIL from the very path measured here).
Measured with 100 VAs, quiet and then receiving 300 quotes/s; the engine is resumed
between samples, and each key falls at a random moment of the dashboard's 0.25 s flush cycle.
The loaded block runs the engine's QuoteBook with its 100 ms delivery tick, as the engine runs
live (``--speed 1``; the benchmark's clock is stepped, where the tick is off); a third block
measures the same quotes without it.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import BenchEngine, bench_config, symbol_names
from bench.load import QuoteFeeder
from bench.stats import Row, median_of_runs, ms, spread, summary_ms
from bench.terminal import Terminal
from engine.engine import Engine

__all__ = ["FIGURE", "TARGET", "describe", "run"]

TARGET_P99_MS = 5.0
QUOTES_PER_S = 300
FIGURE = "3b Halt from an attached dashboard: `h` in its terminal until the gate is closed"
TARGET = f"p99 <= {TARGET_P99_MS:g} ms, with 100 VAs and 300 quotes/s"
_SIZES = {"tiny": (1, 5, 10, 8), "full": (3, 40, 100, 20)}  # runs, samples, VAs, symbols
_MAIN = Path(__file__).resolve().parent.parent / "main.py"
_READY_S = 60.0
_LIVE_TICK_S = 0.1  # [engine] quote_delivery_ms = 100 at --speed 1


_PRESSER = """
import os, sys, time
fd = int(sys.argv[1])
for line in sys.stdin:
    pressed = time.monotonic()
    os.write(fd, line.strip().encode())
    print(repr(pressed), flush=True)
"""


class KeyPresser:
    """A process of its own that writes keys to the terminal and stamps each just before:
    the benchmark's thread shares the engine's GIL and could be held up between its stamp and
    the write, which would shorten the figure; this process has nothing else to do."""

    def __init__(self, term: Terminal) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _PRESSER, str(term.master_fd)],
            pass_fds=(term.master_fd,),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def press(self, key: str) -> float:
        """Write ``key`` to the terminal; the monotonic time just before."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(key + "\n")
        self._process.stdin.flush()
        return float(self._process.stdout.readline())

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        finally:
            if self._process.poll() is None:
                self._process.kill()
            if self._process.stdout is not None:
                self._process.stdout.close()


class HaltStamp:
    """Wraps ``engine.halt`` (what the control channel's ``halt`` calls): stamps the monotonic
    clock once it returned, i.e. once the gate is closed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._halt: Callable[..., None] = engine.halt
        self.closed_at = 0.0
        self.done = threading.Event()
        engine.halt = self  # type: ignore[method-assign]

    def __call__(self, reason: str = "manual halt") -> None:
        self._halt(reason)
        self.closed_at = time.monotonic()
        self.done.set()

    def close(self) -> None:
        del self._engine.halt  # the class's method again


def _measure(be: BenchEngine, term: Terminal, samples: int) -> list[float]:
    """Seconds from each ``h`` written to the terminal until ``engine.halt()`` had closed the
    gate."""
    presser = KeyPresser(term)
    stamp = HaltStamp(be.engine)
    closed: list[float] = []
    try:
        for _ in range(samples):
            be.resume()
            stamp.done.clear()
            time.sleep(random.uniform(0.3, 0.55))  # any moment of the 0.25 s flush cycle
            pressed = presser.press("h")
            if not stamp.done.wait(5):
                raise TimeoutError(f"the gate was not closed within 5 s of h: {term.text[-500:]!r}")
            closed.append(stamp.closed_at - pressed)
    finally:
        stamp.close()
        presser.close()
    return closed


def _attached_terminal(socket: str, cwd: str) -> Terminal:
    term = Terminal(
        [sys.executable, str(_MAIN), "attach", "--socket", socket], cwd=cwd, cols=160, rows=50
    )
    try:
        term.wait_for("ACTIVE", _READY_S)  # the dashboard shows the engine's state
    except BaseException:
        term.close()
        raise
    return term


def one_run(samples: int, vas: int, symbols: int) -> dict[str, Any]:
    """Quiet first (no quotes), then with the quote load, one dashboard throughout."""
    config = bench_config(vas=vas, symbols=symbols, universe=2)
    with BenchEngine(config) as be, tempfile.TemporaryDirectory(prefix="bench3b") as cwd:
        assert be.engine.control is not None, "the bench config serves no control channel"
        be.time_moves_by_skipping = True
        term = _attached_terminal(be.engine.control.path, cwd)
        try:
            quiet = _measure(be, term, samples)
            with QuoteFeeder(be.engine, symbol_names(symbols), rate_per_s=QUOTES_PER_S) as feed:
                # As the engine runs live (--speed 1): the QuoteBook's 100 ms delivery tick.
                be.engine.quotes.set_min_interval(_LIVE_TICK_S)
                try:
                    loaded = _measure(be, term, samples)
                finally:
                    be.engine.quotes.set_min_interval(0.0)
                untimed = _measure(be, term, samples)  # every quote wakes (a stepped clock)
                rate = feed.rate_per_s
        finally:
            term.close()
        be.resume()
    quiet_ms = summary_ms(quiet)
    return {
        **summary_ms(loaded),
        "quiet_p50_ms": quiet_ms["p50_ms"],
        "quiet_p99_ms": quiet_ms["p99_ms"],
        "untimed_p99_ms": summary_ms(untimed)["p99_ms"],
        "quotes_per_s": round(rate),
        "vas": vas,
    }


def run(*, size: str = "full") -> dict[str, Any]:
    runs, samples, vas, symbols = _SIZES[size]
    return median_of_runs([one_run(samples, vas, symbols) for _ in range(runs)])


def describe(result: dict[str, Any]) -> Row:
    p99 = result["p99_ms"]
    return Row(
        figure=FIGURE,
        result=(
            f"quiet p99 {ms(result['quiet_p99_ms'], 3)}; with {result['quotes_per_s']} quotes/s "
            "(the 100 ms delivery tick, as live) "
            f"p50 {ms(result['p50_ms'], 3)}, p99 {ms(p99, 3)}, max {ms(result['max_ms'], 3)} "
            f"(n={result['n']}{spread(result)})"
        ),
        target=TARGET,
        limit=(
            f"the same quotes with every quote waking its subscribers (no delivery tick, as on "
            f"a stepped clock): p99 {ms(result['untimed_p99_ms'], 3)}"
        ),
        ratio="-",
        met=max(p99, result["quiet_p99_ms"]) <= TARGET_P99_MS,
    )
