"""Account values and positions between ib_async and our types (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from ib_async import AccountValue, PnL, Position
from loguru import logger

from broker.ib.parsing.contracts import from_ib_contract
from broker.ib.parsing.unset import amount_or_none, count_or_none
from core.events import AccountPnL, AccountSnapshot, BrokerPosition

__all__ = [
    "ACCOUNT_TAGS",
    "account_figures",
    "account_pnl",
    "account_snapshot",
    "broker_position",
]

#: The account values an ``AccountSnapshot`` is made of (IB tag -> our field).
ACCOUNT_TAGS = {
    "NetLiquidation": "net_liquidation",
    "TotalCashValue": "cash",
    "MaintMarginReq": "maint_margin",
    "AvailableFunds": "available_funds",
    # Initial margin and what is left for it: IB accepts or refuses an order on these.
    "InitMarginReq": "init_margin",
    "ExcessLiquidity": "excess_liquidity",
    "EquityWithLoanValue": "equity_with_loan",
    "BuyingPower": "buying_power",
}
_CURRENCY_PREFERENCE = ("USD", "BASE", "")


def _decimal(text: str) -> Decimal | None:
    """An account value's amount; None for text that is not a number or IB's unset value."""
    return amount_or_none(text) if isinstance(text, str) else None


def account_figures(values: Iterable[AccountValue], *, account: str) -> dict[str, Decimal]:
    """The ``ACCOUNT_TAGS`` figures of ``account`` by our field name, in USD (the BASE
    currency if no USD row); a tag IB has not sent, or sent unset, is absent."""
    found: dict[str, dict[str, Decimal]] = {}
    for value in values:
        if account and value.account and value.account != account:
            continue
        field = ACCOUNT_TAGS.get(value.tag)
        amount = _decimal(value.value) if field else None
        if field is None or amount is None:
            continue
        found.setdefault(field, {})[value.currency] = amount
    figures: dict[str, Decimal] = {}
    for field, by_currency in found.items():
        currency = next((c for c in _CURRENCY_PREFERENCE if c in by_currency), None)
        figures[field] = (
            by_currency[currency] if currency is not None else next(iter(by_currency.values()))
        )
    return figures


def account_snapshot(
    values: Iterable[AccountValue], *, account: str, time: datetime
) -> AccountSnapshot | None:
    """The snapshot of ``account`` from IB's account values (``reqAccountUpdates`` or the
    summary), in USD (the BASE currency if no USD row); None until NetLiquidation is known.
    A missing cash, maintenance margin or available funds counts as zero; a missing initial
    margin, excess liquidity, equity with loan value or buying power is None; ``account`` is
    the code asked for, else the one the values name."""
    values = list(values)
    figures = account_figures(values, account=account)
    code = account or next((value.account for value in values if value.account), "")
    net_liq = figures.get("net_liquidation")
    if net_liq is None:
        return None
    zero = Decimal(0)
    return AccountSnapshot(
        net_liquidation=net_liq,
        cash=figures.get("cash", zero),
        maint_margin=figures.get("maint_margin", zero),
        available_funds=figures.get("available_funds", zero),
        time=time,
        init_margin=figures.get("init_margin"),
        excess_liquidity=figures.get("excess_liquidity"),
        equity_with_loan=figures.get("equity_with_loan"),
        buying_power=figures.get("buying_power"),
        account=code,
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


def account_pnl(pnl: PnL, *, account: str, time: datetime) -> AccountPnL | None:
    """Our event for an ib_async ``PnL`` of ``account``; None for another account or an unset
    daily figure."""
    if account and pnl.account and pnl.account != account:
        return None
    daily = amount_or_none(pnl.dailyPnL)
    if daily is None:
        return None
    return AccountPnL(
        daily_pnl=daily,
        unrealized_pnl=amount_or_none(pnl.unrealizedPnL),
        realized_pnl=amount_or_none(pnl.realizedPnL),
        time=time,
    )
