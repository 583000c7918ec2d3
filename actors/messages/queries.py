"""Queries: messages that are asked (at the edges: tests, the TUI's workers, the engine), and
the answers that are not snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from actors.messages.snapshots import VASnapshot


class Query:
    """Marker base: a message that is asked (not counted as in flight)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class GetSnapshot(Query):
    """Ask any engine actor for its current snapshot (a frozen value)."""


@dataclass(frozen=True, slots=True)
class GetWorkingOrders(Query):
    """Ask the OrderManager for a snapshot of every working order (the TUI at start)."""


@dataclass(frozen=True, slots=True)
class InspectVA(Query):
    """Ask a VA for its inspection view (the TUI inspector, from a worker thread)."""


@dataclass(frozen=True, slots=True)
class VAInspection:
    snapshot: VASnapshot
    config: tuple[tuple[str, str], ...]  # flattened account config
    holdings: tuple[tuple[str, int, Decimal, Decimal | None], ...]  # contract, qty, avg, mark
    working_orders: tuple[str, ...]
    handled: tuple[tuple[str, float, float], ...]  # message type, wall time, handling ms
    crashes: int
    margin_checks: tuple[str, ...] = ()  # the last what-if margins beside our Reg-T, newest first
    # Per holding: contract, the mark's age in clock seconds (None: no quote), stale (older
    # than exits.stale_mark_s while the market is open), delayed data.
    mark_ages: tuple[tuple[str, float | None, bool, bool], ...] = ()
