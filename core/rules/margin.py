"""Margin and exposure of option positions: Reg-T for short options, assignment value for
concentration. Pure: Decimal in, Decimal out (dollars), no I/O, no threads.

Reg-T for an uncovered (naked) short option, per contract::

    put:  max(20% x underlying - out-of-the-money amount, 10% x strike) x multiplier + premium
    call: max(20% x underlying - out-of-the-money amount, 10% x underlying) x multiplier + premium

where the out-of-the-money amount is ``max(underlying - strike, 0)`` for a put and
``max(strike - underlying, 0)`` for a call, and the premium is the option's current price x
multiplier. A long option is paid in full and needs no margin.
"""

from __future__ import annotations

from decimal import Decimal

from core.domain import Contract

__all__ = [
    "assignment_value",
    "option_position_margin",
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
