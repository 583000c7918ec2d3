"""Queries: messages that are asked (at the edges: tests, the TUI's workers, the engine), and
the answers that are not snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
class HandledStats:
    """The messages of one type an actor handled: how many since it started, the median, 99th
    percentile and longest handling time (ms) of the latest ones, and the engine time of the
    last (None: the actor has no clock)."""

    name: str
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    last: datetime | None = None


@dataclass(frozen=True, slots=True)
class VAInspection:
    snapshot: VASnapshot
    config: tuple[tuple[str, str], ...]  # flattened account config
    holdings: tuple[tuple[str, int, Decimal, Decimal | None], ...]  # contract, qty, avg, mark
    working_orders: tuple[str, ...]
    crashes: int
    margin_checks: tuple[str, ...] = ()  # the last what-if margins beside our Reg-T, newest first
    # Per holding: contract, the mark's age in clock seconds (None: no quote), stale (older
    # than exits.stale_mark_s while the market is open), delayed data.
    mark_ages: tuple[tuple[str, float | None, bool, bool], ...] = ()
    # The messages handled, by type (most handled first); times in engine time.
    handled_stats: tuple[HandledStats, ...] = ()
    # The VA's equity sampled once a minute of engine time, oldest first (the sparkline).
    equity_curve: tuple[float, ...] = ()
    # The last messages (type, wall time, handling ms) that engines before ``handled_stats``
    # sent; no longer filled (one record a message is enough), kept so the wire stays additive.
    handled: tuple[tuple[str, float, float], ...] = ()
