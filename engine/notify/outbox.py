"""Folding and rate limiting (pure: no threads, no I/O): notices wait in an ``Outbox``; repeats
(the same ``key``) become one line with a count, and at most one message leaves every
``min_interval_s`` wall seconds, carrying every line that waited. A storm of events thus costs
the phone one message per interval, never one per event.

Run by the notifier's worker thread only (``engine.notify.notifier``); not thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.notify.notices import Notice

__all__ = ["Message", "Outbox"]

#: Lines one message lists at most; more are counted ("+N more").
MAX_LINES = 30


@dataclass(frozen=True, slots=True)
class Message:
    """What is sent: a title and a body of one line per notice (repeats folded)."""

    title: str
    body: str
    kinds: tuple[str, ...]


@dataclass(slots=True)
class _Folded:
    latest: Notice
    count: int


class Outbox:
    """Notices waiting to be sent (see the module doc). ``name``: the engine's instance, in
    every title."""

    def __init__(self, *, name: str, min_interval_s: float) -> None:
        self._name = name
        self._min_interval_s = min_interval_s
        self._waiting: dict[str, _Folded] = {}  # by key, in order of first arrival
        self._last_sent_s: float | None = None
        self._dropped = 0
        self.folded = 0  # repeats folded into an earlier line, over the run

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, notice: Notice) -> None:
        waiting = self._waiting.get(notice.key)
        if waiting is None:
            self._waiting[notice.key] = _Folded(notice, 1)
        else:
            waiting.latest = notice
            waiting.count += 1
            self.folded += 1

    def lost(self, count: int) -> None:
        """``count`` notices never reached the outbox (the intake queue was full): the next
        message says so."""
        self._dropped += count

    def due(self, now_s: float) -> Message | None:
        """The message to send at wall time ``now_s`` (monotonic seconds), if anything waits
        and the last one left at least ``min_interval_s`` ago."""
        if not self._waiting and not self._dropped:
            return None
        last = self._last_sent_s
        if last is not None and now_s - last < self._min_interval_s:
            return None
        self._last_sent_s = now_s
        return self.take()

    def take(self) -> Message | None:
        """Everything waiting as one message now, whatever the interval (None: nothing)."""
        if not self._waiting and not self._dropped:
            return None
        folded = list(self._waiting.values())
        self._waiting = {}
        lines = [_line(item) for item in folded[:MAX_LINES]]
        if len(folded) > MAX_LINES:
            lines.append(f"(+{len(folded) - MAX_LINES} more not shown)")
        if self._dropped:
            lines.append(f"({self._dropped} older notice(s) dropped: the queue was full)")
            self._dropped = 0
        kinds = tuple(dict.fromkeys(item.latest.kind for item in folded))
        if len(folded) == 1 and folded[0].count == 1:
            title = f"engine {self._name}: {folded[0].latest.kind}"
        else:
            total = sum(item.count for item in folded)
            title = f"engine {self._name}: {total} notices ({', '.join(kinds) or 'dropped'})"
        return Message(title, "\n".join(lines), kinds)


def _line(item: _Folded) -> str:
    if item.count == 1:
        return item.latest.text
    return f"{item.latest.text} (x{item.count}, repeats folded)"
