"""How long an actor takes over each type of message: counts and percentiles per type, for
the inspector (``HandledStats``), instead of a list of the last messages that one busy type
fills. Used on the actor's own thread; ``stats()`` returns frozen values."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from actors.messages.queries import HandledStats

__all__ = ["HandlingLog", "percentile"]


def percentile(sorted_ms: list[float], pct: float) -> float:
    """The nearest-rank ``pct`` percentile of ``sorted_ms`` (ascending; 0.0 when empty)."""
    if not sorted_ms:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


@dataclass(slots=True)
class _Type:
    count: int = 0
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    last: datetime | None = None


class HandlingLog:
    """Per message type: the count since start, the latest ``samples`` durations, the time of
    the last one.

    Args:
        samples: durations kept per type for the percentiles.
    """

    def __init__(self, *, samples: int = 500) -> None:
        self._samples = samples
        self._types: dict[str, _Type] = {}

    def record(self, name: str, elapsed_ms: float, at: datetime | None) -> None:
        """One message of type ``name`` handled in ``elapsed_ms``, at engine time ``at``."""
        kind = self._types.get(name)
        if kind is None:
            kind = self._types[name] = _Type(durations=deque(maxlen=self._samples))
        kind.count += 1
        kind.durations.append(elapsed_ms)
        kind.last = at

    def stats(self) -> tuple[HandledStats, ...]:
        """Every type handled, the most handled first (then by name)."""
        result = []
        for name, kind in self._types.items():
            ordered = sorted(kind.durations)
            result.append(
                HandledStats(
                    name=name,
                    count=kind.count,
                    p50_ms=percentile(ordered, 50),
                    p99_ms=percentile(ordered, 99),
                    max_ms=ordered[-1] if ordered else 0.0,
                    last=kind.last,
                )
            )
        return tuple(sorted(result, key=lambda s: (-s.count, s.name)))
