"""The periodic position comparison between the reconciliation passes (``PositionCheck``, a
part of the OrderManager: runs on its actor thread; its reads are steps of a reconcile tick's
job, made on a worker thread, ``read_steps.py``).

Between passes, positions are compared again every ``POSITION_CHECK_S`` clock seconds (at a
reconcile tick, while no pass is open), by the same rules: only consistent reads count, and a
difference is reported (a ``periodic`` ``reconciled`` notice: the governor halts per
``engine.on_mismatch``) only when the next check finds the same contracts differing. Without
it, a position the ledger missed while connected (an assignment it did not book) stayed unseen
until the next restart or reconnect. The spacing is also at least ``SETTLE_WALL_S`` wall seconds
(``SETTLE_WALL_S`` times a virtual clock's speed on the clock), so an option settlement IB reports
as position changes is booked before a second check could see it: the IB adapter waits 2 wall
seconds for the changes' counterparts (``broker/ib/parsing/settlement.py``), 600 clock seconds at
the validation run's 300x.

Reads and rules are the passes' (``broker_reads.py``, ``core/rules/reconcile.py``).
"""

from __future__ import annotations

import json
from datetime import datetime

from loguru import logger

from actors.messages.events import RiskNotice
from actors.order_manager.broker_reads import BrokerReads
from actors.order_manager.proofs import CHECK_HINT
from actors.order_manager.read_steps import Steps
from actors.order_manager.reconcile import Reconciliation
from actors.order_manager.state import OrderBook
from actors.runtime.context import EngineContext
from core.rules.reconcile import PositionRead, Verdict, judge_positions
from core.rules.reconcile_text import reconciled_reason

__all__ = ["POSITION_CHECK_S", "SETTLE_WALL_S", "PositionCheck", "check_spacing_s"]

#: Clock seconds between the periodic position checks outside the passes (at least).
POSITION_CHECK_S = 300.0
#: Wall seconds between two checks, at least: more than the IB adapter's settlement grace.
SETTLE_WALL_S = 5.0


class PositionCheck:
    """Compares positions every ``POSITION_CHECK_S`` while no pass is open."""

    def __init__(
        self, ctx: EngineContext, state: OrderBook, *, reconcile: Reconciliation, reads: BrokerReads
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.reconcile = reconcile
        self.reads = reads
        # When the check last looked, its last consistent read with differences, and the
        # differences it reported (each set once).
        self._checked_at: datetime | None = None
        self._checked: PositionRead | None = None
        self._check_reported: tuple[str, ...] = ()

    def check_positions(self, now: datetime) -> Steps[None]:
        """The periodic position comparison (at a reconcile tick sent at ``now``), every
        ``POSITION_CHECK_S`` on the clock while no pass is open (a pass compares them itself):
        a difference seen on consistent reads at two checks in a row is reported once."""
        clock_now = self.ctx.clock.now()
        if self.reconcile.open_pass is not None or self.state.awaiting_second_look:
            self._checked_at, self._checked = clock_now, None
            return
        if self._checked_at is None:
            self._checked_at = clock_now
            return
        if (clock_now - self._checked_at).total_seconds() < check_spacing_s(self.ctx.clock):
            return
        self._checked_at = clock_now
        yield from self.reads.read_executions()
        read = yield from self.reads.read_positions()
        if not read.consistent:
            return  # the market kept filling: this check does not count
        if not read.differences:
            self._checked, self._check_reported = None, ()
            return
        verdict = judge_positions(read, self._checked)
        self._checked = read
        if verdict is not Verdict.DIFFER or read.differences == self._check_reported:
            logger.info(
                "order manager: periodic position check: {}; checking again",
                "; ".join(read.differences),
            )
            return
        self._check_reported = read.differences
        differences = list(read.differences)
        self.ctx.book.tell(
            "governor",
            RiskNotice(
                "reconciled",
                reconciled_reason("periodic", differences),
                now,
                json.dumps(
                    {
                        "pass": "periodic",
                        "mismatch": True,
                        "verdict": verdict.value,
                        "looks": 2,
                        "differences": differences,
                        "check": CHECK_HINT,
                        "summary": "; ".join(differences),
                    }
                ),
            ),
        )


def check_spacing_s(clock: object) -> float:
    """Clock seconds between two checks: ``POSITION_CHECK_S``, or ``SETTLE_WALL_S`` wall
    seconds on a faster virtual clock (its ``speed``; a max-speed clock is advanced by its
    driver and has none)."""
    speed = getattr(clock, "speed", None)
    if not isinstance(speed, int | float):
        return POSITION_CHECK_S
    return max(POSITION_CHECK_S, SETTLE_WALL_S * float(speed))
