"""The RiskGovernor's writer of the ``risk_event`` table (it is the table's single writer):
every state change, breaker, day reset, connection change and broker notice, each also shown
on the bus as an event. A part of the governor, run on its actor thread."""

from __future__ import annotations

import json
from datetime import datetime

from actors.messages.events import EngineEvent
from actors.risk_governor.state import DayFigures, TradingStatus
from actors.runtime.base import Bus
from core.domain import TradingState
from db.ledger import Ledger
from db.records import RiskEventRecord

__all__ = ["RiskEventWriter"]


class RiskEventWriter:
    def __init__(self, *, ledger: Ledger, bus: Bus, status: TradingStatus, day: DayFigures) -> None:
        self._ledger = ledger
        self._bus = bus
        self._status = status
        self._day = day

    def store(
        self,
        kind: str,
        reason: str,
        when: datetime,
        detail: str = "",
        *,
        state: TradingState | None = None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Store one risk event (``state``: the trading state it is stored with, the current
        one by default; ``detail``: today's trade count by default) and publish it. The bus
        event's ``extra`` holds ``risk_kind`` and ``state``, then ``extra``: structured facts
        (a reconciliation's ``differences`` count, an actor crash's ``crash_count``) that
        readers take instead of parsing ``reason``."""
        self._ledger.insert_risk_event(
            RiskEventRecord(
                time=when,
                kind=kind,
                state=(state or self._status.state).value,
                reason=reason,
                detail=detail or json.dumps({"trades_today": self._day.trades_today}),
            )
        )
        self._bus.publish(
            EngineEvent(
                kind="risk",
                text=f"{kind}: {reason}",
                time=when,
                extra=(
                    ("risk_kind", kind),
                    ("state", (state or self._status.state).value),
                    *extra,
                ),
            )
        )
