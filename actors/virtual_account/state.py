"""The state a VirtualAccount's parts share, and its decision log.

Everything here lives on the VA's own actor thread: the actor and every part it composes read
and change it there, and nothing else touches it (snapshots leave as frozen copies).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger

from actors.messages.commands import OrderProposal, Signal
from actors.messages.events import Fill, SignalDecision
from core.clock import Clock
from core.config import AccountConfig, AccountLimits
from core.domain import Contract, TradingState
from core.rules.decision import Decision
from core.rules.va_rules import VABook
from core.strategies.protocol import OptionChoice, Strategy

__all__ = ["DecisionLog", "Tell", "VAState"]

#: How a part sends a message: ``AddressBook.tell`` (to an address; False if nobody is there).
Tell = Callable[[str, object], bool]


@dataclass(eq=False)
class VAState:
    """One VA's book, its strategy and what its orders are about (owned by its actor thread).

    ``recover`` replaces fields of this object, never the object: the parts keep a reference.
    """

    va_id: str
    account: AccountConfig
    vabook: VABook
    strategy: Strategy
    universe: dict[str, Contract]
    trading_state: TradingState = TradingState.ACTIVE
    #: Contract key -> contract of every order the VA has proposed (options included).
    contracts: dict[str, Contract] = field(default_factory=dict)
    #: The option a strategy chose to sell, waiting for its first fresh quote.
    candidate: OptionChoice | None = None
    #: Working roll order id -> the option it sells (quoted while the roll works).
    rolling: dict[str, Contract] = field(default_factory=dict)
    #: The last what-if margins against Reg-T, newest first (the inspector shows them).
    margin_checks: deque[str] = field(default_factory=lambda: deque(maxlen=5))

    @property
    def limits(self) -> AccountLimits:
        return self.account.limits


class DecisionLog:
    """The VA's recent decisions, newest first (its snapshot's ``last_decisions``), and the
    journal entry of every signal the VA refuses. Used on the VA's actor thread."""

    def __init__(self, *, clock: Clock, address: str, tell: Tell) -> None:
        self._clock = clock
        self._address = address
        self._tell = tell
        self.entries: deque[str] = deque(maxlen=20)
        self._proposed: set[str] = set()  # proposals sent, not yet placed or ended

    def proposed(self, proposal: OrderProposal) -> None:
        """Note an order the VA's rules accepted and proposed to the governor, with its
        numbers: ``entry proposed: BUY 120 AAPL LMT 101.25 stop 99.23 (ma_cross up ...)``."""
        numbers = f"{proposal.side.value} {proposal.quantity} {proposal.contract.key}"
        numbers += f" {proposal.order_type.value}"
        if proposal.limit_price is not None:
            numbers += f" {proposal.limit_price}"
        if proposal.stop_price is not None:
            numbers += f" stop {proposal.stop_price}"
        if proposal.delta is not None:
            numbers += f" delta {proposal.delta:.2f}"
        why = f" ({proposal.reason})" if proposal.reason else ""
        note = f" [{proposal.note}]" if proposal.note else ""
        self.note(f"{proposal.purpose.value} proposed: {numbers}{why}{note}")
        self._proposed.add(proposal.proposal_id)

    def filled(self, fill: Fill) -> None:
        """Note the first fill of an order the VA proposed (the governor accepted it, the
        broker filled it): ``entry filled: BUY 120 AAPL @ 101.24``."""
        if fill.order_id in self._proposed:
            self._proposed.discard(fill.order_id)
            self.note(
                f"{fill.purpose.value} filled: {fill.side.value} {fill.quantity} "
                f"{fill.contract.key} @ {fill.price}"
            )

    def ended(self, order_id: str) -> None:
        """An order (or a proposal the governor refused) ended: nothing more to note of it."""
        self._proposed.discard(order_id)

    def note(self, text: str) -> None:
        stamp = self._clock.now().strftime("%H:%M:%S")
        self.entries.appendleft(f"{stamp} {text}")
        logger.debug("{}: {}", self._address, text)

    def refused(self, signal: Signal, decision: Decision, now: datetime) -> None:
        """Note a signal the VA's rules refused and journal the decision."""
        self.note(f"{signal.side.value} {signal.contract.key}: {decision.rule} {decision.detail}")
        self._tell(
            "journal",
            SignalDecision(signal, decision.accepted, "va", decision.rule, decision.detail, now),
        )
