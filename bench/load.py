"""Load beside a measurement, and the physical limit it is compared with.

* ``QuoteFeeder``: a broker-like thread that pushes quotes into the engine's QuoteBook (what
  the broker listener does with every tick) at a steady rate or as fast as it can.
* ``TuiThread``: the real dashboard (``tui.EngineApp``) on the real engine, headless
  (``App.run_test``), on its own thread and event loop.
* ``handoff_us``: a pykka ``tell`` round trip between two trivial actors, halved: what one
  thread hop costs on this machine, measured in the same run as the figure it bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pykka

from core.domain import Quote
from engine.engine import Engine

__all__ = ["QuoteFeeder", "TuiThread", "handoff_us", "rss_kb"]


class QuoteFeeder:
    """Pushes quotes for ``symbols`` round-robin into ``engine.quotes`` from its own thread,
    ``rate_per_s`` of them a second (``None``: as fast as it can, 50 at a time), a batch every
    ``batch_s`` (1 ms: close to an even tick stream), each stamped with the clock's now and
    moved a cent from the last so that every mark changes. Bounded by ``max_s``."""

    def __init__(
        self,
        engine: Engine,
        symbols: list[str],
        *,
        rate_per_s: float | None,
        batch_s: float = 0.01,
        max_s: float = 120.0,
    ) -> None:
        self._engine = engine
        self._templates: list[Quote] = []
        for symbol in symbols:
            quote = engine.quotes.latest(symbol) or engine.broker.last_quote(symbol)  # type: ignore[attr-defined]
            if quote is None:
                raise RuntimeError(f"no quote for {symbol} yet")
            self._templates.append(quote)
        self._rate = rate_per_s
        self._batch_s = batch_s
        self._max_s = max_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-quotes", daemon=True)
        self.sent = 0
        self.started_at = 0.0
        self.stopped_at = 0.0

    def __enter__(self) -> QuoteFeeder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    @property
    def rate_per_s(self) -> float:
        """Quotes actually sent per second of feeding."""
        end = self.stopped_at or time.perf_counter()
        return self.sent / (end - self.started_at) if end > self.started_at else 0.0

    def _run(self) -> None:
        update, clock = self._engine.quotes.update, self._engine.clock
        templates, count = self._templates, len(self._templates)
        batch = max(1, round(self._rate * self._batch_s)) if self._rate else 50
        self.started_at = time.perf_counter()
        deadline = self.started_at + self._max_s
        next_at = self.started_at
        i = 0
        while not self._stop.is_set():
            now = clock.now()
            for _ in range(batch):
                base = templates[i % count]
                step = 0.01 * ((i // count) % 7 - 3)
                update(replace(base, bid=base.bid + step, ask=base.ask + step, time=now))
                i += 1
            self.sent = i
            if self._rate:
                next_at += self._batch_s
                pause = next_at - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            if time.perf_counter() > deadline:
                break
        self.stopped_at = time.perf_counter()


class TuiThread:
    """``tui.EngineApp`` on ``engine``, headless, on its own thread: the dashboard's bus
    bridge, flush timer and table updates run in-process, as in ``main.py run``."""

    def __init__(self, engine: Engine, *, size: tuple[int, int] = (160, 50)) -> None:
        self._engine = engine
        self._size = size
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-tui", daemon=True)
        self.flushes = 0

    def __enter__(self) -> TuiThread:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError(f"the dashboard did not start: {self._error!r}")
        if self._error is not None:
            raise RuntimeError("the dashboard failed") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        from tui import EngineApp

        app = EngineApp(self._engine)
        async with app.run_test(size=self._size) as pilot:
            await pilot.pause(0.3)
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.05)
            self.flushes = app.flushes


class _Pong(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.partner: Any = None

    def on_receive(self, message: Any) -> None:
        self.partner.tell(message)


class _Ping(pykka.ThreadingActor):
    def __init__(self, rounds: int, done: threading.Event) -> None:
        super().__init__()
        self.partner: Any = None
        self.rounds = rounds
        self.done = done
        self.samples: list[float] = []
        self._sent = 0.0

    def on_receive(self, message: Any) -> None:
        now = time.perf_counter()
        if message != "go":
            self.samples.append(now - self._sent)
        if len(self.samples) >= self.rounds:
            self.done.set()
            return
        self._sent = time.perf_counter()
        self.partner.tell("ping")


def handoff_us(rounds: int = 2000) -> list[float]:
    """One-way thread hand-offs (a pykka tell round trip between two trivial actors, halved),
    in microseconds.

    Raises:
        TimeoutError: the actors did not finish in 30 s.
    """
    done = threading.Event()
    ping_ref = _Ping.start(rounds, done)
    pong_ref = _Pong.start()
    try:
        ping, pong = ping_ref._actor_weakref(), pong_ref._actor_weakref()
        ping.partner, pong.partner = pong_ref, ping_ref
        ping_ref.tell("go")
        if not done.wait(30):
            raise TimeoutError("ping-pong did not finish")
        return [s / 2 * 1e6 for s in ping.samples]
    finally:
        ping_ref.stop()
        pong_ref.stop()


def rss_kb() -> int:
    """This process's resident set, KiB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    import resource

    return pages * resource.getpagesize() // 1024


@contextlib.contextmanager
def switch_interval(seconds: float | None) -> Iterator[None]:
    """Temporarily set ``sys.setswitchinterval`` (None: leave it)."""
    import sys

    old = sys.getswitchinterval()
    if seconds is not None:
        sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(old)
