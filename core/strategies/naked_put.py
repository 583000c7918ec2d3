"""The naked-put baseline: sell one put at a target |delta| in the first expiration at or
beyond a target DTE, sized by the VA's capital and the Reg-T margin of a short put.

Pure: fed a chain snapshot (``Broker.option_chain``), returns a choice or the reason there is
none. The VirtualAccount decides when to scan (flat and allowed) and turns a choice into a
sell-to-open limit order at the mid, re-priced toward the bid. Exits are the
PositionMonitor's option exit rules (profit target, stop, time), not the strategy's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Protocol

from core.domain import Quote
from core.rules.greeks import days_to_expiry
from core.rules.margin import short_put_margin

__all__ = [
    "NakedPut",
    "NakedPutParams",
    "PutChoice",
    "option_mid",
    "select_put",
    "size_contracts",
]

_CENT = Decimal("0.01")


class NakedPutParams(Protocol):
    """What the strategy reads from its config (``core.config.NakedPutStrategy``)."""

    @property
    def target_delta(self) -> float: ...
    @property
    def target_dte(self) -> int: ...
    @property
    def max_dte(self) -> int: ...
    @property
    def min_credit(self) -> Decimal: ...
    @property
    def min_open_interest(self) -> int: ...
    @property
    def max_margin_pct(self) -> float: ...
    @property
    def max_contracts(self) -> int: ...
    @property
    def scan_interval_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class PutChoice:
    """The put to sell: its quote at the decision, how many contracts, the credit per share
    (the mid, rounded up to the cent), delta, days to expiry and the margin of one contract."""

    quote: Quote
    contracts: int
    credit: Decimal
    delta: float
    dte: int
    margin_per_contract: Decimal


def option_mid(quote: Quote) -> Decimal:
    """A quote's mid, exactly (half cents possible)."""
    return (Decimal(repr(quote.bid)) + Decimal(repr(quote.ask))) / 2


def select_put(
    chain: Iterable[Quote],
    *,
    today: date,
    target_delta: float,
    target_dte: int,
    max_dte: int,
    min_credit: Decimal,
    min_open_interest: int,
) -> Quote | str:
    """The put to sell, or why there is none.

    Expirations from ``target_dte`` to ``max_dte`` calendar days away are tried soonest first;
    in the first one holding a put whose mid is at least ``min_credit`` and whose open
    interest is at least ``min_open_interest``, the put whose |delta| is nearest
    ``target_delta`` wins (ties: the lower strike).
    """
    by_expiry: dict[date, list[Quote]] = defaultdict(list)
    for quote in chain:
        contract = quote.contract
        if contract.right != "P" or contract.expiry is None or quote.delta is None:
            continue
        if target_dte <= days_to_expiry(contract.expiry, today) <= max_dte:
            by_expiry[contract.expiry].append(quote)
    if not by_expiry:
        return f"no expiration {target_dte}-{max_dte} DTE"
    for expiry in sorted(by_expiry):
        eligible = [
            q
            for q in by_expiry[expiry]
            if option_mid(q) >= min_credit and q.open_interest >= min_open_interest
        ]
        if eligible:
            return min(
                eligible,
                key=lambda q: (abs(abs(q.delta or 0.0) - target_delta), q.contract.strike),
            )
    return f"no put with credit >= {min_credit} and open interest >= {min_open_interest}"


def size_contracts(
    *,
    capital: Decimal,
    equity: Decimal,
    max_margin_pct: float,
    margin_per_contract: Decimal,
    max_contracts: int,
) -> int:
    """Contracts whose margin fits ``max_margin_pct`` of the smaller of capital and equity,
    at most ``max_contracts`` (0 when not even one fits)."""
    if margin_per_contract <= 0:
        return 0
    budget = min(capital, equity) * Decimal(str(max_margin_pct)) / 100
    return max(0, min(max_contracts, math.floor(budget / margin_per_contract)))


class NakedPut:
    """Scan pacing and the choice of the put; one per VA (owned by its actor thread)."""

    name = "naked_put"

    def __init__(self, params: NakedPutParams) -> None:
        self.params = params
        self._next_scan: datetime | None = None

    def scan_due(self, now: datetime) -> bool:
        """Whether a chain scan may run now (one per ``scan_interval_s``)."""
        return self._next_scan is None or now >= self._next_scan

    def wait(self, now: datetime, seconds: float | None = None) -> None:
        """No scan before ``seconds`` (default: the scan interval) from ``now``."""
        delay = self.params.scan_interval_s if seconds is None else seconds
        self._next_scan = now + timedelta(seconds=delay)

    def expiry_window(self, today: date) -> tuple[date, date]:
        """The expirations the strategy may trade (to narrow the chain asked for)."""
        p = self.params
        return today + timedelta(days=p.target_dte), today + timedelta(days=p.max_dte)

    def choose(
        self,
        chain: Iterable[Quote],
        *,
        spot: Decimal,
        today: date,
        capital: Decimal,
        equity: Decimal,
    ) -> PutChoice | str:
        """The put to sell and the contracts, or why none (see ``select_put``,
        ``size_contracts``)."""
        p = self.params
        picked = select_put(
            chain,
            today=today,
            target_delta=p.target_delta,
            target_dte=p.target_dte,
            max_dte=p.max_dte,
            min_credit=Decimal(p.min_credit),
            min_open_interest=p.min_open_interest,
        )
        if isinstance(picked, str):
            return picked
        contract = picked.contract
        assert contract.strike is not None and contract.expiry is not None
        credit = option_mid(picked).quantize(_CENT, rounding=ROUND_CEILING)
        margin = short_put_margin(
            underlying=spot,
            strike=contract.strike,
            premium=credit,
            contracts=1,
            multiplier=contract.multiplier,
        )
        contracts = size_contracts(
            capital=capital,
            equity=equity,
            max_margin_pct=p.max_margin_pct,
            margin_per_contract=margin,
            max_contracts=p.max_contracts,
        )
        if contracts <= 0:
            return f"margin {margin:.2f} a contract exceeds {p.max_margin_pct}% of capital"
        return PutChoice(
            quote=picked,
            contracts=contracts,
            credit=credit,
            delta=picked.delta or 0.0,
            dte=days_to_expiry(contract.expiry, today),
            margin_per_contract=margin,
        )
