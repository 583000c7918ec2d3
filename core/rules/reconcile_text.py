"""How a reconciliation's differences are worded for people (pure): the ``reconciled`` risk
event's reason (the events pane, the log, ``main.py report``), the governor's halt reason, and
the lines a dialog lists.

The ``reconciled`` event's detail is JSON with a ``differences`` list (one line per contract or
order: ``"position AAPL: ledger 50, broker 0"``, ``"order X (stop) is not at the broker"``,
...); these helpers read it back and shorten it where a line must stay a line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ReconciledOutcome",
    "difference_lines",
    "differences_of",
    "first_differences",
    "mismatch_differences",
    "reconciled_outcome",
    "reconciled_reason",
]

#: Differences written into one-line texts (event reasons, the halt reason); the rest are
#: counted ("+2 more") and listed in full by the report and the resume dialog.
SHOWN = 3


def first_differences(differences: Sequence[str], *, shown: int = SHOWN) -> str:
    """``"a; b; c (+2 more)"``: the first ``shown`` differences, the rest counted."""
    text = "; ".join(differences[:shown])
    more = len(differences) - shown
    return f"{text} (+{more} more)" if more > 0 else text


def reconciled_reason(kind: str, differences: Sequence[str], *, shown: int = SHOWN) -> str:
    """The ``reconciled`` event's reason: ``"reconnect reconciliation: 2 difference(s):
    position AAPL: ledger 50, broker 0; order X (stop) is not at the broker"``."""
    head = f"{kind} reconciliation: {len(differences)} difference(s)"
    if not differences:
        return head
    return f"{head}: {first_differences(differences, shown=shown)}"


def differences_of(detail: str) -> tuple[str, ...]:
    """The differences stored in a ``reconciled`` event's JSON detail (none when the detail is
    not such JSON)."""
    try:
        parsed = json.loads(detail)
    except (TypeError, ValueError):
        return ()
    found = parsed.get("differences") if isinstance(parsed, dict) else None
    if not isinstance(found, list):
        return ()
    return tuple(str(line) for line in found)


def mismatch_differences(detail: str) -> tuple[str, ...]:
    """The differences of a ``reconciled`` event that found a mismatch (none when it did not,
    or when the detail is not such JSON)."""
    try:
        parsed = json.loads(detail)
    except (TypeError, ValueError):
        return ()
    if not isinstance(parsed, dict) or not parsed.get("mismatch"):
        return ()
    return differences_of(detail)


def difference_lines(differences: Sequence[str], *, limit: int = 12) -> list[str]:
    """One ``"  - ..."`` line per difference for a dialog, at most ``limit`` (then a count)."""
    lines = [f"  - {line}" for line in differences[:limit]]
    if len(differences) > limit:
        lines.append(f"  ... and {len(differences) - limit} more (main.py report lists all)")
    return lines


@dataclass(frozen=True, slots=True)
class ReconciledOutcome:
    """What the governor does with a ``reconciled`` notice: the differences it shows (none
    without a mismatch) and the reason to halt (None: trade on)."""

    differences: tuple[str, ...]
    halt_reason: str | None


def reconciled_outcome(detail: str, *, on_mismatch: Literal["halt", "trade"]) -> ReconciledOutcome:
    """Judge a ``reconciled`` notice's JSON detail (``mismatch``, ``pass``: startup or
    reconnect, ``check``: what the broker read was, ``differences``). A mismatch halts unless
    ``on_mismatch`` is "trade"; an unreadable detail counts as a startup mismatch. The halt
    reason names the first two differences, positions first."""
    try:
        parsed = json.loads(detail)
        mismatch = bool(parsed.get("mismatch"))
        kind = str(parsed.get("pass") or "startup")
        check = str(parsed.get("check") or "")
    except (ValueError, AttributeError):
        mismatch, kind, check = True, "startup", ""
    differences = differences_of(detail) if mismatch else ()
    if not mismatch or on_mismatch != "halt":
        return ReconciledOutcome(differences, None)
    positions = [d for d in differences if d.startswith("position ")]
    return ReconciledOutcome(
        differences,
        f"{kind} reconciliation: ledger and broker positions differ: "
        f"{first_differences(positions or list(differences), shown=2)}; "
        f"{check + '; ' if check else ''}resume to trade",
    )
