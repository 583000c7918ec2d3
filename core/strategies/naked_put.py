"""The naked-put baseline: sell one put at a target |delta| in the first expiration at or
beyond a target DTE, sized by the VA's capital and the Reg-T margin of a short put.

Pure: fed a chain snapshot (``Broker.option_chain``), returns a choice or the reason there is
none. The VirtualAccount decides when to scan (flat and allowed), reads the chain off its own
thread and turns a choice into a sell-to-open limit order at the mid, re-priced toward the bid.
Exits are the PositionMonitor's option exit rules (profit target, stop, time), not the
strategy's. Its config model is ``NakedPutStrategy`` (``kind = "naked_put"``), registered below.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from pydantic import Field, model_validator

from core.config_errors import Money, problems_error
from core.domain import Quote
from core.rules.greeks import days_to_expiry
from core.rules.margin import short_put_margin
from core.rules.repricing import RepricePlan
from core.rules.rolls import RollSettings
from core.strategies.protocol import ChainRequest, Intent, OptionChoice, OptionSelling
from core.strategies.registry import StrategySettings, register_strategy
from core.strategies.wheel import cash_secured_contracts, covered_contracts, select_call

__all__ = [
    "NakedPut",
    "NakedPutStrategy",
    "option_mid",
    "select_put",
    "size_contracts",
]

_CENT = Decimal("0.01")


class NakedPutStrategy(StrategySettings):
    """``kind = "naked_put"``: sell a put at a target delta, sized by Reg-T margin."""

    kind: Literal["naked_put"] = "naked_put"
    target_delta: float = Field(default=0.30, gt=0, lt=1)  # |delta| of the put sold
    target_dte: int = Field(default=30, ge=1, le=365)  # first expiration at or beyond
    max_dte: int = Field(default=45, ge=1, le=730)  # ... but not beyond this
    min_credit: Money = Field(default=Decimal("0.50"), gt=0, le=10_000)  # mid, per share
    min_open_interest: int = Field(default=100, ge=0, le=10_000_000)
    max_margin_pct: float = Field(default=50.0, gt=0, le=100)  # of VA capital, Reg-T
    max_contracts: int = Field(default=10, ge=1, le=10_000)
    scan_interval_s: float = Field(default=60.0, ge=1, le=86_400)  # chain scans while flat
    retry_after_reject_s: float = Field(default=900.0, ge=0, le=86_400)
    # Entry: mid toward bid; at least 0.25 s, IB's quote interval (a faster one sees no new quote).
    reprice_interval_s: float = Field(default=5.0, ge=0.25, le=600)
    reprice_steps: int = Field(default=4, ge=0, le=50)
    # close: assigned stock is sold at the next open; keep: held; wheel: held and covered calls
    # are written on it until it is called away, then puts again (core.strategies.wheel).
    on_assignment: Literal["close", "keep", "wheel"] = "close"
    call_target_delta: float = Field(default=0.30, gt=0, lt=1)  # wheel: delta of the call
    call_target_dte: int = Field(default=30, ge=1, le=365)  # wheel: first expiration at or beyond
    call_max_dte: int = Field(default=45, ge=1, le=730)  # ... but not beyond this
    call_min_credit: Money = Field(default=Decimal("0.10"), gt=0, le=10_000)  # mid, per share
    allow_call_below_basis: bool = False  # wheel: a call strike may be below the stock's cost
    # wheel: the cost a call's strike floor is: the stock's average price, or that less the net
    # option premium a share collected in the wheel cycle (the put(s) that delivered it, calls).
    call_basis: Literal["price", "net_of_premium"] = "price"
    # Rolls (core.rules.rolls): a short put (a wheel's covered call) is moved to a later expiry
    # as one combo for a net credit at roll_at_dte days to expiry or once roll_at_profit_pct %
    # of its credit is earned (0: off); without roll_min_credit it is closed as usual.
    roll_at_dte: int = Field(default=0, ge=0, le=365)
    roll_at_profit_pct: float = Field(default=0.0, ge=0, lt=100)
    roll_min_credit: Money = Field(default=Decimal("0.10"), ge=0, le=10_000)  # net, per share
    max_rolls: int = Field(default=1, ge=0, le=100)  # per position chain
    roll_dte: int = Field(default=30, ge=1, le=365)  # new expiry: first at or beyond ...
    roll_max_dte: int = Field(default=45, ge=1, le=730)  # ... but not beyond this
    roll_delta: float = Field(default=0.30, gt=0, lt=1)  # |delta| of the new strike

    @model_validator(mode="after")
    def _check_dte(self) -> NakedPutStrategy:
        if self.max_dte < self.target_dte:
            got = f"max_dte = {self.max_dte}, target_dte = {self.target_dte}"
            raise problems_error((("max_dte",), f"must be >= target_dte (got {got})"))
        if self.call_max_dte < self.call_target_dte:
            got = f"call_max_dte = {self.call_max_dte}, call_target_dte = {self.call_target_dte}"
            raise problems_error((("call_max_dte",), f"must be >= call_target_dte (got {got})"))
        if self.roll_max_dte < self.roll_dte:
            got = f"roll_max_dte = {self.roll_max_dte}, roll_dte = {self.roll_dte}"
            raise problems_error((("roll_max_dte",), f"must be >= roll_dte (got {got})"))
        if self.roll_at_dte and self.roll_dte <= self.roll_at_dte:
            got = f"roll_dte = {self.roll_dte}, roll_at_dte = {self.roll_at_dte}"
            raise problems_error((("roll_dte",), f"must be > roll_at_dte (got {got})"))
        return self

    def roll_settings(self) -> RollSettings | None:
        settings = RollSettings(
            at_dte=self.roll_at_dte,
            at_profit_pct=self.roll_at_profit_pct,
            min_credit=Decimal(self.roll_min_credit),
            max_rolls=self.max_rolls,
            dte=self.roll_dte,
            max_dte=self.roll_max_dte,
            delta=self.roll_delta,
            reprice_interval_s=self.reprice_interval_s,
            reprice_steps=self.reprice_steps,
        )
        return settings if settings.enabled else None

    def wheels_stock(self) -> bool:
        return self.on_assignment == "wheel"

    def entry_reprice_plan(self) -> RepricePlan:
        steps = self.reprice_steps
        return RepricePlan(interval_s=self.reprice_interval_s, steps=steps, max_reprices=steps)


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
    """Scan pacing and the choice of the put; one per VA (owned by its actor thread). A
    ``Strategy`` that makes no signals and offers the option-selling cycle (itself)."""

    kind = "naked_put"

    def __init__(self, params: NakedPutStrategy) -> None:
        self.params = params
        self._next_scan: datetime | None = None

    def on_quote(self, quote: Quote, position: int) -> Intent | None:
        return None

    def option_selling(self) -> OptionSelling:
        return self

    @property
    def closes_assigned_stock(self) -> bool:
        return self.params.on_assignment == "close"

    @property
    def wheels_stock(self) -> bool:
        return self.params.on_assignment == "wheel"

    def scan_due(self, now: datetime) -> bool:
        """Whether a chain scan may run now (one per ``scan_interval_s``)."""
        return self._next_scan is None or now >= self._next_scan

    def wait(self, now: datetime, seconds: float | None = None) -> None:
        """No scan before ``seconds`` (default: the scan interval) from ``now``."""
        delay = self.params.scan_interval_s if seconds is None else seconds
        self._next_scan = now + timedelta(seconds=delay)

    def entry_ended(self, now: datetime, *, refused: bool) -> None:
        """Wait ``retry_after_reject_s`` after a refused entry, a scan interval after an
        unfilled one."""
        self.wait(now, self.params.retry_after_reject_s if refused else None)

    def expiry_window(self, today: date) -> tuple[date, date]:
        """The expirations the strategy may trade (to narrow the chain asked for)."""
        p = self.params
        return today + timedelta(days=p.target_dte), today + timedelta(days=p.max_dte)

    def chain_request(self, symbol: str, today: date) -> ChainRequest:
        """The puts of ``symbol`` in the expiry window."""
        low, high = self.expiry_window(today)
        return ChainRequest(symbol, "P", low, high)

    def call_request(self, symbol: str, today: date) -> ChainRequest:
        """The calls of ``symbol`` in the wheel's call expiry window."""
        p = self.params
        low = today + timedelta(days=p.call_target_dte)
        return ChainRequest(symbol, "C", low, today + timedelta(days=p.call_max_dte))

    def entry_plan(self) -> RepricePlan:
        return self.params.entry_reprice_plan()

    def choose_call(
        self,
        chain: Iterable[Quote],
        *,
        today: date,
        shares: int,
        written: int,
        basis: Decimal,
        premium: Decimal = Decimal(0),
    ) -> OptionChoice | str:
        """The covered call to write on ``shares`` bought at ``basis`` a share (``written``
        calls already short; ``premium``: the net option premium a share collected in this
        wheel cycle, taken off the strike floor when ``call_basis = "net_of_premium"``), or
        why none (see ``core.strategies.wheel.select_call``)."""
        p = self.params
        if p.call_basis == "net_of_premium":
            basis -= premium
        picked = select_call(
            chain,
            today=today,
            target_delta=p.call_target_delta,
            target_dte=p.call_target_dte,
            max_dte=p.call_max_dte,
            min_credit=Decimal(p.call_min_credit),
            min_strike=None if p.allow_call_below_basis else basis,
        )
        if isinstance(picked, str):
            return picked
        contract = picked.contract
        assert contract.expiry is not None
        contracts = covered_contracts(shares, written, contract.multiplier)
        if contracts <= 0:
            return f"{shares} shares: no uncovered lot of {contract.multiplier}"
        return OptionChoice(
            quote=picked,
            contracts=contracts,
            credit=option_mid(picked).quantize(_CENT, rounding=ROUND_CEILING),
            delta=picked.delta or 0.0,
            dte=days_to_expiry(contract.expiry, today),
            margin_per_contract=Decimal(0),  # covered by the stock
        )

    def choose(
        self,
        chain: Iterable[Quote],
        *,
        spot: Decimal,
        today: date,
        capital: Decimal,
        equity: Decimal,
    ) -> OptionChoice | str:
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
        if self.wheels_stock:
            secured = cash_secured_contracts(
                capital=capital,
                equity=equity,
                strike=contract.strike,
                multiplier=contract.multiplier,
            )
            if secured <= 0:
                notional = contract.strike * contract.multiplier
                return f"wheel: assignment {notional:.2f} a contract exceeds capital"
            contracts = min(contracts, secured)
        return OptionChoice(
            quote=picked,
            contracts=contracts,
            credit=credit,
            delta=picked.delta or 0.0,
            dte=days_to_expiry(contract.expiry, today),
            margin_per_contract=margin,
        )


register_strategy(NakedPutStrategy, NakedPut)
