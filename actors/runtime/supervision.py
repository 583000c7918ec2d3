"""Crash policy for the engine's supervision (pure: no pykka, no threads).

An actor that crashes is restarted in place (``actors/runtime/base.py``). One crash now and then is
what supervision is for; the same actor crashing again and again is a loop (a broker read that
fails every tick, a poisoned state the ledger rebuilds): restarting it at once would only repeat
the crash, fill the log with tracebacks and the database with ``actor_crash`` events. So the
crashes of each actor are counted over a sliding window of wall time:

* up to ``backoff_after`` crashes in ``window_s``: restarted at once;
* beyond that: each restart is delayed, ``base_delay_s`` doubling per further crash up to
  ``max_delay_s`` (the actor's mailbox keeps every message meanwhile);
* at ``halt_after`` crashes in ``window_s``: the engine halts, once, with a reason naming the
  actor, the count and the last error; restarts stay delayed by ``max_delay_s`` after that.

Wall time, not the engine's clock: a crash storm is a wall-time thing (CPU, log, disk), and a
virtual clock at max speed or a skipped night would stretch or squeeze any clock window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["CrashPolicy", "CrashVerdict"]


@dataclass(frozen=True, slots=True)
class CrashVerdict:
    """What to do after one crash: wait ``delay_s`` wall seconds before the restart; halt the
    engine with ``halt_reason`` when it is not empty (said once per actor per storm)."""

    count: int  # crashes of this actor within the window, this one included
    delay_s: float = 0.0
    halt_reason: str = ""


@dataclass(slots=True)
class CrashPolicy:
    """Counts crashes per actor address over a sliding wall-time window.

    Not thread-safe by itself: the engine calls ``record`` under its own lock (crashes happen on
    the actors' threads).
    """

    window_s: float = 60.0
    backoff_after: int = 3
    halt_after: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0
    _times: dict[str, deque[float]] = field(default_factory=dict)
    _halted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not 0 < self.backoff_after < self.halt_after:
            raise ValueError(
                f"crash policy: need 0 < backoff_after < halt_after "
                f"(got {self.backoff_after}, {self.halt_after})"
            )
        if self.window_s <= 0 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("crash policy: window_s > 0 and 0 <= base_delay_s <= max_delay_s")

    def record(self, address: str, now_s: float, error: str) -> CrashVerdict:
        """One crash of ``address`` at the monotonic time ``now_s`` (seconds); ``error`` is the
        exception's one-line description for the halt reason."""
        times = self._times.setdefault(address, deque())
        times.append(now_s)
        while times and now_s - times[0] > self.window_s:
            times.popleft()
        count = len(times)
        if count <= self.backoff_after:
            if count == 1:
                self._halted.discard(address)  # a quiet window ends a storm
            return CrashVerdict(count)
        extra = count - self.backoff_after - 1
        delay = min(self.max_delay_s, self.base_delay_s * (2**extra))
        if count < self.halt_after:
            return CrashVerdict(count, delay)
        if address in self._halted:
            return CrashVerdict(count, self.max_delay_s)
        self._halted.add(address)
        reason = (
            f"{address} crashed {count} times in {self.window_s:.0f}s (last: {error}); "
            "halted to stop a crash loop"
        )
        return CrashVerdict(count, self.max_delay_s, reason)
