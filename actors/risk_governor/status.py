"""The RiskGovernor's ``RiskStatus``: the frozen view the header, the inspector and tests read,
built from the governor's shared state and published on the bus after every change. A part of
the governor, run on its actor thread (the status it builds is frozen)."""

from __future__ import annotations

from decimal import Decimal

from actors.messages.snapshots import RiskStatus
from actors.risk_governor.exposure import ExposureBook
from actors.risk_governor.greek_book import GreekBook
from actors.risk_governor.state import DayFigures, GovernorSettings, TradingStatus
from actors.runtime.base import Bus
from actors.runtime.context import LockedPacer
from core.clock import Clock
from core.rules import risk_rules as rr
from core.rules.greek_limits import greek_use

__all__ = ["RiskStatusPublisher"]

ZERO = Decimal(0)


class RiskStatusPublisher:
    def __init__(
        self,
        *,
        settings: GovernorSettings,
        status: TradingStatus,
        day: DayFigures,
        exposures: ExposureBook,
        pacer: LockedPacer,
        clock: Clock,
        bus: Bus,
        greeks: GreekBook | None = None,
    ) -> None:
        self._settings = settings
        self._status = status
        self._day = day
        self._exposures = exposures
        self._pacer = pacer
        self._clock = clock
        self._bus = bus
        self._greeks = greeks

    def status(self) -> RiskStatus:
        now = self._clock.now()
        risk, day, status = self._settings.risk, self._day, self._status
        open_positions = len(self._exposures.held_keys())
        margin_pct = (day.maint_margin / day.net_liq * 100) if day.net_liq > 0 else ZERO
        account = day.account
        return RiskStatus(
            state=status.state,
            reason=status.reason,
            day_pnl=day.judged_pnl().value,
            daily_loss_limit=rr.daily_loss_limit(day.day_start_net_liq, risk.daily_loss_limit_pct),
            limits=(
                ("trades", f"{day.trades_today}/{risk.max_trades_per_day}"),
                ("positions", f"{open_positions}/{risk.max_concurrent_positions}"),
                ("margin", f"{margin_pct:.1f}%/{risk.max_margin_utilization_pct:.0f}%"),
                ("pacing", f"{self._pacer.used(now.timestamp())}/{self._pacer.max_per_s}"),
                ("sector", self._sector_use(day.net_liq, risk.max_sector_concentration_pct)),
            ),
            time=now,
            connected=status.connected,
            data_stale=status.data_stale,
            differences=status.differences,
            account_day_pnl=day.broker_pnl,
            data_delayed=status.data_delayed,
            logged_out=status.logged_out,
            account_id=account.account if account is not None else "",
            net_liquidation=account.net_liquidation if account is not None else None,
            cash=account.cash if account is not None else None,
            buying_power=account.buying_power if account is not None else None,
            excess_liquidity=account.excess_liquidity if account is not None else None,
            maint_margin=account.maint_margin if account is not None else None,
            greek_limits=self._greek_use(),
        )

    def _greek_use(self) -> tuple[tuple[str, str], ...]:
        """Each configured greek limit's use (nothing computed when none is set)."""
        if self._greeks is None:
            return ()
        limits = self._greeks.limits()
        return greek_use(self._greeks.net(), limits) if limits.enabled else ()

    def _sector_use(self, net_liq: Decimal, max_pct: float) -> str:
        """``tech 34%/40%``: the most concentrated sector's share of the positions and
        pending entries (as the sector rule measures it), against the limit."""
        exposure = self._exposures.sector_exposure()
        shares = {
            sector: rr.sector_concentration_pct(exposure, sector, ZERO, net_liq)
            for sector in exposure
        }
        known = {sector: pct for sector, pct in shares.items() if pct is not None}
        if not known:
            return f"0%/{max_pct:.0f}%"
        sector = max(known, key=lambda name: known[name])
        return f"{sector} {known[sector]:.0f}%/{max_pct:.0f}%"

    def publish(self) -> None:
        self._bus.publish(self.status())
