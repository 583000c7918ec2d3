"""When a comparison of the ledger's positions with the broker's may count as a mismatch. Pure.

The broker's reads (open orders, executions, positions) are separate requests while the market
moves, so a fill can fall between any two of them. A positions read is *consistent* only when
the broker's executions were the same just before and just after it (nothing filled meanwhile,
so the ledger, which has taken in every one of those executions, describes the same moment). A
difference found on a consistent read is a mismatch only when it is *stable*: seen again at the
next look (a reconcile tick later), so a fill whose position reached the broker's read before
its execution did (still being replayed) never counts; a contract with an order whose fate is
still open (not at the broker, its fills perhaps on their way) is not judged before that order's
second look.

An order difference (an order working here the broker does not list, a broker order the
ledger lacks) is read while the events explaining it may still be on their way; it is reported
only when a tick sent *after* the read that first saw it sees it again (``seen_twice``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "LOOKS",
    "PositionRead",
    "SeenTwice",
    "Verdict",
    "judge_positions",
    "position_differences",
    "seen_twice",
]

#: Looks at the positions before a pass gives up on a stable answer: the pass itself, then
#: one per reconcile tick.
LOOKS = 3


class Verdict(StrEnum):
    AGREE = "agree"  # a consistent read found no difference
    DIFFER = "differ"  # the same contracts differed on consistent reads at two looks in a row
    UNSETTLED = "unsettled"  # no answer yet: look again at the next reconcile tick
    UNCONFIRMED = "unconfirmed"  # out of looks without a stable answer: report, do not halt


@dataclass(frozen=True, slots=True)
class PositionRead:
    """One read of the broker's positions against the ledger's."""

    consistent: bool  # the broker's executions were the same before and after it
    differences: tuple[str, ...] = ()  # "position AAPL: ledger 50, broker 0", by contract key
    contracts: frozenset[str] = frozenset()  # the keys of ``differences``


def position_differences(ours: Mapping[str, int], theirs: Mapping[str, int]) -> PositionRead:
    """The contracts whose signed quantity differs (a missing key is flat), as a read whose
    ``consistent`` flag the caller sets."""
    keys = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k, 0) != theirs.get(k, 0))
    lines = tuple(f"position {k}: ledger {ours.get(k, 0)}, broker {theirs.get(k, 0)}" for k in keys)
    return PositionRead(True, lines, frozenset(keys))


def judge_positions(
    read: PositionRead,
    previous: PositionRead | None,
    *,
    undecided: frozenset[str] = frozenset(),
    final: bool = False,
) -> Verdict:
    """The verdict on this look's ``read``, given the last consistent read of an earlier look
    of the same pass (``previous``; None at the first look), the contracts with an order whose
    fate is still open (``undecided``) and whether this is the pass's last look (``final``)."""
    if read.consistent and not read.differences:
        return Verdict.AGREE
    stable = (
        read.consistent
        and previous is not None
        and previous.consistent
        and read.contracts <= previous.contracts
        and not read.contracts & undecided
    )
    if stable:
        return Verdict.DIFFER
    return Verdict.UNCONFIRMED if final else Verdict.UNSETTLED


@dataclass(frozen=True, slots=True)
class SeenTwice:
    """The order differences of one comparison: when each was first seen, and which of them
    to report now."""

    first_seen: dict[str, datetime]  # every difference of this read, by the read that first saw it
    confirmed: tuple[str, ...]  # seen by an earlier read too, and this tick was sent after it


def seen_twice(
    earlier: Mapping[str, datetime],
    differing: Iterable[str],
    *,
    read_at: datetime,
    tick_sent_at: datetime,
) -> SeenTwice:
    """Judge the order differences (``differing``, order ids in the order to report them) of a
    read made by ``read_at`` at a tick sent at ``tick_sent_at``, given when earlier reads first
    saw a difference (``earlier``, the ``first_seen`` of the last comparison).

    A difference is confirmed when an earlier read saw it and the tick was sent after that
    read: such a tick is queued behind every event the broker had told before the read, so a
    difference it still sees is not an event on its way. Counting ticks is not enough: after a
    stall the ticks sent meanwhile are handled back to back, ahead of the events that came with
    them. A difference this read no longer sees is forgotten."""
    first_seen: dict[str, datetime] = {}
    confirmed: list[str] = []
    for key in differing:
        first = earlier.get(key)
        first_seen[key] = first if first is not None else read_at
        if first is not None and tick_sent_at > first:
            confirmed.append(key)
    return SeenTwice(first_seen, tuple(confirmed))
