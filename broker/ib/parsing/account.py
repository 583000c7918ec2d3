"""Account values and positions between ib_async and our types (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from ib_async import AccountValue, Position
from loguru import logger

from broker.base import AccountSnapshot, BrokerPosition
from broker.ib.parsing.contracts import from_ib_contract
from broker.ib.parsing.unset import amount_or_none, count_or_none

__all__ = ["ACCOUNT_TAGS", "account_snapshot", "broker_position"]

#: The account values an ``AccountSnapshot`` is made of (IB tag -> our field).
ACCOUNT_TAGS = {
    "NetLiquidation": "net_liquidation",
    "TotalCashValue": "cash",
    "MaintMarginReq": "maint_margin",
    "AvailableFunds": "available_funds",
}
_CURRENCY_PREFERENCE = ("USD", "BASE", "")


def _decimal(text: str) -> Decimal | None:
    """An account value's amount; None for text that is not a number or IB's unset value."""
    return amount_or_none(text) if isinstance(text, str) else None


def account_snapshot(
    values: Iterable[AccountValue], *, account: str, time: datetime
) -> AccountSnapshot | None:
    """The snapshot of ``account`` from IB's account values (``reqAccountUpdates`` or the
    summary), in USD (the BASE currency if no USD row); None until NetLiquidation is known.
    A missing tag other than NetLiquidation counts as zero."""
    found: dict[str, dict[str, Decimal]] = {}
    for value in values:
        if account and value.account and value.account != account:
            continue
        field = ACCOUNT_TAGS.get(value.tag)
        amount = _decimal(value.value) if field else None
        if field is None or amount is None:
            continue
        found.setdefault(field, {})[value.currency] = amount

    def pick(field: str) -> Decimal | None:
        by_currency = found.get(field, {})
        for currency in _CURRENCY_PREFERENCE:
            if currency in by_currency:
                return by_currency[currency]
        return next(iter(by_currency.values()), None)

    net_liq = pick("net_liquidation")
    if net_liq is None:
        return None
    zero = Decimal(0)
    return AccountSnapshot(
        net_liquidation=net_liq,
        cash=pick("cash") or zero,
        maint_margin=pick("maint_margin") or zero,
        available_funds=pick("available_funds") or zero,
        time=time,
    )


def broker_position(position: Position) -> BrokerPosition | None:
    """Our position for IB's; None for a flat position, an instrument we do not trade, or a
    quantity IB left unset (logged). ``avg_cost`` is per share (IB reports an option's average
    cost per contract, i.e. times the multiplier; it is divided back here), 0 when IB left it
    unset (``UNSET_DOUBLE``: nothing above the adapter may see that sentinel)."""
    contract = from_ib_contract(position.contract)
    if contract is None:
        return None
    quantity = count_or_none(position.position)
    if quantity is None:
        logger.warning("ib: position in {} has no quantity (unset): ignored", contract.key)
        return None
    if quantity == 0:
        return None
    avg = amount_or_none(position.avgCost)
    if avg is None:
        logger.warning("ib: position in {} has no average cost (unset): 0 used", contract.key)
        avg = Decimal(0)
    if contract.multiplier > 1:
        avg = avg / contract.multiplier
    return BrokerPosition(contract=contract, quantity=quantity, avg_cost=avg)
