"""Option expiry in the simulator: at the close of its expiration day an in-the-money option is
exercised (long) or assigned (short) automatically, an out-of-the-money one expires worthless.

Pure: no I/O, no threads; ``settle_expirations`` changes the account and the order book it is
given (the caller, ``SimBroker``, holds its lock) and returns the events to deliver, in order:
the cancels of working orders in each expired contract, then one ``ExpiryEvent`` or
``AssignmentEvent`` per expired position.

In the money means by at least a cent at the close (the underlying's mark), as IB's automatic
exercise does. The option leaves the account at no cash; an exercised or assigned contract
delivers ``multiplier`` shares at the strike (a short put: bought; a short call: sold) with no
commission.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from broker.sim.account import SimAccount
from broker.sim.chains import OptionMarket
from broker.sim.market import MarketModel
from broker.sim.order_book import OrderBook
from core.domain import Contract, Side
from core.events import AssignmentEvent, BrokerEvent, ExpiryEvent

__all__ = ["assign_early", "intrinsic_value", "settle_expirations"]

_ZERO = Decimal(0)


def intrinsic_value(contract: Contract, underlying: Decimal) -> Decimal:
    """What one share of the option is worth if exercised now (never negative).

    Raises:
        ValueError: ``contract`` is not an option.
    """
    if not contract.is_option or contract.strike is None:
        raise ValueError(f"{contract.key} is not an option")
    if contract.right == "C":
        return max(underlying - contract.strike, _ZERO)
    return max(contract.strike - underlying, _ZERO)


def settle_expirations(
    *,
    now: datetime,
    account: SimAccount,
    book: OrderBook,
    options: OptionMarket,
    market: MarketModel,
    next_event_id: Callable[[], str],
    settles_at: Callable[[date], datetime] | None = None,
) -> list[BrokerEvent]:
    """Cancel every working order whose option's expiry moment (its last close) is at or
    before ``now``, and settle every option position whose settlement moment is
    (``settles_at(expiry)``; default: the expiry moment itself); returns the events, in order
    (nothing when nothing has expired)."""
    settlement = settles_at or options.expiry_moment
    events: list[BrokerEvent] = []
    for contract in book.working_option_contracts():
        if contract.expiry is not None and now >= options.expiry_moment(contract.expiry):
            events.extend(book.cancel_contract(contract.key, now, "option expired"))
    for contract, quantity in account.option_holdings():
        if contract.expiry is None or now < settlement(contract.expiry):
            continue
        underlying = market.mark(contract.symbol)
        options.forget(contract.key)
        closing = Side.BUY if quantity < 0 else Side.SELL
        account.apply_fill(contract, closing, abs(quantity), _ZERO, _ZERO)
        event_id = next_event_id()
        if intrinsic_value(contract, underlying) <= _ZERO:
            events.append(ExpiryEvent(event_id, contract, quantity, underlying, now))
            continue
        assert contract.strike is not None
        sign = 1 if contract.right == "C" else -1
        shares = sign * quantity * contract.multiplier
        stock = market.contract(contract.symbol)
        side = Side.BUY if shares > 0 else Side.SELL
        account.apply_fill(stock, side, abs(shares), contract.strike, _ZERO)
        events.append(
            AssignmentEvent(
                event_id, contract, quantity, stock, shares, contract.strike, underlying, now
            )
        )
    return events


def assign_early(
    *,
    symbol: str,
    now: datetime,
    account: SimAccount,
    market: MarketModel,
    next_event_id: Callable[[], str],
) -> list[BrokerEvent]:
    """Assign every short option of ``symbol`` the account holds now (an early assignment,
    possible on any day for American options): the option leaves at no cash and delivers
    ``multiplier`` shares a contract at the strike (a short put buys, a short call sells), with
    no commission. Returns one ``AssignmentEvent`` per option assigned."""
    events: list[BrokerEvent] = []
    for contract, quantity in account.option_holdings():
        if contract.symbol != symbol or quantity >= 0 or contract.strike is None:
            continue
        account.apply_fill(contract, Side.BUY, -quantity, _ZERO, _ZERO)
        sign = 1 if contract.right == "C" else -1
        shares = sign * quantity * contract.multiplier
        stock = market.contract(symbol)
        side = Side.BUY if shares > 0 else Side.SELL
        account.apply_fill(stock, side, abs(shares), contract.strike, _ZERO)
        events.append(
            AssignmentEvent(
                next_event_id(),
                contract,
                quantity,
                stock,
                shares,
                contract.strike,
                market.mark(symbol),
                now,
            )
        )
    return events
