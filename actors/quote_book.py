"""The QuoteBook: the latest quote per contract, and coalesced notification of subscribers.

Written by the broker's thread (``update``), read by any actor (``latest``, ``take`` on the
subscriber's own thread; ``subscribe`` and ``unsubscribe`` from any thread). A subscriber
gets at most one ``QuotesReady`` in its mailbox at a time: updates that arrive before it has
taken its pending set only add contract keys to that set. So a burst of ticks costs each
subscriber one message, and a slow subscriber reads the newest quote, never a backlog.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from actors.messages.events import QuotesReady
from actors.runtime.base import AddressBook
from core.domain import Quote

__all__ = ["QuoteBook"]

#: The one wake-up every subscriber is told (it carries nothing: ``take`` reads the quotes).
_QUOTES_READY = QuotesReady()


class QuoteBook:
    """The latest quote per contract key and who is woken when one changes. Thread-safe: the
    subscriptions and pending sets are behind one lock; the latest quotes are a dict written
    only by the broker's thread."""

    def __init__(self, book: AddressBook) -> None:
        self._book = book
        self._latest: dict[str, Quote] = {}
        self._subscribers_by_key: dict[str, set[str]] = defaultdict(
            set
        )  # contract key -> subscriber names
        self._pending_keys: dict[str, set[str]] = {}  # subscriber name -> contract keys
        self._lock = threading.Lock()
        self.updates = 0

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
            for name in self._subscribers_by_key.get(key, ()):
                pending = self._pending_keys.get(name)
                if pending is None:
                    self._pending_keys[name] = {key}
                    to_notify.append(name)
                else:
                    pending.add(key)
        for name in to_notify:
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
