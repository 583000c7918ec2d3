"""Flatten planning: net each contract across virtual accounts. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Cross", "FlattenPlan", "plan_flatten"]


@dataclass(frozen=True, slots=True)
class Cross:
    """``quantity`` moves from a long VA to a short VA internally, at the mid: both close
    that much without a broker order (the account's net position does not change)."""

    contract_key: str
    long_va: str
    short_va: str
    quantity: int


@dataclass(frozen=True, slots=True)
class FlattenPlan:
    crosses: tuple[Cross, ...]
    # (va, contract key, signed quantity still to close at the broker after the crosses)
    closes: tuple[tuple[str, str, int], ...]


def plan_flatten(positions: Iterable[tuple[str, str, int]]) -> FlattenPlan:
    """Cross opposite positions in the same contract (VAs in id order), then close the rest.

    Args:
        positions: (va id, contract key, signed quantity) for every position to flatten.
    """
    by_contract: dict[str, dict[str, int]] = defaultdict(dict)
    for va, key, quantity in positions:
        if quantity:
            by_contract[key][va] = by_contract[key].get(va, 0) + quantity
    crosses: list[Cross] = []
    closes: list[tuple[str, str, int]] = []
    for key in sorted(by_contract):
        left = by_contract[key]
        longs = sorted(va for va, q in left.items() if q > 0)
        shorts = sorted(va for va, q in left.items() if q < 0)
        li = si = 0
        while li < len(longs) and si < len(shorts):
            long_va, short_va = longs[li], shorts[si]
            quantity = min(left[long_va], -left[short_va])
            crosses.append(Cross(key, long_va, short_va, quantity))
            left[long_va] -= quantity
            left[short_va] += quantity
            li += left[long_va] == 0
            si += left[short_va] == 0
        closes.extend((va, key, q) for va, q in sorted(left.items()) if q)
    return FlattenPlan(tuple(crosses), tuple(closes))
