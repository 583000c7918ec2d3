"""What a VirtualAccount asks of its strategy: the ``Strategy`` protocol and the values that
cross it.

A strategy is told the quotes of its VA's universe and may answer with an ``Intent`` (a signal);
one that sells options also offers the option-selling cycle (``OptionSelling``): when to read a
chain, which chain, and which option to sell from it. The VA dispatches on what the strategy
offers, never on its class. Every method runs on the owning VA's actor thread; a strategy holds
no thread and does no I/O (the VA reads the chain and hands it over).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from core.domain import Quote, Side
from core.rules.repricing import RepricePlan

__all__ = ["ChainRequest", "Intent", "OptionChoice", "OptionSelling", "Strategy"]


@dataclass(frozen=True, slots=True)
class Intent:
    """What a strategy wants: open ``side``, or close the current position."""

    side: Side
    close: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ChainRequest:
    """The option chain a strategy wants read: one underlying, one right, an expiry window."""

    symbol: str
    right: str
    min_expiry: date
    max_expiry: date


@dataclass(frozen=True, slots=True)
class OptionChoice:
    """The option to sell: its quote at the decision, how many contracts, the credit per share
    (the mid, rounded up to the cent), delta, days to expiry and the margin of one contract."""

    quote: Quote
    contracts: int
    credit: Decimal
    delta: float
    dte: int
    margin_per_contract: Decimal


class OptionSelling(Protocol):
    """The option-selling cycle of a strategy: scans paced by the strategy, the choice of the
    option, the entry's re-price walk, and what becomes of stock an assignment delivers."""

    @property
    def closes_assigned_stock(self) -> bool:
        """True when stock delivered by an assignment is closed at the next open market."""
        ...

    @property
    def wheels_stock(self) -> bool:
        """True when assigned stock is kept and covered calls are written on it (the wheel)."""
        ...

    def scan_due(self, now: datetime) -> bool:
        """Whether a chain scan may start now."""
        ...

    def call_request(self, symbol: str, today: date) -> ChainRequest:
        """The calls to read for a covered call on ``symbol`` (the wheel)."""
        ...

    def choose_call(
        self, chain: Iterable[Quote], *, today: date, shares: int, written: int, basis: Decimal
    ) -> OptionChoice | str:
        """The covered call to write on ``shares`` bought at ``basis``, or why none."""
        ...

    def wait(self, now: datetime, seconds: float | None = None) -> None:
        """No scan before ``seconds`` (default: the strategy's scan interval) from ``now``."""
        ...

    def chain_request(self, symbol: str, today: date) -> ChainRequest:
        """The chain to read for ``symbol`` on the exchange's ``today``."""
        ...

    def choose(
        self,
        chain: Iterable[Quote],
        *,
        spot: Decimal,
        today: date,
        capital: Decimal,
        equity: Decimal,
    ) -> OptionChoice | str:
        """The option to sell and how many, or why none."""
        ...

    def entry_plan(self) -> RepricePlan:
        """How the sell-to-open limit walks from the mid toward the bid."""
        ...

    def entry_ended(self, now: datetime, *, refused: bool) -> None:
        """An entry ended with nothing sold: pace the next scan (``refused``: a rule refused
        it, rather than the market leaving it unfilled)."""
        ...


class Strategy(Protocol):
    """A VA's strategy, built from its config model by the registry
    (``core.strategies.registry.build_strategy``)."""

    @property
    def kind(self) -> str:
        """The registry key of the strategy (``[accounts.strategy] kind``); also the source
        the VA records for the signals it makes."""
        ...

    def on_quote(self, quote: Quote, position: int) -> Intent | None:
        """Feed one quote of the universe; ``position`` is the VA's signed quantity in its
        contract. An ``Intent`` becomes a signal checked by the VA's rules."""
        ...

    def option_selling(self) -> OptionSelling | None:
        """The option-selling cycle when the strategy sells options, else None."""
        ...
