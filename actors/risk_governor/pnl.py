"""The RiskGovernor's trading day and daily-loss breaker: the day's counters roll at the
trading day's change, the account's figures and the broker's daily P&L come in, and the
breaker trips once a day when the judged day P&L reaches the limit (``core.rules.
daily_loss``): REDUCING with entries cancelled, or a flatten (``risk.on_daily_loss``).

A part of the governor, run on its actor thread.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from loguru import logger

from actors.messages.commands import CancelEntries, Flatten
from actors.messages.events import AccountUpdate
from actors.risk_governor.records import RiskEventWriter
from actors.risk_governor.state import DayFigures, GovernorSettings, TradingStatus
from actors.risk_governor.status import RiskStatusPublisher
from actors.risk_governor.trading_state import TradingStateKeeper
from actors.runtime.base import AddressBook
from core.calendar import TradingCalendar
from core.domain import TradingState
from core.events import AccountPnL
from core.rules.daily_loss import daily_loss_latch_released, daily_loss_trip_reason
from db.ledger import Ledger

__all__ = ["DailyLossBreaker"]

ZERO = Decimal(0)
DAY_START_KIND = "day_start"


class DailyLossBreaker:
    def __init__(
        self,
        *,
        day: DayFigures,
        status: TradingStatus,
        settings: GovernorSettings,
        keeper: TradingStateKeeper,
        events: RiskEventWriter,
        publisher: RiskStatusPublisher,
        calendar: TradingCalendar,
        book: AddressBook,
    ) -> None:
        self._day = day
        self._status = status
        self._settings = settings
        self._keeper = keeper
        self._events = events
        self._publisher = publisher
        self._calendar = calendar
        self._book = book

    def account_updated(self, update: AccountUpdate) -> None:
        """The broker's account values (about every three minutes at IB)."""
        self.roll_day(update.time)
        day = self._day
        day.net_liq = update.net_liquidation
        day.maint_margin = update.maint_margin
        day.account = update
        if day.day_start_net_liq <= 0:
            self._set_day_start(update.net_liquidation, update.time)
        self.check()
        self._publisher.publish()

    def broker_pnl_updated(self, pnl: AccountPnL) -> None:
        """The broker's daily P&L (IB ``reqPnL``, about once a second): it drives the daily
        loss breaker between the account updates (about every three minutes at IB)."""
        self.roll_day(pnl.time)
        if self._calendar.trading_day(pnl.time) != self._day.trading_day:
            return  # a figure of a day already rolled over
        self._day.broker_pnl = pnl.daily_pnl
        self.check()
        self._publisher.publish()

    def check(self) -> None:
        """Trip the breaker once a day when the judged day P&L (``core.rules.daily_loss``:
        the worse of the broker's daily P&L and the net liquidation change) reaches the limit."""
        day, risk = self._day, self._settings.risk
        reason = daily_loss_trip_reason(
            day.judged_pnl(),
            day_start_net_liquidation=day.day_start_net_liq,
            limit_pct=risk.daily_loss_limit_pct,
            state=self._status.state,
            tripped_today=day.tripped_day == day.trading_day,
        )
        if reason is None:
            return
        day.tripped_day = day.trading_day
        if risk.on_daily_loss == "flatten":
            self._keeper.flatten(Flatten(reason))
        else:
            self._keeper.set_state(TradingState.REDUCING, reason)
            self._book.tell("order_manager", CancelEntries(reason))

    def roll_day(self, now: datetime) -> None:
        """At a new trading day: counters reset, the day's base is the latest net
        liquidation, and a daily-loss REDUCING latch is released."""
        trading_day = self._calendar.trading_day(now)
        day = self._day
        if trading_day == day.trading_day:
            return
        day.trading_day = trading_day
        day.trades_today = 0
        day.day_start_net_liq = ZERO
        day.broker_pnl = None  # the broker's figure counts again once one of the new day comes
        self._events.store("day_reset", f"trading day {trading_day.isoformat()}", now)
        if day.net_liq > 0:
            self._set_day_start(day.net_liq, now)
        if daily_loss_latch_released(self._status.state, self._status.reason):
            self._keeper.set_state(
                TradingState.ACTIVE, "new trading day: daily loss latch released"
            )

    def _set_day_start(self, net_liquidation: Decimal, now: datetime) -> None:
        """The daily loss limit's base; stored so that a restart keeps the day's losses."""
        self._day.day_start_net_liq = net_liquidation
        trading_day = self._day.trading_day
        day = trading_day.isoformat() if trading_day else ""
        self._events.store(
            DAY_START_KIND,
            f"net liquidation {net_liquidation:.2f} at the start of {day}",
            now,
            json.dumps({"day": day, "net_liquidation": str(net_liquidation)}),
        )

    def stored_day_start(self, ledger: Ledger) -> Decimal:
        """Today's base as stored before a restart (zero when none was stored today)."""
        event = ledger.latest_risk_event(DAY_START_KIND)
        if event is None or self._day.trading_day is None:
            return ZERO
        try:
            detail = json.loads(event.detail)
            if detail.get("day") == self._day.trading_day.isoformat():
                return Decimal(detail["net_liquidation"])
        except (ValueError, KeyError, TypeError, ArithmeticError):
            logger.warning("governor: unreadable day_start event {}", event.detail)
        return ZERO
