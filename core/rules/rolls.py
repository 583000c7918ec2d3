"""Rolls: a short option near expiry or near its profit target moved to a later expiry as one
combo order (BUY the held option, SELL the new one, ratio 1, same quantity) for a net credit.

Pure: no I/O, no threads. The VirtualAccount asks ``roll_due`` on each quote of a short option
it holds, reads the chain ``roll_window`` names, picks the new option with ``select_roll`` and
builds the combo with ``roll_legs`` / ``roll_limit``. The net limit is signed as IB signs a
combo: buying the roll for a credit is a negative price, and ``roll_limit`` never asks less
credit than ``min_credit`` (``RollSettings.bound``: the OrderManager's re-pricing walk stops
there and cancels; the VA then closes the position by the ordinary exit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from core.domain import ComboLeg, Contract, Quote, Side
from core.rules.combos import combo_repriced_limit
from core.rules.greeks import days_to_expiry

__all__ = [
    "RollSettings",
    "roll_chain",
    "roll_due",
    "roll_legs",
    "roll_limit",
    "roll_window",
    "select_roll",
]


@dataclass(frozen=True, slots=True)
class RollSettings:
    """A VA's roll settings (``NakedPutStrategy.roll_settings``): roll at ``at_dte`` days to
    expiry or once ``at_profit_pct`` % of the credit is earned (0: that trigger is off), for a
    net credit of at least ``min_credit`` a share, at most ``max_rolls`` times a position chain,
    to the first expiry ``dte``..``max_dte`` days out, at the strike whose |delta| is nearest
    ``delta``; the combo is re-priced ``reprice_steps`` times every ``reprice_interval_s``."""

    at_dte: int
    at_profit_pct: float
    min_credit: Decimal
    max_rolls: int
    dte: int
    max_dte: int
    delta: float
    reprice_interval_s: float = 5.0
    reprice_steps: int = 4

    @property
    def enabled(self) -> bool:
        return self.max_rolls > 0 and (self.at_dte > 0 or self.at_profit_pct > 0)

    @property
    def bound(self) -> Decimal:
        """The worst net limit a roll may take (IB's sign: minus the minimum credit)."""
        return -self.min_credit


def roll_due(
    settings: RollSettings,
    *,
    quantity: int,
    credit: Decimal,
    mark: Decimal,
    dte: int,
    rolls_so_far: int,
) -> str | None:
    """Why a position of ``quantity`` options sold at ``credit`` (per share) and marked at
    ``mark`` is rolled now (``"time"``, ``"profit_target"``), or None. Only a short option is
    rolled, and only while its chain has fewer than ``max_rolls`` rolls."""
    if not settings.enabled or quantity >= 0 or rolls_so_far >= settings.max_rolls:
        return None
    if settings.at_dte > 0 and dte <= settings.at_dte:
        return "time"
    if settings.at_profit_pct > 0 and credit > 0:
        earned_pct = (credit - mark) / credit * 100
        if earned_pct >= Decimal(str(settings.at_profit_pct)):
            return "profit_target"
    return None


def roll_window(settings: RollSettings, today: date) -> tuple[date, date]:
    """The expiries the new option may have."""
    return today + timedelta(days=settings.dte), today + timedelta(days=settings.max_dte)


def select_roll(
    chain: Iterable[Quote], held: Contract, settings: RollSettings, today: date
) -> Quote | str:
    """The option to roll ``held`` into, or why there is none: same symbol and right, an
    expiry later than the held one and ``dte``..``max_dte`` days out (soonest first), a two-sided
    quote and a delta; in that expiry the |delta| nearest ``delta`` wins (ties: the strike
    farther out of the money)."""
    assert held.expiry is not None
    by_expiry: dict[date, list[Quote]] = {}
    for quote in chain:
        c = quote.contract
        if c.symbol != held.symbol or c.right != held.right or c.expiry is None:
            continue
        if c.expiry <= held.expiry or quote.delta is None or quote.bid <= 0 or quote.ask <= 0:
            continue
        if settings.dte <= days_to_expiry(c.expiry, today) <= settings.max_dte:
            by_expiry.setdefault(c.expiry, []).append(quote)
    if not by_expiry:
        return f"no {held.right} beyond {held.expiry} {settings.dte}-{settings.max_dte} DTE"
    candidates = by_expiry[min(by_expiry)]
    otm = 1 if held.right == "C" else -1  # a call farther out has a higher strike
    return min(
        candidates,
        key=lambda q: (abs(abs(q.delta or 0.0) - settings.delta), -otm * (q.contract.strike or 0)),
    )


def roll_legs(held: Contract, new: Contract) -> tuple[ComboLeg, ComboLeg]:
    """The roll's legs when the combo is bought: buy back ``held``, sell ``new``."""
    return ComboLeg(held, 1, Side.BUY), ComboLeg(new, 1, Side.SELL)


def roll_limit(
    settings: RollSettings, *, bid: Decimal, ask: Decimal, step: int = 0
) -> Decimal | str:
    """The net limit of the roll combo (bought) at ``step`` of its re-pricing walk from the net
    quote ``bid``/``ask`` (IB's sign), never worse than ``-min_credit``; or why not even the
    first limit gets the minimum credit."""
    limit = combo_repriced_limit(
        side=Side.BUY, bid=bid, ask=ask, step=step, steps=settings.reprice_steps
    )
    if step == 0 and limit > settings.bound:
        return f"net mid {-(bid + ask) / 2:.2f} credit < minimum {settings.min_credit}"
    return min(limit, settings.bound)


def roll_chain(opening_order: str, rolled_from: Mapping[str, str | None]) -> list[str]:
    """The orders of a position chain, oldest first, ending at ``opening_order`` (the order
    that opened the position held now): each roll's ``rolled_from`` names the order before it.
    A chain's roll count is its length less one."""
    chain = [opening_order]
    seen = {opening_order}
    while (previous := rolled_from.get(chain[0])) and previous not in seen:
        chain.insert(0, previous)
        seen.add(previous)
    return chain
