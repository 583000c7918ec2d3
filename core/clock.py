"""Time for the whole engine: one ``Clock`` that every component reads and every timer goes through.

* ``WallClock``: live runs; the wall clock in the exchange's time zone.
* ``VirtualClock``: simulated runs, starting at any moment, running in real time
  (``speed=1``), N times faster (``speed=N``), or as fast as possible (``speed=None``, "max").
  In max mode time advances only when no actor message is in flight (``InFlight`` counts every
  ``tell`` between actors and every handled message), so a run's results do not depend on how
  fast the machine is.

Timer callbacks run on the clock's driver thread (``clock-driver``). They must not block: they
read state and ``tell`` actors, nothing more.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time as _time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from loguru import logger

__all__ = ["Clock", "InFlight", "Timer", "VirtualClock", "WallClock"]


class InFlight:
    """Counts messages sent to actors and not yet handled (thread-safe)."""

    __slots__ = ("_cv", "_n")

    def __init__(self) -> None:
        self._n = 0
        self._cv = threading.Condition(threading.Lock())

    @property
    def count(self) -> int:
        return self._n

    def inc(self) -> None:
        with self._cv:
            self._n += 1

    def dec(self) -> None:
        with self._cv:
            self._n -= 1
            if self._n <= 0:
                self._n = 0
                self._cv.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no message is in flight; False if ``timeout_s`` passed first."""
        with self._cv:
            return self._cv.wait_for(lambda: self._n == 0, timeout=timeout_s)


class Timer:
    """A scheduled callback; ``cancel()`` is safe from any thread and idempotent."""

    __slots__ = ("cancelled", "fn", "interval_s", "name", "seq", "when")

    def __init__(
        self, when: datetime, seq: int, fn: Callable[[], None], interval_s: float | None, name: str
    ) -> None:
        self.when = when
        self.seq = seq
        self.fn = fn
        self.interval_s = interval_s
        self.name = name
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class Clock(ABC):
    """Base: a timer heap and a driver thread. Subclasses say what "now" is and how to wait."""

    #: Simulation speed: 1.0 for real time, N for N times faster, None for "max".
    speed: float | None = 1.0

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.inflight = InFlight()
        self._heap: list[Timer] = []
        self._seq = itertools.count()
        self._cv = threading.Condition(threading.Lock())
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading time -------------------------------------------------------------------------
    @abstractmethod
    def now(self) -> datetime:
        """The current moment, timezone-aware in the exchange's zone."""

    @property
    def is_virtual(self) -> bool:
        return False

    # -- scheduling ---------------------------------------------------------------------------
    def call_at(self, when: datetime, fn: Callable[[], None], *, name: str = "") -> Timer:
        return self._push(when, fn, None, name)

    def call_later(self, delay_s: float, fn: Callable[[], None], *, name: str = "") -> Timer:
        return self._push(self._utc_now() + timedelta(seconds=delay_s), fn, None, name)

    def _utc_now(self) -> datetime:
        # Timer arithmetic is done in UTC: adding seconds to an exchange-zone datetime adds
        # wall-clock time, which is wrong across a daylight-saving change.
        return self.now().astimezone(UTC)

    def call_every(
        self,
        interval_s: float,
        fn: Callable[[], None],
        *,
        first: datetime | None = None,
        name: str = "",
    ) -> Timer:
        """Run ``fn`` every ``interval_s`` of clock time. A late timer runs once and is
        rescheduled from now: no catch-up storm after a jump over a night."""
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0 (got {interval_s})")
        when = first if first is not None else self._utc_now() + timedelta(seconds=interval_s)
        return self._push(when, fn, interval_s, name)

    def _push(
        self, when: datetime, fn: Callable[[], None], interval_s: float | None, name: str
    ) -> Timer:
        when = when.astimezone(UTC)
        timer = Timer(when, next(self._seq), fn, interval_s, name or getattr(fn, "__name__", "?"))
        with self._cv:
            heapq.heappush(self._heap, timer)
            self._cv.notify_all()
        return timer

    def next_due(self) -> datetime | None:
        with self._cv:
            self._drop_cancelled()
            return self._heap[0].when if self._heap else None

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)

    def _fire(self, timer: Timer) -> None:
        try:
            timer.fn()
        except Exception:
            logger.exception("clock: timer {} raised", timer.name)
        if timer.interval_s is not None and not timer.cancelled:
            nxt = timer.when + timedelta(seconds=timer.interval_s)
            now = self._utc_now()
            timer.when = nxt if nxt > now else now + timedelta(seconds=timer.interval_s)
            timer.seq = next(self._seq)
            with self._cv:
                heapq.heappush(self._heap, timer)

    # -- driver -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the driver thread that fires timers (idempotent)."""
        if self._thread is not None:
            return
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="clock-driver", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopped.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        self._thread = None

    def _run(self) -> None:
        while not self._stopped.is_set():
            timer = self._next_timer()
            if timer is not None:
                self._fire(timer)

    def _next_timer(self) -> Timer | None:
        """Wait (bounded) for the next due timer and pop it; None to re-check the stop flag."""
        with self._cv:
            self._drop_cancelled()
            if not self._heap:
                self._cv.wait(0.1)
                return None
            delay_s = self._wall_delay_s(self._heap[0].when)
            if delay_s > 0:
                self._cv.wait(min(delay_s, 0.1))
                return None
            return heapq.heappop(self._heap)

    def _wall_delay_s(self, when: datetime) -> float:
        return (when - self.now()).total_seconds()


class WallClock(Clock):
    """The wall clock in the exchange's time zone (live trading)."""

    def now(self) -> datetime:
        return datetime.now(self.tz)


class VirtualClock(Clock):
    """Simulated time starting at ``start``.

    Args:
        tz: exchange time zone; ``now()`` returns aware datetimes in it.
        start: the simulated moment the clock starts at.
        speed: ``None`` for max speed (advance only when idle), else the ratio of simulated
            seconds to wall seconds (1 = real time).
        idle_timeout_s: in max mode, how long to wait for in-flight messages before warning
            (the clock keeps waiting: advancing with messages in flight would break determinism).
    """

    def __init__(
        self,
        tz: ZoneInfo,
        start: datetime,
        speed: float | None = None,
        *,
        idle_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(tz)
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0 or None for max (got {speed})")
        self.speed = speed
        self._idle_timeout_s = idle_timeout_s
        self._now = start.astimezone(UTC)  # kept in UTC; now() converts to the exchange zone
        self._anchor_mono = _time.monotonic()

    @property
    def is_virtual(self) -> bool:
        return True

    def now(self) -> datetime:
        if self.speed is None:
            return self._now.astimezone(self.tz)
        elapsed = (_time.monotonic() - self._anchor_mono) * self.speed
        return (self._now + timedelta(seconds=elapsed)).astimezone(self.tz)

    def skip_to(self, when: datetime) -> None:
        """Jump forward to ``when`` (nights, weekends). Never moves time backwards."""
        with self._cv:
            current = self.now()
            if when > current:
                self._now = when.astimezone(UTC)
                self._anchor_mono = _time.monotonic()
            self._cv.notify_all()

    def _wall_delay_s(self, when: datetime) -> float:
        if self.speed is None:
            return 0.0
        return (when - self.now()).total_seconds() / self.speed

    def _next_timer(self) -> Timer | None:
        if self.speed is not None:
            return super()._next_timer()
        # Max mode: the next timer fires only once every message in flight has been handled.
        if not self.inflight.wait_idle(self._idle_timeout_s):
            logger.warning("clock: {} messages still in flight, waiting", self.inflight.count)
            return None
        with self._cv:
            self._drop_cancelled()
            if not self._heap:
                self._cv.wait(0.05)
                return None
            timer = heapq.heappop(self._heap)
            self._now = max(self._now, timer.when)
            return timer

    def run_until(self, until: datetime, *, idle_timeout_s: float = 5.0) -> None:
        """Max mode, in the calling thread (tests): fire every timer due up to ``until`` in order,
        waiting for in-flight messages before each, then set the time to ``until``.

        Raises:
            TimeoutError: if messages stay in flight for ``idle_timeout_s``.
        """
        if self.speed is not None:
            raise RuntimeError("run_until is for max-speed clocks")
        while True:
            if not self.inflight.wait_idle(idle_timeout_s):
                raise TimeoutError(f"{self.inflight.count} messages still in flight")
            with self._cv:
                self._drop_cancelled()
                if not self._heap or self._heap[0].when > until:
                    self._now = max(self._now, until.astimezone(UTC))
                    return
                timer = heapq.heappop(self._heap)
                self._now = max(self._now, timer.when)
            self._fire(timer)

    def advance(self, seconds: float, *, idle_timeout_s: float = 5.0) -> None:
        """Max mode, in the calling thread (tests): ``run_until(now + seconds)``."""
        self.run_until(self.now() + timedelta(seconds=seconds), idle_timeout_s=idle_timeout_s)
