"""Reconnect backoff, pacing slow-down, the stale-data watchdog and the link's health (pure
state machines; the loop thread owns the instances and passes the time in).

Times are plain seconds: monotonic wall seconds for the backoff and the pacing pause (they
protect IB, which runs on wall time), clock seconds for the watchdog (stale data is judged in
the engine's time, like every other age).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from core.events import ConnectionState

__all__ = ["Backoff", "LinkHealth", "PacingThrottle", "StaleWatchdog"]


class Backoff:
    """Exponential backoff with jitter: ``base_s``, doubling up to ``cap_s``; each delay is
    drawn from ``[d * (1 - jitter), d]`` so clients that lost the same TWS do not return in
    step.

    Raises:
        ValueError: ``base_s`` <= 0, ``cap_s`` < ``base_s`` or ``jitter`` outside [0, 1).
    """

    def __init__(
        self,
        base_s: float = 5.0,
        cap_s: float = 300.0,
        *,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not base_s > 0 or cap_s < base_s or not 0 <= jitter < 1:
            raise ValueError(f"bad backoff: base_s={base_s}, cap_s={cap_s}, jitter={jitter}")
        self.base_s = base_s
        self.cap_s = cap_s
        self.jitter = jitter
        self._rng = rng or random.Random()
        self.attempts = 0

    def next_delay(self) -> float:
        """The wait before the next attempt (and count the attempt)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(self.attempts, 60))
        self.attempts += 1
        return ceiling * self._rng.uniform(1.0 - self.jitter, 1.0)

    def reset(self) -> None:
        self.attempts = 0


class PacingThrottle:
    """Slows requests after IB's pacing error 100: the first violation pauses ``first_pause_s``,
    each further one within ``memory_s`` doubles the pause up to ``max_pause_s``."""

    def __init__(
        self, first_pause_s: float = 1.0, max_pause_s: float = 30.0, memory_s: float = 60.0
    ) -> None:
        self.first_pause_s = first_pause_s
        self.max_pause_s = max_pause_s
        self.memory_s = memory_s
        self._pause_s = 0.0
        self._until = 0.0
        self._last = -1e18
        self.violations = 0

    def violation(self, now_s: float) -> float:
        """Record an error 100 at ``now_s``; returns the pause now in force (seconds)."""
        recent = now_s - self._last <= self.memory_s
        self._pause_s = min(self.max_pause_s, self._pause_s * 2) if recent else self.first_pause_s
        self._pause_s = max(self._pause_s, self.first_pause_s)
        self._last = now_s
        self._until = now_s + self._pause_s
        self.violations += 1
        return self._pause_s

    def wait_s(self, now_s: float) -> float:
        """How long to hold the next request back (0 when not paused)."""
        return max(0.0, self._until - now_s)


class RequestBudget:
    """Spaces market-data requests (subscriptions, option-chain scans) to at most ``per_s`` a
    second. ib_async sends at most 45 messages a second and queues the rest first in, first out,
    orders included: a chain scan of a hundred requests would hold an order back for seconds.
    Kept under a share of that window, data requests leave the rest to orders, cancels and
    modifications, which are never spaced here. After a quiet spell up to ``burst`` requests go
    at once (the subscriptions at start); in any second at most ``burst + per_s`` leave."""

    def __init__(self, per_s: float, burst: int = 1) -> None:
        if not per_s > 0:
            raise ValueError(f"per_s must be > 0 (got {per_s})")
        if burst < 1:
            raise ValueError(f"burst must be >= 1 (got {burst})")
        self.interval_s = 1.0 / per_s
        self._tolerance_s = (burst - 1) * self.interval_s
        self._due = -1e18  # when the next request would go at the steady rate

    def reserve(self, now_s: float) -> float:
        """Book the next slot; returns how long to wait before sending (0: now)."""
        due = max(self._due, now_s)
        self._due = due + self.interval_s
        return max(0.0, due - self._tolerance_s - now_s)


class StaleWatchdog:
    """No quotes for ``stale_after_s`` clock seconds while the market is open means stale data.

    Silence is measured from the latest of: the last quote, the session's open, and the last
    ``reset`` (a subscription or a reconnect), so a quiet night or a fresh subscription is never
    stale.
    """

    def __init__(self, stale_after_s: float) -> None:
        if not stale_after_s > 0:
            raise ValueError(f"stale_after_s must be > 0 (got {stale_after_s})")
        self.stale_after_s = stale_after_s
        self._last: datetime | None = None

    def quote(self, when: datetime) -> None:
        if self._last is None or when > self._last:
            self._last = when

    reset = quote

    def silence_s(self, now: datetime, session_open: datetime) -> float:
        since = max(self._last, session_open) if self._last is not None else session_open
        return max(0.0, (now - since).total_seconds())

    def is_stale(self, now: datetime, *, market_open: bool, session_open: datetime) -> bool:
        """Whether data is stale now (never while the market is closed)."""
        return market_open and self.silence_s(now, session_open) >= self.stale_after_s


@dataclass(slots=True)
class LinkHealth:
    """The adapter's view of its connection: the socket, TWS's own link to IB (1100 ... 1102)
    and fresh market data. CONNECTED when all three hold; DISCONNECTED when the order channel
    is down (socket or TWS's link); DATA_STALE when only the data is stale (entries freeze,
    exits and stops still go out). ``update`` returns the new state on a change and None
    otherwise."""

    socket_up: bool = False
    ib_link_up: bool = True
    data_fresh: bool = True
    reported: ConnectionState | None = None

    @property
    def can_send(self) -> bool:
        """Orders may be written to the socket (stale data does not block the order channel)."""
        return self.socket_up and self.ib_link_up

    @property
    def state(self) -> ConnectionState:
        if not self.can_send:
            return ConnectionState.DISCONNECTED
        return ConnectionState.CONNECTED if self.data_fresh else ConnectionState.DATA_STALE

    def update(self) -> ConnectionState | None:
        state = self.state
        if state is self.reported:
            return None
        first = self.reported is None
        self.reported = state
        # The first report after start is not news when it is CONNECTED.
        return None if first and state is ConnectionState.CONNECTED else state
