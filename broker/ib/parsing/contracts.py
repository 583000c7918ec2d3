"""Contracts between our ``Contract`` and ib_async's (pure functions, no network)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ib_async import Contract as IbContract
from ib_async import Option, Stock

from core.domain import Contract

__all__ = ["expiry_text", "from_ib_contract", "parse_expiry", "plain_strike", "to_ib_contract"]


def plain_strike(value: Decimal | float) -> Decimal:
    """A strike as our contract keys spell it: no trailing zeros, no exponent (150, 152.5)."""
    strike = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if strike == strike.to_integral_value():
        return strike.quantize(Decimal(1))
    return strike.normalize()


def expiry_text(expiry: date) -> str:
    """IB's ``lastTradeDateOrContractMonth`` for a day (``YYYYMMDD``)."""
    return expiry.strftime("%Y%m%d")


def parse_expiry(text: str) -> date | None:
    """A ``YYYYMMDD`` (optionally followed by a time) expiry; None for a month or nothing."""
    head = text.strip().split(" ")[0]
    if len(head) != 8 or not head.isdigit():
        return None
    return date(int(head[:4]), int(head[4:6]), int(head[6:]))


def to_ib_contract(contract: Contract) -> IbContract:
    """The ib_async contract for ``contract`` (unqualified: no conId).

    Raises:
        ValueError: an instrument other than a stock or an option, or an option missing its
            expiry, strike or right.
    """
    if contract.sec_type == "STK":
        return Stock(contract.symbol, contract.exchange, contract.currency)
    if contract.sec_type == "OPT":
        if contract.expiry is None or contract.strike is None or contract.right is None:
            raise ValueError(f"option {contract.key!r} needs an expiry, a strike and a right")
        return Option(
            contract.symbol,
            expiry_text(contract.expiry),
            float(contract.strike),
            contract.right,
            contract.exchange,
            multiplier=str(contract.multiplier),
            currency=contract.currency,
        )
    raise ValueError(f"unsupported instrument {contract.key!r} ({contract.sec_type})")


def from_ib_contract(contract: IbContract) -> Contract | None:
    """Our contract for an ib_async one; None for what we do not trade (futures, FX, ...).
    The exchange is always SMART (our contracts are routed, not listed)."""
    currency = contract.currency or "USD"
    if contract.secType == "STK":
        return Contract(symbol=contract.symbol, currency=currency)
    if contract.secType == "OPT":
        expiry = parse_expiry(contract.lastTradeDateOrContractMonth)
        right = (contract.right or "")[:1].upper()
        if expiry is None or right not in ("P", "C") or not contract.strike:
            return None
        multiplier = int(float(contract.multiplier)) if contract.multiplier else 100
        return Contract(
            symbol=contract.symbol,
            sec_type="OPT",
            expiry=expiry,
            strike=plain_strike(contract.strike),
            right=right,
            multiplier=multiplier,
            currency=currency,
        )
    return None
