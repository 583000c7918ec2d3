"""The RiskGovernor's state, shared by its parts: the trading state and what gates it, the
trading day's figures, the settings it reads, and the audit of accepted entries.

Everything here lives on the governor's actor thread (mutable, never sent); ``Acceptance`` is
frozen because the inspector and tests read it from other threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from actors.messages.events import AccountUpdate
from core.config import EngineConfig, RiskSettings, SimSettings
from core.domain import TradingState
from core.rules.daily_loss import DayPnL, judged_day_pnl

__all__ = ["STATE_KIND", "Acceptance", "DayFigures", "GovernorSettings", "TradingStatus"]

#: The ``risk_event`` kind of a trading-state change (read back at start and by a flatten).
STATE_KIND = "state"
ZERO = Decimal(0)


@dataclass(slots=True)
class TradingStatus:
    """The trading state and the broker link's condition (what the gate and the header show)."""

    state: TradingState = TradingState.ACTIVE
    reason: str = "start"
    connected: bool = True
    data_stale: bool = False  # the broker's market data is stale: entries freeze
    data_delayed: bool = False  # the broker's quotes are delayed (shown, recorded)
    logged_out: bool = False  # the broker link keeps failing: re-login needed
    reconciled: bool = False  # no trading before the startup reconciliation
    differences: tuple[str, ...] = ()  # of the last reconciliation that found a mismatch


@dataclass(slots=True)
class DayFigures:
    """The trading day's counters and the account's figures (money in account currency)."""

    trading_day: date | None = None
    trades_today: int = 0
    day_start_net_liq: Decimal = ZERO  # the daily loss limit's base
    net_liq: Decimal = ZERO
    maint_margin: Decimal = ZERO
    broker_pnl: Decimal | None = None  # the broker's daily P&L today (IB reqPnL)
    account: AccountUpdate | None = None  # the broker's latest account values (shown)
    tripped_day: date | None = None  # the day the daily-loss breaker last tripped

    def judged_pnl(self) -> DayPnL:
        """The day P&L the daily-loss breaker judges (``core.rules.daily_loss``)."""
        return judged_day_pnl(
            net_liquidation=self.net_liq,
            day_start_net_liquidation=self.day_start_net_liq,
            broker_pnl=self.broker_pnl,
        )


@dataclass(slots=True)
class GovernorSettings:
    """The config sections the governor reads; replaced on a config reload."""

    risk: RiskSettings
    sim: SimSettings
    on_mismatch: Literal["halt", "trade"]

    @classmethod
    def of(cls, config: EngineConfig) -> GovernorSettings:
        return cls(config.risk, config.sim, config.engine.on_mismatch)

    def reload(self, config: EngineConfig) -> None:
        self.risk, self.sim, self.on_mismatch = config.risk, config.sim, config.engine.on_mismatch


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The numbers one entry was approved on."""

    proposal_id: str
    time: datetime
    state: TradingState
    trades_today: int
    margin_pct: Decimal | None
    sector: str
    sector_pct: Decimal | None
    data_delayed: bool = False  # accepted while the broker's quotes were delayed
