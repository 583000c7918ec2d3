"""What positions and approved-but-unfilled entries put at stake, per sector, and the margin
they use (stocks at the maintenance percentages, short options by Reg-T at the underlying's
latest mid).

``ExposureBook`` is a part of the RiskGovernor, run on its actor thread. It reads the shared
QuoteBook for underlying prices (read-only) and the governor's settings for the maintenance
percentages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from actors.messages.commands import OrderProposal
from actors.messages.events import PositionChanged
from actors.quote_book import QuoteBook
from actors.risk_governor.state import GovernorSettings
from core.domain import Contract
from core.rules.margin import assignment_value, positions_margin, short_option_margin
from db.records import OpenPosition

__all__ = ["Exposure", "ExposureBook", "exposure_notional"]

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


class ExposureBook:
    """The positions per (VA, contract key) and the entries approved but not yet done (by
    proposal id, which is also the entry's order id), and the margin and sector arithmetic
    over them."""

    def __init__(self, *, quotes: QuoteBook, settings: GovernorSettings) -> None:
        self._quotes = quotes
        self._settings = settings
        self.positions: dict[tuple[str, str], Exposure] = {}
        self.pending: dict[str, OrderProposal] = {}

    # -- bookkeeping ----------------------------------------------------------------------------
    def rebuild(
        self, open_positions: Iterable[OpenPosition], sector_of: Callable[[str], str]
    ) -> None:
        """Forget everything and take the ledger's open positions (``sector_of``: a symbol's
        sector); pending entries are forgotten (the ledger counts them as trades)."""
        self.positions.clear()
        for position in open_positions:
            self.positions[(position.va_id, position.contract_key)] = Exposure(
                position.quantity,
                exposure_notional(position.contract, position.quantity, position.avg_price),
                sector_of(position.contract_key.split(" ")[0]),
                position.contract,
                position.avg_price,
            )
        self.pending.clear()

    def position_changed(self, change: PositionChanged) -> None:
        key = (change.va_id, change.contract.key)
        if change.quantity == 0:
            self.positions.pop(key, None)
            return
        notional = exposure_notional(change.contract, change.quantity, change.avg_price)
        self.positions[key] = Exposure(
            change.quantity, notional, change.sector, change.contract, change.avg_price
        )

    def held_keys(self) -> set[tuple[str, str]]:
        return {key for key, exposure in self.positions.items() if exposure.quantity}

    def pending_new_positions(self, held: set[tuple[str, str]]) -> int:
        """Pending entries that will open a position not held yet (one filling in parts is
        already held: counted once)."""
        return sum(1 for p in self.pending.values() if (p.va_id, p.contract.key) not in held)

    # -- arithmetic -----------------------------------------------------------------------------
    def used_margin(self, broker_maint_margin: Decimal) -> Decimal:
        """Margin in use: the broker's figure, or our own positions at cost when the broker
        has not yet reported a fill, plus what pending entries will use."""
        return max(broker_maint_margin, self._position_margin()) + self._pending_margin()

    def notional(self, proposal: OrderProposal) -> Decimal:
        """What an entry puts at stake: its market value, or an option's assignment value
        (strike x 100 x contracts), which is what sector concentration counts; a call written
        on the VA's shares puts nothing more at stake (assigned, it delivers the stock)."""
        contract = proposal.contract
        if contract.is_option:
            if proposal.side.sign < 0:
                naked = proposal.quantity - self._covered_by_stock(proposal)
                return assignment_value(contract, naked)
            return assignment_value(contract, proposal.quantity)
        return proposal.ref_price * proposal.quantity * contract.multiplier

    def order_margin(self, proposal: OrderProposal) -> Decimal:
        """The maintenance margin the order will use (a long option is paid in full)."""
        contract = proposal.contract
        if contract.is_option:
            if proposal.side.sign > 0 or contract.strike is None or contract.right is None:
                return ZERO
            return short_option_margin(
                right=contract.right,
                underlying=self._underlying_mid(contract),
                strike=contract.strike,
                premium=proposal.ref_price,
                contracts=proposal.quantity - self._covered_by_stock(proposal),
                multiplier=contract.multiplier,
            )
        sim = self._settings.sim
        pct = sim.maint_margin_long_pct if proposal.side.sign > 0 else sim.maint_margin_short_pct
        return self.notional(proposal) * Decimal(str(pct)) / 100

    def sector_exposure(self) -> dict[str, Decimal]:
        """Notional per sector, of the positions and the pending entries."""
        out: dict[str, Decimal] = {}
        covered = self._covered_calls_held()
        for key, exposure in self.positions.items():
            notional = exposure.notional
            if key in covered and exposure.contract is not None:
                notional -= assignment_value(exposure.contract, covered[key])
            out[exposure.sector] = out.get(exposure.sector, ZERO) + notional
        for pending in self.pending.values():
            out[pending.sector] = out.get(pending.sector, ZERO) + self.notional(pending)
        return out

    def _covered_calls_held(self) -> dict[tuple[str, str], int]:
        """The held short calls that their VA's shares of the symbol cover: contracts by
        (VA, contract key), one a lot of the multiplier."""
        lots: dict[tuple[str, str], int] = {}
        for (va_id, _), e in self.positions.items():
            if e.contract is not None and not e.contract.is_option and e.quantity > 0:
                lots[(va_id, e.contract.symbol)] = e.quantity
        out: dict[tuple[str, str], int] = {}
        for (va_id, key), e in self.positions.items():
            c = e.contract
            if c is None or not c.is_option or c.right != "C" or e.quantity >= 0:
                continue
            left = lots.get((va_id, c.symbol), 0) // c.multiplier
            covered = min(-e.quantity, left)
            if covered:
                out[(va_id, key)] = covered
                lots[(va_id, c.symbol)] -= covered * c.multiplier
        return out

    def _covered_by_stock(self, proposal: OrderProposal) -> int:
        """Contracts of a call to write that its VA's shares of the symbol cover (one a lot of
        the multiplier): the lots held, less the VA's short calls on it and the calls of its
        entries approved before this one. A covered call needs no margin of its own."""
        contract = proposal.contract
        if contract.right != "C":
            return 0
        shares = written = 0
        for (va_id, _), e in self.positions.items():
            if va_id != proposal.va_id or e.contract is None:
                continue
            if e.contract.symbol != contract.symbol:
                continue
            if not e.contract.is_option:
                shares += e.quantity
            elif e.contract.right == "C" and e.quantity < 0:
                written -= e.quantity
        for pending in self.pending.values():
            if pending.proposal_id == proposal.proposal_id:
                break
            p = pending.contract
            same = pending.va_id == proposal.va_id and p.symbol == contract.symbol
            if same and p.is_option and p.right == "C" and pending.side.sign < 0:
                written += pending.quantity
        lots = max(shares, 0) // contract.multiplier
        return min(proposal.quantity, max(0, lots - written))

    def _position_margin(self) -> Decimal:
        """Maintenance margin of the positions known from fills (stocks at cost; short options
        by Reg-T at the underlying's latest mid, a VA's short calls covered by its shares of
        the symbol needing none). The broker's figure shows a fill only from its next account
        update; until then this one covers it."""
        sim = self._settings.sim
        by_va: dict[str, list[Exposure]] = {}
        for (va_id, _), e in self.positions.items():
            by_va.setdefault(va_id, []).append(e)

        def stock_margin(exposure: Exposure) -> Decimal:
            pct = sim.maint_margin_long_pct if exposure.quantity > 0 else sim.maint_margin_short_pct
            return exposure.notional * Decimal(str(pct)) / 100

        total = ZERO
        for exposures in by_va.values():
            # One VA's positions, by contract key (unique within a VA).
            known = {e.contract.key: e for e in exposures if e.contract is not None}
            total += sum((stock_margin(e) for e in exposures if e.contract is None), ZERO)

            def stock_of(
                contract: Contract, _quantity: int, k: dict[str, Exposure] = known
            ) -> Decimal:
                return stock_margin(k[contract.key])

            def prices_of(
                contract: Contract, k: dict[str, Exposure] = known
            ) -> tuple[Decimal, Decimal]:
                return self._underlying_mid(contract), k[contract.key].avg_price

            held = [(e.contract, e.quantity) for e in exposures if e.contract is not None]
            total += positions_margin(held, stock_margin=stock_of, option_prices=prices_of)
        return total

    def _underlying_mid(self, contract: Contract) -> Decimal:
        """The underlying's latest mid (the strike if there is no quote yet)."""
        quote = self._quotes.latest(contract.symbol)
        if quote is None:
            return contract.strike or ZERO
        return (Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2

    def _pending_margin(self) -> Decimal:
        return sum((self.order_margin(p) for p in self.pending.values()), ZERO)
