"""Contracts between our ``Contract`` and ib_async's (pure functions, no network)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from ib_async import Bag, Option, Stock
from ib_async import ComboLeg as IbComboLeg
from ib_async import Contract as IbContract

from core.domain import ComboLeg, Contract

__all__ = [
    "expiry_text",
    "from_ib_contract",
    "parse_expiry",
    "plain_strike",
    "to_ib_combo",
    "to_ib_contract",
]


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


def to_ib_combo(
    contract: Contract, legs: tuple[ComboLeg, ...], qualified: Mapping[str, IbContract]
) -> IbContract:
    """The ib_async BAG contract of a combo (SMART-routed), its legs named by the conIds of
    their ``qualified`` contracts (IB places a combo by leg conIds only).

    Raises:
        ValueError: fewer than two legs, or a leg not qualified yet (no conId).
    """
    if len(legs) < 2:
        raise ValueError(f"combo {contract.key!r} needs at least two legs (got {len(legs)})")
    ib_legs = []
    for leg in legs:
        known = qualified.get(leg.contract.key)
        if known is None or not known.conId:
            raise ValueError(f"combo leg {leg.contract.key!r} has no conId (not qualified yet)")
        ib_legs.append(
            IbComboLeg(conId=known.conId, ratio=leg.ratio, action=leg.side.value, exchange="SMART")
        )
    return Bag(
        symbol=contract.symbol, exchange="SMART", currency=contract.currency, comboLegs=ib_legs
    )


def from_ib_contract(contract: IbContract) -> Contract | None:
    """Our contract for an ib_async one (a combo's BAG without its legs); None for what we do
    not trade (futures, FX, ...).
    The exchange is always SMART (our contracts are routed, not listed)."""
    currency = contract.currency or "USD"
    if contract.secType == "STK":
        return Contract(symbol=contract.symbol, currency=currency)
    if contract.secType == "BAG":
        return Contract(symbol=contract.symbol, sec_type="BAG", currency=currency)
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
