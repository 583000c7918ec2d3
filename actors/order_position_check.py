"""The periodic position comparison between the reconciliation passes (the OrderManager's
actor thread).

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

Reads and rules are the passes' (``actors/order_reconcile.py``, ``actors/rules/reconcile.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from loguru import logger

from actors.messages.events import RiskNotice
from actors.order_proofs import CHECK_HINT
from actors.runtime.context import EngineContext
from core.rules.reconcile import PositionRead, Verdict, judge_positions
from core.rules.reconcile_text import reconciled_reason

if TYPE_CHECKING:
    from actors.order_reconcile import _Pass
    from actors.order_state import WorkingOrder

__all__ = ["POSITION_CHECK_S", "SETTLE_WALL_S", "PositionCheckMixin"]

#: Clock seconds between the periodic position checks outside the passes (at least).
POSITION_CHECK_S = 300.0
#: Wall seconds between two checks, at least: more than the IB adapter's settlement grace.
SETTLE_WALL_S = 5.0


class PositionCheckMixin:
    ctx: EngineContext
    _pass: _Pass | None  # the open reconciliation pass (``ReconcileMixin``)
    _unseen: dict[str, tuple[WorkingOrder, str]]  # orders awaiting their second look

    # Provided by the ReconcileMixin and the OrderManager.
    _take_in: Callable[[], frozenset[str]]
    _read_positions: Callable[[], PositionRead]
    tell: Callable[[str, object], bool]

    def _init_position_check(self) -> None:
        # When the check last looked, its last consistent read with differences, and the
        # differences it reported (each set once).
        self._checked_at: datetime | None = None
        self._checked: PositionRead | None = None
        self._check_reported: tuple[str, ...] = ()

    def _check_positions(self, now: datetime) -> None:
        """The periodic position comparison (at a reconcile tick sent at ``now``), every
        ``POSITION_CHECK_S`` on the clock while no pass is open (a pass compares them itself):
        a difference seen on consistent reads at two checks in a row is reported once."""
        clock_now = self.ctx.clock.now()
        if self._pass is not None or self._unseen:
            self._checked_at, self._checked = clock_now, None
            return
        if self._checked_at is None:
            self._checked_at = clock_now
            return
        if (clock_now - self._checked_at).total_seconds() < self._check_spacing_s():
            return
        self._checked_at = clock_now
        self._take_in()
        read = self._read_positions()
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
        self.tell(
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

    def _check_spacing_s(self) -> float:
        """Clock seconds between two checks: ``POSITION_CHECK_S``, or ``SETTLE_WALL_S`` wall
        seconds on a faster virtual clock (a max-speed clock is advanced by its driver)."""
        speed = getattr(self.ctx.clock, "speed", None)
        if not isinstance(speed, int | float):
            return POSITION_CHECK_S
        return max(POSITION_CHECK_S, SETTLE_WALL_S * float(speed))
