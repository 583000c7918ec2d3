"""The broker's margin check on short option entries, for the OrderManager.

A short option entry that passed the filters and the gate is not stored yet: the OrderManager
asks the broker for a what-if (``Broker.check_margin``: IB's what-if order, the simulator's
Reg-T) and goes on with its mailbox (tell, not ask). The answer comes back as a
``MarginCheck`` message: the entry is placed if the initial-margin change fits in the
available funds (``core.rules.broker_margin``), else refused to its VA with the numbers (the
part answers with a ``Decision``; ``Placing`` places or refuses). A
check not answered within ``risk.what_if_timeout_s`` (engine clock seconds; the IB adapter
itself answers with an error after its request timeout) is refused as such at the next tick.
Each answer is also told to the VA with our Reg-T estimate beside it, for the inspector.

``MarginGate`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from loguru import logger

from actors.messages.commands import OrderProposal
from actors.messages.events import MarginReview
from actors.order_manager.sides import OppositeSides
from actors.runtime.context import EngineContext
from core.domain import OrderRequest, Purpose, Side
from core.events import MarginCheck
from core.rules.broker_margin import check_what_if, review_line
from core.rules.decision import OK, Decision, reject
from core.rules.margin import short_option_margin

__all__ = ["AwaitingWhatIf", "MarginGate"]


@dataclass(frozen=True, slots=True)
class AwaitingWhatIf:
    """An entry waiting for the broker's what-if answer, and when it was asked."""

    proposal: OrderProposal
    asked_at: datetime


class MarginGate:
    """The what-if gate on short option entries (a part of the OrderManager).

    Entries waiting for the broker's what-if, by proposal id, are kept across a crash of the
    actor (it restarts in place, ``recover()`` does not touch them): a late answer still finds
    its entry."""

    def __init__(self, ctx: EngineContext, *, sides: OppositeSides) -> None:
        self.ctx = ctx
        self.sides = sides
        self._margin_waits: dict[str, AwaitingWhatIf] = {}

    def wants_what_if(self, proposal: OrderProposal) -> bool:
        """A short option entry (selling to open), when ``risk.what_if_margin`` is on."""
        return (
            self.ctx.config.risk.what_if_margin
            and proposal.purpose is Purpose.ENTRY
            and proposal.contract.is_option
            and proposal.side is Side.SELL
        )

    def ask_margin(self, proposal: OrderProposal, now: datetime) -> Decision:
        """Ask the broker for a what-if of ``proposal``; the entry waits for the answer (OK),
        or is to be refused now when the broker cannot ask at all."""
        self._margin_waits[proposal.proposal_id] = AwaitingWhatIf(proposal, now)
        request = OrderRequest(
            client_order_id=proposal.proposal_id,
            contract=proposal.contract,
            side=proposal.side,
            order_type=proposal.order_type,
            quantity=proposal.quantity,
            limit_price=proposal.limit_price,
        )
        try:
            self.ctx.broker.check_margin(request)
        except Exception as err:  # the broker cannot ask at all: refuse now, with why
            logger.warning("order manager: what-if of {} not asked: {}", proposal.proposal_id, err)
            self._margin_waits.pop(proposal.proposal_id, None)
            return reject("what_if", f"no what-if margin check: {err}")
        return OK

    def answer(self, check: MarginCheck) -> tuple[OrderProposal, Decision, datetime] | None:
        """The broker's what-if answer: the waiting entry, whether it may be placed now (the
        margin fits, the gate is open, nothing works on the other side of its option), and
        when that was decided; None for an answer whose entry no longer waits."""
        waiting = self._margin_waits.pop(check.client_order_id, None)
        if waiting is None:
            logger.debug("order manager: what-if answer for {} came late", check.client_order_id)
            return None
        proposal, now = waiting.proposal, self.ctx.clock.now()
        decision = check_what_if(check)
        line = review_line(proposal.contract.key, check, self._reg_t(proposal))
        self.ctx.book.tell(
            f"va:{proposal.va_id}", MarginReview(proposal.va_id, line, bool(decision), now)
        )
        if not decision:
            return proposal, decision, now
        if not self.ctx.gate.allows(reduce_only=False):  # closed while the broker answered
            gate = self.ctx.gate
            return proposal, reject("gate", f"gate {gate.state.value}: {gate.reason}"), now
        # An exit may have gone out meanwhile.
        return proposal, self.sides.entry_side_free(proposal), now

    def expired(self, now: datetime) -> list[tuple[OrderProposal, Decision]]:
        """The entries whose what-if went unanswered for ``risk.what_if_timeout_s``, each with
        its refusal; they no longer wait."""
        timeout_s = self.ctx.config.risk.what_if_timeout_s
        limit = timedelta(seconds=timeout_s)
        refused: list[tuple[OrderProposal, Decision]] = []
        for key, waiting in list(self._margin_waits.items()):
            if now - waiting.asked_at >= limit:
                del self._margin_waits[key]
                detail = f"the broker did not answer the what-if within {timeout_s:.0f}s"
                refused.append((waiting.proposal, reject("what_if", detail)))
        return refused

    def _reg_t(self, proposal: OrderProposal) -> Decimal | None:
        """Our Reg-T estimate of the entry (the governor's figure), for the cross-check: the
        contracts of a call that the VA's shares cover need none."""
        contract = proposal.contract
        quote = self.ctx.quotes.latest(contract.symbol)
        if quote is None or contract.strike is None or contract.right is None:
            return None
        spot = (Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2
        return short_option_margin(
            right=contract.right,
            underlying=spot,
            strike=contract.strike,
            premium=proposal.limit_price or proposal.ref_price,
            contracts=proposal.quantity - self._covered(proposal),
            multiplier=contract.multiplier,
        ).quantize(Decimal("0.01"))

    def _covered(self, proposal: OrderProposal) -> int:
        """Contracts of a call to write that the VA's shares of the symbol cover, less its
        short calls on it (one a lot of the multiplier)."""
        contract = proposal.contract
        if contract.right != "C":
            return 0
        shares = written = 0
        for (va_id, _), held in self.sides.state.positions.items():
            if va_id != proposal.va_id or held.contract.symbol != contract.symbol:
                continue
            if not held.contract.is_option:
                shares += held.quantity
            elif held.contract.right == "C" and held.quantity < 0:
                written -= held.quantity
        lots = max(shares, 0) // contract.multiplier
        return min(proposal.quantity, max(0, lots - written))
