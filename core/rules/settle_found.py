"""Settlements found at start-up: options the ledger holds that IB settled while the engine was
stopped (pure).

IB processes expirations, exercises and assignments overnight (ib-api-reloaded/ib_async#93:
"between 2am-3am") and reports them only as position changes, which an engine that was not
running never saw. At start-up an option the ledger holds whose expiry has passed and which IB
no longer lists has been settled: assigned (or exercised) when IB's position in its underlying
differs from the ledger's by exactly what a set of such options delivers (100 shares a contract
at the strike; a short put buys, a short call sells), else expired worthless when the stock
shows no unexplained change. A stock difference no set of options explains proves nothing: those
options are left for the position comparison to report.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.domain import Contract
from core.events import AssignmentEvent, ExpiryEvent

__all__ = ["FoundSettlement", "allocate", "delivery", "settlements_found"]

_MAX_COMBINED = 8  # options settled against one stock difference, at most

FoundSettlement = ExpiryEvent | AssignmentEvent


@dataclass(frozen=True, slots=True)
class _Held:
    contract: Contract
    quantity: int  # signed, summed over VAs


def delivery(contract: Contract, quantity: int) -> int:
    """Shares an exercise or assignment of ``quantity`` (signed) of ``contract`` delivers."""
    sign = 1 if contract.right == "C" else -1
    return sign * quantity * contract.multiplier


def settlements_found(
    ours: Mapping[str, tuple[Contract, int]],
    theirs: Mapping[str, int],
    *,
    expired: Callable[[Contract], bool],
    time: datetime,
) -> list[FoundSettlement]:
    """The settlements that explain the ledger's expired options IB no longer lists.

    Args:
        ours: the ledger's positions by contract key (contract, signed quantity summed over
            VAs), stocks included.
        theirs: IB's positions by contract key (signed).
        expired: whether an option's expiry has passed (settled overnight after it).
        time: the events' time.
    """
    vanished: dict[str, list[_Held]] = {}
    for key, (contract, quantity) in sorted(ours.items()):
        if contract.is_option and quantity != 0 and theirs.get(key, 0) == 0 and expired(contract):
            vanished.setdefault(contract.symbol, []).append(_Held(contract, quantity))
    events: list[FoundSettlement] = []
    for symbol, options in sorted(vanished.items()):
        stock_ours = next((q for c, q in ours.values() if c.key == symbol), 0)
        change = theirs.get(symbol, 0) - stock_ours
        chosen = _subset_delivering(sorted(options, key=_deepest_first)[:_MAX_COMBINED], change)
        if chosen is None:
            continue  # a stock difference no option explains: the comparison reports it
        stock = Contract.stock(symbol)
        for held in options:
            contract = held.contract
            if held in chosen and contract.strike is not None:
                events.append(
                    AssignmentEvent(
                        f"found-assigned-{contract.key.replace(' ', '-')}",
                        contract,
                        held.quantity,
                        stock,
                        delivery(contract, held.quantity),
                        contract.strike,
                        Decimal(0),  # the underlying's price then is not known
                        time,
                    )
                )
            else:
                events.append(
                    ExpiryEvent(
                        f"found-expiry-{contract.key.replace(' ', '-')}",
                        contract,
                        held.quantity,
                        Decimal(0),
                        time,
                    )
                )
    return events


def allocate(holders: list[tuple[str, int]], quantity: int) -> list[tuple[str, int]]:
    """Share a settlement of ``quantity`` (signed, part of the account's position) among the
    VAs holding the contract, in the order given, each up to what it holds (same sign)."""
    shares: list[tuple[str, int]] = []
    left = quantity
    for va, held in holders:
        take = max(held, left) if left < 0 else min(held, left)
        if take and (take > 0) == (held > 0):
            shares.append((va, take))
            left -= take
    return shares


def _deepest_first(held: _Held) -> tuple[str, Decimal]:
    strike = held.contract.strike or Decimal(0)
    return (held.contract.right or "", -strike if held.contract.right == "P" else strike)


def _subset_delivering(options: list[_Held], shares: int) -> list[_Held] | None:
    """The smallest set of ``options`` whose deliveries add up to ``shares`` (the empty set
    when ``shares`` is 0), the deepest in the money first; None when no set does."""
    for size in range(len(options) + 1):
        for combo in itertools.combinations(options, size):
            if sum(delivery(h.contract, h.quantity) for h in combo) == shares:
                return list(combo)
    return None
