"""The simulated account: cash, positions, commissions, net liquidation and maintenance margin.

Pure: no I/O, no threads. ``SimAccount`` is owned by ``SimBroker`` and changed only under its
lock. All money is ``Decimal``: cash is exact (fill prices are cents, commissions 4 dp); the
derived figures of a snapshot (net liquidation, maintenance margin, available funds) are rounded
to cents. Positions are keyed by contract key (a stock's key is its symbol); an option's value
and cash flows are multiplied by its multiplier, and a short option needs Reg-T margin
(``core.rules.margin``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.domain import Contract, Side
from core.events import AccountSnapshot, BrokerPosition
from core.rules.margin import option_position_margin, positions_margin

__all__ = ["SimAccount", "cumulative_commission", "execution_commission"]

_CENT = Decimal("0.01")
_COMMISSION_QUANTUM = Decimal("0.0001")
_AVG_COST_QUANTUM = Decimal("0.000001")


def cumulative_commission(quantity: int, *, per_share: Decimal, minimum: Decimal) -> Decimal:
    """IB-like per-order commission for ``quantity`` shares filled so far: ``per_share`` a
    share, at least ``minimum`` once anything has filled (4 dp; zero for nothing filled)."""
    if quantity <= 0:
        return Decimal(0)
    return max(minimum, per_share * quantity).quantize(_COMMISSION_QUANTUM)


def execution_commission(
    filled_before: int, quantity: int, *, per_share: Decimal, minimum: Decimal
) -> Decimal:
    """The commission charged on one execution of ``quantity`` shares of an order that had
    ``filled_before`` shares filled: the growth of the order's cumulative commission. So the
    first execution pays at least the minimum and later small ones may pay nothing."""
    after = cumulative_commission(filled_before + quantity, per_share=per_share, minimum=minimum)
    before = cumulative_commission(filled_before, per_share=per_share, minimum=minimum)
    return after - before


@dataclass(slots=True)
class _Holding:
    contract: Contract
    quantity: int = 0
    avg_cost: Decimal = Decimal(0)


class SimAccount:
    """Cash and stock positions of the one simulated account.

    Not thread-safe: the owner serialises calls. ``avg_cost`` is the average fill price of the
    open position (commissions excluded): it grows on adds, stays on reductions and restarts at
    the fill price when a fill crosses through zero. Short sales need no borrow and no order is
    refused for lack of funds; margin is reported, not enforced.

    Args:
        starting_cash: the opening cash balance, dollars.
        maint_margin_long_pct: maintenance margin on long market value, percent (25 = 25 %).
        maint_margin_short_pct: maintenance margin on short market value, percent.
    """

    def __init__(
        self,
        *,
        starting_cash: Decimal,
        maint_margin_long_pct: float = 25,
        maint_margin_short_pct: float = 30,
    ) -> None:
        if maint_margin_long_pct < 0 or maint_margin_short_pct < 0:
            raise ValueError("maintenance margin percentages must be >= 0")
        self._cash = Decimal(starting_cash)
        self._long_rate = Decimal(str(maint_margin_long_pct)) / 100
        self._short_rate = Decimal(str(maint_margin_short_pct)) / 100
        self._holdings: dict[str, _Holding] = {}

    @property
    def cash(self) -> Decimal:
        return self._cash

    def position(self, key: str) -> int:
        """Signed shares (contracts for an option) held in the contract with this key (a
        stock's key is its symbol; negative when short)."""
        holding = self._holdings.get(key)
        return holding.quantity if holding else 0

    def option_holdings(self) -> list[tuple[Contract, int]]:
        """Every non-zero option position (contract, signed contracts), in key order."""
        return [
            (h.contract, h.quantity)
            for _, h in sorted(self._holdings.items())
            if h.quantity != 0 and h.contract.is_option
        ]

    def apply_fill(
        self, contract: Contract, side: Side, quantity: int, price: Decimal, commission: Decimal
    ) -> None:
        """Book one execution: cash moves by the notional (times the multiplier) and the
        commission, the position and its average cost by the shares or contracts."""
        if quantity <= 0:
            raise ValueError(f"fill quantity must be > 0 (got {quantity})")
        self._cash -= side.sign * quantity * price * contract.multiplier + commission
        holding = self._holdings.get(contract.key)
        if holding is None:
            holding = self._holdings[contract.key] = _Holding(contract=contract)
        old = holding.quantity
        new = old + side.sign * quantity
        if old == 0 or (old > 0) == (side is Side.BUY):
            # Opening or adding: volume-weighted average.
            total = abs(old) * holding.avg_cost + quantity * price
            holding.avg_cost = (total / abs(new)).quantize(_AVG_COST_QUANTUM)
        elif new == 0 or (new > 0) != (old > 0):
            # Closed, or crossed through zero: what is left was opened at this price.
            holding.avg_cost = price if new != 0 else Decimal(0)
        holding.quantity = new

    def holdings(self) -> list[tuple[Contract, int, Decimal]]:
        """Every non-zero position as (contract, signed quantity, exact average cost), in key
        order: what ``restore`` takes back (a state saved across a restart)."""
        return [
            (h.contract, h.quantity, h.avg_cost)
            for _, h in sorted(self._holdings.items())
            if h.quantity != 0
        ]

    def restore(self, cash: Decimal, holdings: Iterable[tuple[Contract, int, Decimal]]) -> None:
        """Replace the cash and every position with saved ones (``holdings``' form)."""
        self._cash = Decimal(cash)
        self._holdings = {
            contract.key: _Holding(contract=contract, quantity=quantity, avg_cost=avg_cost)
            for contract, quantity, avg_cost in holdings
            if quantity != 0
        }

    def positions(self) -> list[BrokerPosition]:
        """Every non-zero position, in symbol order (avg_cost rounded to 4 dp)."""
        return [
            BrokerPosition(
                contract=h.contract,
                quantity=h.quantity,
                avg_cost=h.avg_cost.quantize(_COMMISSION_QUANTUM),
            )
            for _, h in sorted(self._holdings.items())
            if h.quantity != 0
        ]

    def market_values(self, marks: Mapping[str, Decimal]) -> tuple[Decimal, Decimal]:
        """(long market value, absolute short market value) at ``marks`` (price per share by
        contract key), options included at price x multiplier.

        Raises:
            KeyError: a position's contract has no mark.
        """
        long_value = Decimal(0)
        short_value = Decimal(0)
        for key, holding in self._holdings.items():
            if holding.quantity == 0:
                continue
            value = holding.quantity * marks[key] * holding.contract.multiplier
            if holding.quantity > 0:
                long_value += value
            elif holding.quantity < 0:
                short_value -= value
        return long_value, short_value

    def maintenance_margin(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Stocks: long pct of long value + short pct of short value; options: Reg-T for short
        ones (underlying marked at ``marks[symbol]``) except calls covered by the account's
        shares (``core.rules.margin.positions_margin``), none for long ones (paid in full).

        Raises:
            KeyError: a position's contract, or a short option's underlying, has no mark.
        """
        held = [(h.contract, h.quantity) for h in self._holdings.values()]
        return self._margin_of(held, marks)

    def _margin_of(
        self, positions: Iterable[tuple[Contract, int]], marks: Mapping[str, Decimal]
    ) -> Decimal:
        return positions_margin(
            positions,
            stock_margin=lambda contract, quantity: self.position_margin(contract, quantity, marks),
            option_prices=lambda contract: (marks[contract.symbol], marks[contract.key]),
        )

    def position_margin(
        self, contract: Contract, quantity: int, marks: Mapping[str, Decimal]
    ) -> Decimal:
        """The margin of a signed position in ``contract`` at ``marks`` (dollars) on its own: a
        stock's maintenance percentage of its value, Reg-T for a short option (as if naked),
        none for a long one.

        Raises:
            KeyError: no mark for the contract (or for a short option's underlying).
        """
        if quantity == 0:
            return Decimal(0)
        if contract.is_option:
            return option_position_margin(
                contract, quantity, underlying=marks[contract.symbol], premium=marks[contract.key]
            )
        rate = self._long_rate if quantity > 0 else self._short_rate
        return abs(quantity) * marks[contract.key] * rate

    def margin_change(
        self, contract: Contract, side: Side, quantity: int, marks: Mapping[str, Decimal]
    ) -> Decimal:
        """What filling ``quantity`` of ``contract`` on ``side`` at ``marks`` would add to the
        margin (negative when it frees margin), dollars: the margin of the positions in
        ``contract``'s symbol after less before, so a call written on shares held is covered
        (no margin) and selling the shares under a call makes it naked.

        Raises:
            KeyError: no mark for the contract (or for an option's underlying).
        """
        before = {
            h.contract.key: (h.contract, h.quantity)
            for h in self._holdings.values()
            if h.contract.symbol == contract.symbol and h.quantity != 0
        }
        after = dict(before)
        held = before.get(contract.key, (contract, 0))[1]
        after[contract.key] = (contract, held + side.sign * quantity)
        return self._margin_of(after.values(), marks) - self._margin_of(before.values(), marks)

    def snapshot(self, marks: Mapping[str, Decimal], time: datetime) -> AccountSnapshot:
        """The account at ``marks``: net liquidation = cash + signed market value; maintenance
        margin as ``maintenance_margin``; available = net liquidation - maintenance margin
        (negative when the account is under water), which is also the excess liquidity; buying
        power = what is available over the long maintenance rate."""
        long_value, short_value = self.market_values(marks)
        net_liq = (self._cash + long_value - short_value).quantize(_CENT)
        maint = self.maintenance_margin(marks).quantize(_CENT)
        available = net_liq - maint
        return AccountSnapshot(
            net_liquidation=net_liq,
            cash=self._cash,
            maint_margin=maint,
            available_funds=available,
            time=time,
            excess_liquidity=available,
            # What the funds left could hold in long stock at its maintenance rate (25 %: 4x).
            buying_power=(
                (max(available, Decimal(0)) / self._long_rate).quantize(_CENT)
                if self._long_rate > 0
                else None
            ),
            account="SIM",
        )
