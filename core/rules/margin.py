"""Margin and exposure of option positions: Reg-T for short options, assignment value for
concentration. Pure: Decimal in, Decimal out (dollars), no I/O, no threads.

Reg-T for an uncovered (naked) short option, per contract::

    put:  max(20% x underlying - out-of-the-money amount, 10% x strike) x multiplier + premium
    call: max(20% x underlying - out-of-the-money amount, 10% x underlying) x multiplier + premium

where the out-of-the-money amount is ``max(underlying - strike, 0)`` for a put and
``max(strike - underlying, 0)`` for a call, and the premium is the option's current price x
multiplier. A long option is paid in full and needs no margin.

A short call covered by shares of its underlying held in the same account (``positions_margin``:
one lot of ``multiplier`` shares covers one contract) needs no margin of its own, as under
Reg-T and at IB: the stock is the cover and is margined as stock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal

from core.domain import Contract

__all__ = [
    "assignment_value",
    "option_position_margin",
    "positions_margin",
    "short_option_margin",
    "short_put_margin",
]

_ZERO = Decimal(0)
_TWENTY_PCT = Decimal("0.20")
_TEN_PCT = Decimal("0.10")


def short_option_margin(
    *,
    right: str,
    underlying: Decimal,
    strike: Decimal,
    premium: Decimal,
    contracts: int,
    multiplier: int = 100,
) -> Decimal:
    """Reg-T margin of ``contracts`` uncovered short options (``right`` "P" or "C") with the
    underlying at ``underlying`` and the option at ``premium`` per share.

    Raises:
        ValueError: an unknown right or a negative number of contracts.
    """
    if contracts < 0:
        raise ValueError(f"contracts must be >= 0 (got {contracts})")
    if right == "P":
        out_of_money = max(underlying - strike, _ZERO)
        floor = _TEN_PCT * strike
    elif right == "C":
        out_of_money = max(strike - underlying, _ZERO)
        floor = _TEN_PCT * underlying
    else:
        raise ValueError(f"right must be 'P' or 'C' (got {right!r})")
    per_share = max(_TWENTY_PCT * underlying - out_of_money, floor) + premium
    return per_share * multiplier * contracts


def short_put_margin(
    *,
    underlying: Decimal,
    strike: Decimal,
    premium: Decimal,
    contracts: int,
    multiplier: int = 100,
) -> Decimal:
    """Reg-T margin of ``contracts`` naked short puts (see ``short_option_margin``)."""
    return short_option_margin(
        right="P",
        underlying=underlying,
        strike=strike,
        premium=premium,
        contracts=contracts,
        multiplier=multiplier,
    )


def option_position_margin(
    contract: Contract, quantity: int, *, underlying: Decimal, premium: Decimal
) -> Decimal:
    """Margin of a signed option position: Reg-T for a short one, nothing for a long one.

    Raises:
        ValueError: ``contract`` is not an option.
    """
    if not contract.is_option or contract.strike is None or contract.right is None:
        raise ValueError(f"{contract.key} is not an option")
    if quantity >= 0:
        return _ZERO
    return short_option_margin(
        right=contract.right,
        underlying=underlying,
        strike=contract.strike,
        premium=premium,
        contracts=-quantity,
        multiplier=contract.multiplier,
    )


def assignment_value(contract: Contract, quantity: int) -> Decimal:
    """What an option position puts at stake in its underlying, for concentration limits:
    strike x multiplier x contracts (a short put's cost if assigned), always >= 0.

    Raises:
        ValueError: ``contract`` is not an option.
    """
    if not contract.is_option or contract.strike is None:
        raise ValueError(f"{contract.key} is not an option")
    return contract.strike * contract.multiplier * abs(quantity)


def positions_margin(
    positions: Iterable[tuple[Contract, int]],
    *,
    stock_margin: Callable[[Contract, int], Decimal],
    option_prices: Callable[[Contract], tuple[Decimal, Decimal]],
) -> Decimal:
    """Margin of one account's signed ``positions`` (or one VA's): a stock by
    ``stock_margin(contract, quantity)``, a long option none, a short option Reg-T at
    ``option_prices(contract)`` = (underlying, premium), except the short calls covered by
    the account's long shares of the same symbol (one contract a lot of its multiplier), which
    need none: a covered call. The cover goes to the calls whose naked margin is highest.

    Raises:
        ValueError: an option contract without strike or right.
    """
    total = Decimal(0)
    shares: dict[str, int] = defaultdict(int)
    calls: dict[str, list[tuple[Decimal, int, int]]] = defaultdict(list)
    for contract, quantity in positions:
        if quantity == 0:
            continue
        if not contract.is_option:
            total += stock_margin(contract, quantity)
            shares[contract.symbol] += quantity
            continue
        underlying, premium = option_prices(contract)
        if quantity < 0 and contract.right == "C":
            one = option_position_margin(contract, -1, underlying=underlying, premium=premium)
            calls[contract.symbol].append((one, -quantity, contract.multiplier))
            continue
        total += option_position_margin(contract, quantity, underlying=underlying, premium=premium)
    for symbol, shorts in calls.items():
        held = max(shares[symbol], 0)
        for one, contracts, multiplier in sorted(shorts, key=lambda s: s[0], reverse=True):
            covered = min(contracts, held // multiplier)
            held -= covered * multiplier
            total += one * (contracts - covered)
    return total
