"""The PositionMonitor's ``PositionSnapshot`` of one watched position: its mark (with its time,
and whether it is stale or delayed), unrealized P&L, and its risk figures (delta in dollars,
theta per day, margin; for an option also greeks, days to expiry, P&L as a percent of the
credit and the underlying's mid) and the levels its exit rules fire at (profit target; a short
option's stop and time-exit date). A part of the monitor, run on its actor thread (the
snapshots are frozen).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from actors.messages.snapshots import PositionSnapshot
from actors.position_monitor.exits import TickRules
from actors.position_monitor.marks import MarkAges
from actors.position_monitor.positions import MonitorSettings, WatchedPosition, quote_mid
from actors.quote_book import QuoteBook
from actors.runtime.base import Bus
from core.calendar import TradingCalendar
from core.rules.exits import option_exit_levels, stock_target_price
from core.rules.greeks import PositionRisk, days_to_expiry, position_risk

__all__ = ["PositionSnapshots"]

ZERO = Decimal(0)


class PositionSnapshots:
    def __init__(
        self,
        *,
        settings: MonitorSettings,
        ages: MarkAges,
        quotes: QuoteBook,
        calendar: TradingCalendar,
        ticks: TickRules,
        bus: Bus,
    ) -> None:
        self._settings = settings
        self._ages = ages
        self._quotes = quotes
        self._calendar = calendar
        self._ticks = ticks
        self._bus = bus

    def publish(self, watched: WatchedPosition, now: datetime, *, closed: bool = False) -> None:
        """Publish the position's snapshot (``closed``: it went flat), remembering whether
        its mark was stale on it."""
        watched.stale = self._ages.age(watched, now).stale
        self._bus.publish(self.snapshot(watched, now, closed=closed))

    def snapshot(
        self, watched: WatchedPosition, now: datetime, *, closed: bool = False
    ) -> PositionSnapshot:
        cost = abs(watched.avg_price * watched.quantity * watched.contract.multiplier)
        unrealized = watched.unrealized()
        extra = {} if closed else self._risk_fields(watched, now, unrealized)
        return PositionSnapshot(
            va_id=watched.va_id,
            contract=watched.contract,
            quantity=0 if closed else watched.quantity,
            avg_price=watched.avg_price,
            mark=float(watched.mark) if watched.mark is not None else None,
            unrealized_pnl=ZERO if closed else unrealized,
            unrealized_pct=float(unrealized / cost * 100) if cost and not closed else 0.0,
            stop_price=extra.pop("stop_price", watched.stop_price),
            opened_at=watched.opened_at,
            time=now,
            mark_time=watched.mark_time,
            mark_stale=watched.stale,
            mark_delayed=watched.delayed,
            **extra,
        )

    def risk(self, watched: WatchedPosition) -> PositionRisk:
        """The position's delta in dollars, theta per day and margin, now."""
        sim = self._settings.sim
        underlying = self._quotes.latest(watched.contract.symbol)
        return position_risk(
            watched.contract,
            watched.quantity,
            quote=watched.quote,
            underlying=quote_mid(underlying) if underlying is not None else None,
            long_margin_pct=sim.maint_margin_long_pct,
            short_margin_pct=sim.maint_margin_short_pct,
        )

    def _risk_fields(
        self, watched: WatchedPosition, now: datetime, unrealized: Decimal
    ) -> dict[str, Any]:
        risk = watched.risk = self.risk(watched)
        fields: dict[str, Any] = {
            "delta_dollars": risk.delta_dollars,
            "theta_per_day": risk.theta_per_day,
            "margin": risk.margin,
        }
        contract, quote = watched.contract, watched.quote
        if not contract.is_option or contract.expiry is None:
            if watched.va_id not in self._settings.wheel_vas:  # wheel stock: no target
                fields["target_price"] = stock_target_price(
                    quantity=watched.quantity,
                    avg_price=watched.avg_price,
                    rules=self._settings.stock_rules,
                )
            return fields
        underlying = self._quotes.latest(contract.symbol)
        if underlying is not None:
            fields["underlying_price"] = float(quote_mid(underlying))
        fields["dte"] = days_to_expiry(contract.expiry, self._calendar.local(now).date())
        if quote is not None:
            fields.update(
                delta=quote.delta,
                gamma=quote.gamma,
                theta=quote.theta,
                vega=quote.vega,
                iv=quote.iv,
            )
        if watched.quantity < 0:
            credit = watched.avg_price * -watched.quantity * contract.multiplier
            fields["credit"] = credit
            fields["pnl_pct_of_credit"] = float(unrealized / credit * 100) if credit else None
            if watched.avg_price > 0:
                levels = option_exit_levels(
                    credit=watched.avg_price,
                    expiry=contract.expiry,
                    rules=self._settings.option_rules_for(watched.va_id, contract),
                    tick=self._ticks.tick_rule(contract),
                )
                fields.update(target_price=levels.target, time_exit=levels.time_exit)
                if watched.stop_price is None and levels.stop.is_finite():
                    fields["stop_price"] = levels.stop  # an option's only stop is this rule
        return fields
