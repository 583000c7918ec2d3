"""The GreeksSampler: a bus subscriber that passes the Journal a VA's ``GreeksSnapshot`` often
enough to draw its delta, theta and margin over time, and no more often.

The PositionMonitor publishes a VA's totals after every batch of quotes (about once a
simulated second); the sampler forwards one at most every ``every`` of engine time per VA, and
at once when the number of positions the VA holds changes. The portfolio's totals (``va_id``
None) are not sampled: the report sums nothing from them.

Called on the publishing thread (the PositionMonitor's actor thread); the lock only guards
against a second publisher.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from actors.messages.snapshots import GreeksSnapshot

__all__ = ["GreeksSampler"]


class GreeksSampler:
    def __init__(
        self,
        forward: Callable[[GreeksSnapshot], object],
        *,
        every: timedelta = timedelta(minutes=1),
    ) -> None:
        """``forward`` passes a due snapshot on (the journal: a ``tell`` to itself)."""
        self._forward = forward
        self._every = every
        self._lock = threading.Lock()
        self._last: dict[str, GreeksSnapshot] = {}  # per VA, as last forwarded

    def __call__(self, item: object) -> None:
        """Bus callback: forward ``item`` if it is a VA's snapshot that is due."""
        if not isinstance(item, GreeksSnapshot) or item.va_id is None:
            return
        with self._lock:
            last = self._last.get(item.va_id)
            if (
                last is not None
                and last.positions == item.positions
                and item.time - last.time < self._every
            ):
                return
            self._last[item.va_id] = item
        self._forward(item)
