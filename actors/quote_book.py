"""The QuoteBook: the latest quote per contract, and coalesced notification of subscribers.

Written by the broker's thread (``update``), read by any actor (``latest``, ``take`` on the
subscriber's own thread; ``subscribe`` and ``unsubscribe`` from any thread). A subscriber
gets at most one ``QuotesReady`` in its mailbox at a time: updates that arrive before it has
taken its pending set only add contract keys to that set. So a burst of ticks costs each
subscriber one message, and a slow subscriber reads the newest quote, never a backlog.

The delivery tick (``min_interval_s`` > 0): a subscriber is also woken at most once per
interval of wall time. The first quote after a quiet interval wakes it at once; quotes that
arrive sooner wait in its pending set, and the ``quote-delivery`` thread wakes it at its next
slot: each subscriber has its own phase within the interval (spread evenly over the
subscribers in the order they are first seen), and its held wake-ups fall on the slots of that
phase, the first at least an interval after its last wake-up. Without the phases every
subscriber woken by the same first quotes stays on the same grid, and each tick wakes them all
in the same instant: 100 VA handlers queued for the GIL, and a signal's hop behind them. A
stream of ticks (5,000 quotes/s) then costs each subscriber at most 1/interval wake-ups a
second, and a quote is seen at most one interval late in a steady stream (two, once, right
after a wake-up off its slots), as the latest of its contract (what every subscriber reads
anyway). The engine sets it from ``[engine] quote_delivery_ms`` divided by the clock's speed,
and 0 (every quote wakes at once) when the clock is stepped (``--speed max``), where each step
is one batch already.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from actors.messages.events import QuotesReady
from actors.runtime.base import AddressBook
from core.domain import Quote

__all__ = ["QuoteBook"]

#: The one wake-up every subscriber is told (it carries nothing: ``take`` reads the quotes).
_QUOTES_READY = QuotesReady()
#: Phases of successive subscribers step by the golden ratio's fraction (evenly spread).
_GOLDEN = (math.sqrt(5) - 1) / 2
#: Slots are computed in floating point: a time within this fraction of a slot is on it.
_SLOT_EPSILON = 1e-6


class QuoteBook:
    """The latest quote per contract key and who is woken when one changes. Thread-safe: the
    subscriptions and pending sets are behind one lock; the latest quotes are a dict written
    only by the broker's thread."""

    def __init__(
        self,
        book: AddressBook,
        *,
        min_interval_s: float = 0.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._book = book
        self._latest: dict[str, Quote] = {}
        self._subscribers_by_key: dict[str, set[str]] = defaultdict(
            set
        )  # contract key -> subscriber names
        self._pending_keys: dict[str, set[str]] = {}  # subscriber name -> contract keys
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._now = now
        self._min_interval_s = min_interval_s
        self._told_at: dict[str, float] = {}  # subscriber -> its last wake-up (``now``)
        self._due: dict[str, float] = {}  # subscriber -> when its held wake-up is due
        self._phase: dict[str, float] = {}  # subscriber -> its slots' phase, a fraction of one
        self._closed = False
        self._thread: threading.Thread | None = None
        self.updates = 0

    @property
    def min_interval_s(self) -> float:
        return self._min_interval_s

    def set_min_interval(self, seconds: float) -> None:
        """The delivery tick (0: off). Any thread; wake-ups held so far go out at once when it
        is turned off. ``start`` runs the thread that sends the held ones."""
        if seconds < 0:
            raise ValueError(f"min_interval_s must be >= 0 (got {seconds})")
        with self._lock:
            self._min_interval_s = seconds
            if seconds == 0:
                for name in self._due:
                    self._due[name] = 0.0
            self._wake.notify()

    def start(self) -> None:
        """Start the ``quote-delivery`` thread (held wake-ups go out on it)."""
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._deliver, name="quote-delivery", daemon=True
            )
        self._thread.start()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the delivery thread (bounded); held wake-ups are dropped with it."""
        with self._lock:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def latest(self, contract_key: str) -> Quote | None:
        """The contract's latest quote (None before its first); any thread."""
        return self._latest.get(contract_key)

    def subscribe(self, subscriber: str, contract_key: str) -> None:
        with self._lock:
            self._subscribers_by_key[contract_key].add(subscriber)

    def unsubscribe(self, subscriber: str, contract_key: str) -> None:
        with self._lock:
            self._subscribers_by_key[contract_key].discard(subscriber)

    def subscribed_keys(self) -> set[str]:
        with self._lock:
            return {key for key, subs in self._subscribers_by_key.items() if subs}

    def update(self, quote: Quote) -> None:
        """Store ``quote`` and notify its subscribers (broker thread; never blocks)."""
        key = quote.contract.key
        self._latest[key] = quote
        self.updates += 1
        to_notify: list[str] = []
        with self._lock:
            interval = self._min_interval_s
            now = self._now() if interval > 0 else 0.0
            held = False
            for name in self._subscribers_by_key.get(key, ()):
                pending = self._pending_keys.get(name)
                if pending is not None:
                    pending.add(key)
                    continue
                self._pending_keys[name] = {key}
                told = self._told_at.get(name)
                if interval <= 0 or told is None or now - told >= interval:
                    if interval > 0:
                        self._told_at[name] = now
                    to_notify.append(name)
                else:
                    self._due[name] = self._slot(name, told + interval, interval)
                    held = True
            if held:
                self._wake.notify()
        self._tell(to_notify)

    def deliver_due(self) -> float | None:
        """Wake every subscriber whose held wake-up is due now (the delivery thread; tests call
        it with their own ``now``); the next one's due time, or None when none is held."""
        with self._lock:
            ready, soonest = self._pop_due(self._now())
        self._tell(ready)
        return soonest

    def _slot(self, name: str, earliest: float, interval: float) -> float:
        """Under the lock: the first slot of ``name``'s phase at or after ``earliest``."""
        phase = self._phase.get(name)
        if phase is None:  # the golden ratio's steps spread any number of phases evenly
            phase = self._phase[name] = (len(self._phase) * _GOLDEN) % 1.0
        return (math.ceil(earliest / interval - phase - _SLOT_EPSILON) + phase) * interval

    def _pop_due(self, now: float) -> tuple[list[str], float | None]:
        """Under the lock: the subscribers due at ``now`` (marked told at their slot, so a late
        delivery does not push the next slot back) and the next due."""
        ready = [name for name, due in self._due.items() if due <= now]
        for name in ready:
            self._told_at[name] = self._due.pop(name)
        return ready, min(self._due.values(), default=None)

    def _deliver(self) -> None:
        with self._lock:
            while not self._closed:
                ready, soonest = self._pop_due(self._now())
                if ready:
                    self._lock.release()
                    try:
                        self._tell(ready)
                    finally:
                        self._lock.acquire()
                    continue
                self._wake.wait(None if soonest is None else max(0.0, soonest - self._now()))

    def _tell(self, names: list[str]) -> None:
        for name in names:
            if not self._book.tell(name, _QUOTES_READY):
                # Nothing reached a mailbox: without this the subscriber (or the actor that
                # replaces it at the same address) would never be told again.
                with self._lock:
                    self._pending_keys.pop(name, None)

    def take(self, subscriber: str) -> list[Quote]:
        """The latest quote of every contract updated since the subscriber's last ``take``."""
        with self._lock:
            keys = self._pending_keys.pop(subscriber, None)
        if not keys:
            return []
        return [self._latest[key] for key in sorted(keys)]
