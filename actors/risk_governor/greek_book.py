"""The portfolio's net greeks as the greek limits judge them (``core.rules.greek_limits``): the
positions the governor knows from fills plus the entries it approved that are not done yet,
and one entry's own figures.

A position's greeks come from its contract's latest quote in the shared QuoteBook (the
PositionMonitor keeps held options subscribed), its delta in dollars at the underlying's
latest mid (``core.rules.greeks.position_risk``); an option without a quote yet counts 0. An
entry's come from its proposal (the VA's decision quote: ``delta``, ``theta``, ``vega`` per
share), else from its contract's latest quote. A pending entry counts in full until it is done
(one filling in parts is counted as held and pending: on the safe side, as its margin is).
Delta is beta-weighted to SPY when ``[risk] beta_weighted`` is set.

``GreekBook`` is a part of the RiskGovernor, run on its actor thread; it reads the QuoteBook
(read-only) and the governor's settings.
"""

from __future__ import annotations

from decimal import Decimal

from actors.messages.commands import OrderProposal
from actors.quote_book import QuoteBook
from actors.risk_governor.exposure import ExposureBook
from actors.risk_governor.state import GovernorSettings
from core.rules.greek_limits import GreekLimits, NetGreeks, beta_of
from core.rules.greeks import position_risk

__all__ = ["GreekBook"]


class GreekBook:
    def __init__(
        self, *, exposures: ExposureBook, quotes: QuoteBook, settings: GovernorSettings
    ) -> None:
        self._exposures = exposures
        self._quotes = quotes
        self._settings = settings

    def limits(self) -> GreekLimits:
        """The limits as configured now (a config reload replaces them)."""
        risk = self._settings.risk
        return GreekLimits(  # 0 in the config: that limit is off
            max_net_delta_dollars=risk.max_net_delta_dollars or None,
            max_net_theta_per_day=risk.max_net_theta_per_day or None,
            max_net_vega=risk.max_net_vega or None,
            beta_weighted=risk.beta_weighted,
        )

    def net(self) -> NetGreeks:
        """The positions' and pending entries' net greeks."""
        total = NetGreeks()
        sim = self._settings.sim
        for exposure in self._exposures.positions.values():
            contract = exposure.contract
            if contract is None or not exposure.quantity:
                continue
            underlying = self._underlying_mid(contract.symbol)
            if underlying is None and not contract.is_option:
                underlying = exposure.avg_price
            risk = position_risk(
                contract,
                exposure.quantity * (1 if contract.is_option else contract.multiplier),
                quote=self._quotes.latest(contract.key) if contract.is_option else None,
                underlying=underlying,
                long_margin_pct=sim.maint_margin_long_pct,
                short_margin_pct=sim.maint_margin_short_pct,
            )
            total = total.plus(
                self._weighted(
                    contract.symbol, NetGreeks(risk.delta_dollars, risk.theta_per_day, risk.vega)
                )
            )
        for pending in self._exposures.pending.values():
            total = total.plus(self.entry(pending))
        return total

    def entry(self, proposal: OrderProposal) -> NetGreeks:
        """One entry's own signed figures (a SELL counts negative quantity)."""
        contract = proposal.contract
        size = proposal.side.sign * proposal.quantity * contract.multiplier
        if not contract.is_option:
            return self._weighted(contract.symbol, NetGreeks(float(proposal.ref_price) * size))
        quote = self._quotes.latest(contract.key)
        delta = proposal.delta if proposal.delta is not None else (quote and quote.delta)
        theta = proposal.theta if proposal.theta is not None else (quote and quote.theta)
        vega = proposal.vega if proposal.vega is not None else (quote and quote.vega)
        underlying = self._underlying_mid(contract.symbol) or contract.strike or Decimal(0)
        return self._weighted(
            contract.symbol,
            NetGreeks(
                (delta or 0.0) * size * float(underlying),
                (theta or 0.0) * size,
                (vega or 0.0) * size,
            ),
        )

    def _weighted(self, symbol: str, greeks: NetGreeks) -> NetGreeks:
        """Delta dollars times the symbol's beta to SPY, when beta-weighted."""
        risk = self._settings.risk
        if not risk.beta_weighted:
            return greeks
        beta = beta_of(symbol, risk.betas)
        return NetGreeks(greeks.delta_dollars * beta, greeks.theta_per_day, greeks.vega)

    def _underlying_mid(self, symbol: str) -> Decimal | None:
        quote = self._quotes.latest(symbol)
        if quote is None:
            return None
        return (Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2
