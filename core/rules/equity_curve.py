"""A VA's equity over time, one point per interval of engine time (the latest equity seen in
it), for the inspector's sparkline. Pure; owned by one thread (the VA's)."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from decimal import Decimal

__all__ = ["EquityCurve"]


class EquityCurve:
    """The last ``max_points`` intervals' equity.

    Args:
        interval_s: engine seconds per point (60: one a minute).
        max_points: points kept (390: a trading day of minutes).
    """

    def __init__(self, *, interval_s: int = 60, max_points: int = 390) -> None:
        self.interval_s = interval_s
        self._points: deque[float] = deque(maxlen=max_points)
        self._bucket: int | None = None

    def sample(self, when: datetime, equity: Decimal) -> None:
        """Take the equity at ``when``: a new point in a new interval, else the interval's
        point becomes this latest value."""
        bucket = int(when.timestamp()) // self.interval_s
        if bucket == self._bucket and self._points:
            self._points[-1] = float(equity)
        else:
            self._points.append(float(equity))
            self._bucket = bucket

    @property
    def points(self) -> tuple[float, ...]:
        """The points, oldest first."""
        return tuple(self._points)
