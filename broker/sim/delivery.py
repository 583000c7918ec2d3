"""``EventDelivery``: the simulator's quotes and events handed to its listener in the order
they happened, outside the broker's state lock.

Threads: any. Items are queued under the broker's state lock; ``drain`` delivers them from
whichever thread holds the emit lock, so a listener may call back into the broker without
deadlock, and a ``drain`` from inside a listener callback returns at once (the outer loop
delivers what it queued).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from loguru import logger

from broker.base import BrokerListener
from core.domain import Quote
from core.events import BrokerEvent

__all__ = ["EventDelivery"]


class EventDelivery:
    """Delivers ``pending`` to the listener ``listener_of`` returns (both read under
    ``lock``, the broker's state lock; None: nothing is delivered yet)."""

    def __init__(
        self,
        lock: threading.Lock,
        pending: deque[Quote | BrokerEvent],
        listener_of: Callable[[], BrokerListener | None],
    ) -> None:
        self._lock = lock
        self._pending = pending
        self._listener_of = listener_of
        self._emit_lock = threading.Lock()
        self._local = threading.local()

    def drain(self) -> None:
        """Deliver queued quotes and events in order, outside the state lock. A call from inside
        a listener callback returns at once: the outer loop delivers what it queued."""
        if getattr(self._local, "draining", False):
            return
        with self._emit_lock:
            self._local.draining = True
            try:
                while True:
                    with self._lock:
                        listener = self._listener_of()
                        if listener is None or not self._pending:
                            return
                        item = self._pending.popleft()
                    try:
                        if isinstance(item, Quote):
                            listener.on_quote(item)
                        else:
                            listener.on_broker_event(item)
                    except Exception:
                        logger.exception("sim: listener raised on {}", type(item).__name__)
            finally:
                self._local.draining = False
