"""``Retired``: forget what has stayed ended for a whole period (pure: no I/O, no thread; each
owner calls it from its own thread). ``broker/ib/retention.py`` says which period and why."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = ["Retired"]

K = TypeVar("K")


class Retired(Generic[K]):
    """Keys that had ended at the previous roll and still have: those are forgotten now.

    ``roll(ended)`` takes every key that is ended now and returns the ones to forget (ended at
    the previous roll too); the rest are remembered until the next roll. A key that comes back
    to life in between (not in ``ended``) is simply not forgotten."""

    __slots__ = ("_marked",)

    def __init__(self) -> None:
        self._marked: set[K] = set()

    def roll(self, ended: Iterable[K]) -> set[K]:
        now_ended = set(ended)
        forget = self._marked & now_ended
        self._marked = now_ended - forget
        return forget

    def __len__(self) -> int:
        return len(self._marked)
