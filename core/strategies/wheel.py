"""The covered-call half of the wheel: which call to write on stock an assigned put delivered,
and how many puts a wheel VA may sell so that an assignment stays within its capital.

Pure: fed a chain snapshot (``Broker.option_chain``), returns a choice or the reason there is
none. The naked-put strategy (``core.strategies.naked_put``) calls these when its
``on_assignment`` is ``"wheel"``; the VirtualAccount reads the chain and sends the order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from core.domain import Quote
from core.rules.greeks import days_to_expiry

__all__ = ["cash_secured_contracts", "covered_contracts", "select_call"]


def _mid(quote: Quote) -> Decimal:
    return (Decimal(repr(quote.bid)) + Decimal(repr(quote.ask))) / 2


def select_call(
    chain: Iterable[Quote],
    *,
    today: date,
    target_delta: float,
    target_dte: int,
    max_dte: int,
    min_credit: Decimal,
    min_strike: Decimal | None,
) -> Quote | str:
    """The call to write, or why there is none.

    Expirations from ``target_dte`` to ``max_dte`` calendar days away are tried soonest first;
    in the first one holding a call whose mid is at least ``min_credit`` and whose strike is at
    least ``min_strike`` (None: any strike), the call whose delta is nearest ``target_delta``
    wins (ties: the higher strike, further from being called away).
    """
    by_expiry: dict[date, list[Quote]] = defaultdict(list)
    for quote in chain:
        contract = quote.contract
        if contract.right != "C" or contract.expiry is None or quote.delta is None:
            continue
        if target_dte <= days_to_expiry(contract.expiry, today) <= max_dte:
            by_expiry[contract.expiry].append(quote)
    if not by_expiry:
        return f"no call expiration {target_dte}-{max_dte} DTE"
    for expiry in sorted(by_expiry):
        eligible = [
            q
            for q in by_expiry[expiry]
            if _mid(q) >= min_credit
            and (min_strike is None or (q.contract.strike or 0) >= min_strike)
        ]
        if eligible:
            return min(
                eligible,
                key=lambda q: (abs(abs(q.delta or 0.0) - target_delta), -(q.contract.strike or 0)),
            )
    floor = "" if min_strike is None else f" and strike >= basis {min_strike:.2f}"
    return f"no call with credit >= {min_credit}{floor}"


def covered_contracts(shares: int, written: int, multiplier: int) -> int:
    """Calls still to write on ``shares`` (one per whole lot of ``multiplier``), ``written``
    already short (a positive count)."""
    return max(0, shares // multiplier - written)


def cash_secured_contracts(
    *, capital: Decimal, equity: Decimal, strike: Decimal, multiplier: int
) -> int:
    """Puts whose assignment (``strike`` x ``multiplier`` a contract) the smaller of capital
    and equity pays for in full: the wheel buys what it is assigned and keeps it."""
    notional = strike * multiplier
    if notional <= 0:
        return 0
    return max(0, math.floor(min(capital, equity) / notional))
