"""A VirtualAccount's exits: a whole position proposed closed (a closing signal, the
PositionMonitor's ``ExitRequest``, stock delivered by an assignment), and a working option exit
replaced by a more urgent one once its cancel is confirmed.

``ExitProposals`` is a part of ``VirtualAccount``: every method runs on the VA's actor thread.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from actors.messages.commands import CancelOrder, ExitRequest, OrderProposal, Signal
from actors.runtime.context import EngineContext
from actors.virtual_account.state import DecisionLog, Tell, VAState
from core.domain import Contract, OrderType, Purpose, Quote, Side
from core.rules.decision import Decision, reject
from core.rules.repricing import RepricePlan

__all__ = ["EXIT_URGENCY", "ExitProposals", "exact_mid"]

#: A working option exit is replaced by a request that is more urgent than its own reason.
EXIT_URGENCY = {"profit_target": 0, "signal": 0, "time": 1, "stop": 2, "flatten": 3}


def exact_mid(quote: Quote) -> Decimal:
    """The exact mid of a quote: ``Decimal(str(quote.mid))`` carries the float sum's error
    (99.51 and 99.53 give 99.52000000000001), which would drift equity and drawdown."""
    return (Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2


class ExitProposals:
    """Exit proposals for the VA's positions and the reasons of its working exits."""

    def __init__(self, *, ctx: EngineContext, state: VAState, log: DecisionLog, tell: Tell) -> None:
        self.ctx = ctx
        self.state = state
        self.log = log
        self.tell = tell
        #: Working exit order id -> its reason (``stop``, ``time``, ``assignment``, ...).
        self.reasons: dict[str, str] = {}
        #: Contract key -> the request waiting for a less urgent working exit's cancel.
        self.replacing: dict[str, ExitRequest] = {}

    def propose(
        self,
        contract: Contract,
        reason: str,
        now: datetime,
        proposal_id: str,
        order_type: OrderType,
        limit_price: Decimal | None,
        reprice: RepricePlan | None = None,
    ) -> OrderProposal | Decision:
        """A proposal closing the whole position in ``contract``, or why there is none."""
        book = self.state.vabook
        position = book.position(contract.key)
        if position == 0:
            return reject("no_position", f"nothing to close in {contract.key}")
        if contract.key in book.working_exits.values():
            return reject("exit_working", f"an exit for {contract.key} is already working")
        quote = self.ctx.quotes.latest(contract.key)
        ref = exact_mid(quote) if quote else book.holdings[contract.key].avg_price
        return OrderProposal(
            proposal_id=proposal_id,
            va_id=self.state.va_id,
            contract=contract,
            side=Side.SELL if position > 0 else Side.BUY,
            quantity=abs(position),
            order_type=order_type,
            purpose=Purpose.EXIT,
            reason=reason,
            time=now,
            ref_price=ref,
            limit_price=limit_price,
            sector=self.ctx.config.sector_of(contract.symbol),
            reprice=reprice,
        )

    def send(self, proposal: OrderProposal, reason: str) -> None:
        """Count ``proposal`` as a working exit and send it to the governor."""
        self.state.vabook.working_exits[proposal.proposal_id] = proposal.contract.key
        self.reasons[proposal.proposal_id] = reason
        self.log.proposed(proposal)
        self.tell("governor", proposal)

    def on_exit_request(self, request: ExitRequest) -> None:
        """The PositionMonitor asks to close a position (stop, target, time, flatten)."""
        if self._replace_exit(request):
            return
        va = self.state
        signal = Signal(
            signal_id=self.ctx.new_id(va.va_id),
            va_id=va.va_id,
            contract=request.contract,
            side=Side.SELL if va.vabook.position(request.contract.key) > 0 else Side.BUY,
            time=request.time,
            source="position_monitor",
            reason=request.reason,
            close=True,
        )
        now = self.ctx.clock.now()
        proposal = self.propose(
            request.contract,
            request.reason,
            now,
            signal.signal_id,
            request.order_type,
            request.limit_price,
            request.reprice,
        )
        if isinstance(proposal, Decision):
            if proposal.rule != "exit_working":
                if request.note:
                    proposal = reject(proposal.rule, f"{proposal.detail} [{request.note}]")
                self.log.refused(signal, proposal, now)
            return
        if request.note:  # decided on a stale or delayed mark: recorded with the decision
            proposal = replace(proposal, note=request.note)
        self.send(proposal, request.reason)

    def _replace_exit(self, request: ExitRequest) -> bool:
        """For an option: if a less urgent exit is working, cancel it and send ``request``
        once the cancel is confirmed. True when the request is taken care of here."""
        key = request.contract.key
        if not request.contract.is_option:
            return False
        if key in self.replacing:
            self.replacing[key] = request
            return True
        urgency = EXIT_URGENCY.get(request.reason, 0)
        for order_id, order_key in self.state.vabook.working_exits.items():
            if order_key != key:
                continue
            if EXIT_URGENCY.get(self.reasons.get(order_id, ""), 0) >= urgency:
                return False  # the working exit is as urgent: the usual dedupe applies
            self.replacing[key] = request
            self.tell("order_manager", CancelOrder(order_id, self.state.va_id, request.reason))
            self.log.note(f"replacing exit {order_id} of {key} by {request.reason}")
            return True
        return False

    def finished(self, order_id: str, contract_key: str) -> str | None:
        """A working exit ended: send the request that was waiting to replace it. Returns the
        ended exit's reason (None when unknown)."""
        reason = self.reasons.pop(order_id, None)
        request = self.replacing.pop(contract_key, None)
        if request is not None and contract_key not in self.state.vabook.working_exits.values():
            self.on_exit_request(request)
        return reason
