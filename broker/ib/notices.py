"""The log of IB's error and notice codes: each at the level it deserves, repeats folded
(ib-loop thread).

TWS sends every notice through one ``error`` message, and an ordinary day repeats some of them
hundreds of times (in a 50-minute run: 916 ``202 Order Canceled - reason:OCA group``, 282
``10148 ... cannot be cancelled``). Each code is logged at ``notice_level(code)``
(``broker/ib/errors.py``); within ``window_s`` wall seconds of its first line, further
occurrences of the same code are only counted, and one summary line says how many came (``x12
in 60 s``) when the window ends (at the next notice or the next ``flush``, which the
connection's housekeeping calls). ib_async's own log line for each code is dropped
(``actors/logging_setup.py``): this is the only one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from loguru import logger

from broker.ib.errors import notice_level

__all__ = ["NoticeLog"]


@dataclass(slots=True)
class _Window:
    started_s: float
    level: str
    folded: int = 0
    last: str = ""


class NoticeLog:
    """Logs IB codes with folding. ``now_s`` arguments are monotonic wall seconds."""

    def __init__(self, window_s: float = 60.0) -> None:
        if window_s <= 0:
            raise ValueError(f"notice window_s must be > 0 (got {window_s})")
        self.window_s = window_s
        self._windows: dict[int, _Window] = {}
        self.seen: Counter[int] = Counter()  # every code noted, by code (tests, stats)

    def note(self, code: int, req_id: int, text: str, now_s: float) -> None:
        """One notice: logged now if it opens a window for its code, else counted."""
        self.seen[code] += 1
        window = self._windows.get(code)
        if window is not None and now_s - window.started_s < self.window_s:
            window.folded += 1
            window.last = f"request {req_id}: {text}"
            return
        if window is not None:
            self._summary(code, window)
        level = notice_level(code)
        self._windows[code] = _Window(now_s, level)
        logger.log(level, "ib: notice {} (request {}): {}", code, req_id, text)

    def flush(self, now_s: float) -> None:
        """Say how many of each code were folded in windows that have ended."""
        for code, window in list(self._windows.items()):
            if now_s - window.started_s >= self.window_s:
                self._summary(code, window)
                del self._windows[code]

    def _summary(self, code: int, window: _Window) -> None:
        if window.folded:
            logger.log(
                window.level,
                "ib: notice {} x{} more in {:.0f} s (last: {})",
                code,
                window.folded,
                self.window_s,
                window.last,
            )
