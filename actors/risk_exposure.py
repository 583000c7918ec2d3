"""Exposure and margin arithmetic of the RiskGovernor: what positions and pending entries
put at stake per sector, and the margin they use (stocks at the maintenance percentages,
short options by Reg-T at the underlying's latest mid).

Mixed into the RiskGovernor; runs on its actor thread. Reads the shared QuoteBook for
underlying prices (read-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from actors.messages.commands import OrderProposal
from actors.runtime.context import EngineContext
from core.domain import Contract
from core.rules.margin import assignment_value, option_position_margin, short_option_margin

__all__ = ["Exposure", "ExposureMixin", "exposure_notional"]

ZERO = Decimal(0)


@dataclass(slots=True)
class Exposure:
    quantity: int
    notional: Decimal  # market value at cost; an option's assignment value
    sector: str
    contract: Contract | None = None
    avg_price: Decimal = ZERO


def exposure_notional(contract: Contract, quantity: int, avg_price: Decimal) -> Decimal:
    """A position's exposure for concentration: its value at cost, or for an option its
    assignment value."""
    if contract.is_option:
        return assignment_value(contract, quantity)
    return abs(avg_price * quantity * contract.multiplier)


class ExposureMixin:
    ctx: EngineContext
    maint_margin: Decimal
    exposures: dict[tuple[str, str], Exposure]
    pending_entries: dict[str, OrderProposal]

    def _used_margin(self) -> Decimal:
        """Margin in use: the broker's figure, or our own positions at cost when the broker
        has not yet reported a fill, plus what pending entries will use."""
        return max(self.maint_margin, self._position_margin()) + self._pending_margin()

    def _notional(self, proposal: OrderProposal) -> Decimal:
        """What an entry puts at stake: its market value, or an option's assignment value
        (strike x 100 x contracts), which is what sector concentration counts."""
        contract = proposal.contract
        if contract.is_option:
            return assignment_value(contract, proposal.quantity)
        return proposal.ref_price * proposal.quantity * contract.multiplier

    def _order_margin(self, proposal: OrderProposal) -> Decimal:
        contract = proposal.contract
        if contract.is_option:
            if proposal.side.sign > 0 or contract.strike is None or contract.right is None:
                return ZERO  # a long option is paid in full
            return short_option_margin(
                right=contract.right,
                underlying=self._spot(contract),
                strike=contract.strike,
                premium=proposal.ref_price,
                contracts=proposal.quantity,
                multiplier=contract.multiplier,
            )
        sim = self.ctx.config.sim
        pct = sim.maint_margin_long_pct if proposal.side.sign > 0 else sim.maint_margin_short_pct
        return self._notional(proposal) * Decimal(str(pct)) / 100

    def _position_margin(self) -> Decimal:
        """Maintenance margin of the positions known from fills (stocks at cost; short options
        by Reg-T at the underlying's latest mid). The broker's figure shows a fill only from
        its next account update; until then this one covers it."""
        sim = self.ctx.config.sim
        total = ZERO
        for e in self.exposures.values():
            if e.contract is not None and e.contract.is_option:
                total += option_position_margin(
                    e.contract, e.quantity, underlying=self._spot(e.contract), premium=e.avg_price
                )
                continue
            pct = sim.maint_margin_long_pct if e.quantity > 0 else sim.maint_margin_short_pct
            total += e.notional * Decimal(str(pct)) / 100
        return total

    def _spot(self, contract: Contract) -> Decimal:
        """The underlying's latest mid (the strike if there is no quote yet)."""
        quote = self.ctx.quotes.latest(contract.symbol)
        if quote is None:
            return contract.strike or ZERO
        return (Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2

    def _pending_margin(self) -> Decimal:
        return sum((self._order_margin(p) for p in self.pending_entries.values()), ZERO)

    def _sector_exposure(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for exposure in self.exposures.values():
            out[exposure.sector] = out.get(exposure.sector, ZERO) + exposure.notional
        for pending in self.pending_entries.values():
            out[pending.sector] = out.get(pending.sector, ZERO) + self._notional(pending)
        return out
