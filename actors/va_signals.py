"""The signal side of a VirtualAccount: a signal (from its strategy, the inbox or a test)
checked against the VA's own rules and sized into an ``OrderProposal`` for the governor, and
exits (a closing signal, or the PositionMonitor's ``ExitRequest``) proposed for the whole
position. A refusal is journaled with the rule and its numbers.

``SignalHandling`` is a mixin of ``VirtualAccount``: every method runs on the VA's own actor
thread and uses the VA's state.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import TYPE_CHECKING

from actors.messages.commands import ExitRequest, OrderProposal, Signal
from actors.messages.events import SignalDecision
from actors.runtime.context import EngineContext
from core.config import AccountConfig, AccountLimits
from core.domain import Contract, OrderType, Purpose, Quote, Side, TradingState
from core.rules.decision import Decision, reject
from core.rules.repricing import RepricePlan
from core.rules.stops import protective_stop_price, stop_distance
from core.rules.va_rules import VABook, check_entry, size_position
from core.ticks import round_to_tick

__all__ = ["CENT", "SignalHandling", "exact_mid"]

CENT = Decimal("0.01")


def _price(value: float, *, up: bool) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_UP if up else ROUND_DOWN)


def exact_mid(quote: Quote) -> Decimal:
    """The exact mid of a quote: ``Decimal(str(quote.mid))`` carries the float sum's error
    (99.51 and 99.53 give 99.52000000000001), which would drift equity and drawdown."""
    return (Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2


class SignalHandling:
    """Mixin: see the module docstring. Requires the attributes annotated below."""

    ctx: EngineContext
    va_id: str
    account: AccountConfig
    limits: AccountLimits
    vabook: VABook
    trading_state: TradingState
    universe: dict[str, Contract]
    _exit_reasons: dict[str, str]

    if TYPE_CHECKING:  # provided by VirtualAccount, OptionTrading (a subclass), EngineActor

        def _note(self, text: str) -> None: ...

        def tell(self, name: str, message: object) -> bool: ...

        def _replace_exit(self, request: ExitRequest) -> bool: ...

    # -- signals ----------------------------------------------------------------------------
    def _on_signal(self, signal: Signal) -> None:
        now = self.ctx.clock.now()
        proposal_or_reason = self._propose(signal, now)
        if isinstance(proposal_or_reason, Decision):
            self._decide(signal, proposal_or_reason, now)
            return
        proposal = proposal_or_reason
        if proposal.purpose is Purpose.ENTRY:
            self.vabook.working_entries[proposal.proposal_id] = proposal.contract.key
        else:
            self.vabook.working_exits[proposal.proposal_id] = proposal.contract.key
        self.tell("governor", proposal)

    def _propose(self, signal: Signal, now: datetime) -> OrderProposal | Decision:
        if signal.va_id != self.va_id:
            return reject("unknown_va", f"signal for {signal.va_id} sent to {self.va_id}")
        if signal.contract.symbol not in self.universe:
            return reject("universe", f"{signal.contract.symbol} not in {sorted(self.universe)}")
        if self.trading_state is TradingState.HALTED and not signal.close:
            return reject("trading_state", "HALTED")
        key = signal.contract.key
        if signal.close:
            return self._exit_proposal(
                signal.contract,
                "signal",
                now,
                signal.signal_id,
                OrderType.MKT,
                None,
            )
        if signal.contract.is_option:
            return reject("unsupported", "option entries come from the naked_put strategy")
        decision = check_entry(self.vabook, signal.contract, self.limits, now)
        if not decision:
            return decision
        quote = self.ctx.quotes.latest(key)
        if quote is None:
            return reject("no_quote", key)
        buy = signal.side is Side.BUY
        touch = _price(quote.ask if buy else quote.bid, up=buy)
        stop_pct = Decimal(str(self.ctx.config.orders.stop_loss_pct)) / 100
        distance = stop_distance(touch, stop_pct).quantize(CENT)
        quantity = signal.quantity or size_position(
            equity=self.vabook.equity,
            capital=self.vabook.capital,
            price=touch,
            stop_distance=distance,
            limits=self.limits,
        )
        if quantity <= 0:
            return reject("size", f"0 shares at {touch} with stop distance {distance}")
        order_type = signal.order_type or OrderType(self._entry_type())
        tick = self.ctx.broker.tick_rule(signal.contract)
        limit = signal.limit_price
        if order_type is OrderType.LMT and limit is None:
            offset = Decimal(str(self.ctx.config.orders.entry_limit_offset_bps)) / 10_000
            limit = touch * (1 + offset if buy else 1 - offset)
        if limit is not None:  # the offset limit, or the inbox's: onto the stock's ticks
            limit = round_to_tick(limit, tick, side=signal.side)
        stop_price = protective_stop_price(touch, distance, signal.side.opposite, tick)
        return OrderProposal(
            proposal_id=signal.signal_id,
            va_id=self.va_id,
            contract=signal.contract,
            side=signal.side,
            quantity=quantity,
            order_type=order_type,
            purpose=Purpose.ENTRY,
            reason=f"{signal.reason} [delayed data]"
            if quote.data_type.is_delayed
            else signal.reason,
            time=now,
            ref_price=touch,
            limit_price=limit if order_type is OrderType.LMT else None,
            stop_price=stop_price,
            sector=self.ctx.config.sector_of(signal.contract.symbol),
        )

    def _entry_type(self) -> str:
        spec = self.account.strategy
        return str(getattr(spec, "order_type", self.ctx.config.orders.entry_type))

    def _exit_proposal(
        self,
        contract: Contract,
        reason: str,
        now: datetime,
        proposal_id: str,
        order_type: OrderType,
        limit_price: Decimal | None,
        reprice: RepricePlan | None = None,
    ) -> OrderProposal | Decision:
        position = self.vabook.position(contract.key)
        if position == 0:
            return reject("no_position", f"nothing to close in {contract.key}")
        if contract.key in self.vabook.working_exits.values():
            return reject("exit_working", f"an exit for {contract.key} is already working")
        quote = self.ctx.quotes.latest(contract.key)
        ref = exact_mid(quote) if quote else self.vabook.holdings[contract.key].avg_price
        return OrderProposal(
            proposal_id=proposal_id,
            va_id=self.va_id,
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

    def _on_exit_request(self, request: ExitRequest) -> None:
        if self._replace_exit(request):
            return
        signal = Signal(
            signal_id=self.ctx.new_id(self.va_id),
            va_id=self.va_id,
            contract=request.contract,
            side=Side.SELL if self.vabook.position(request.contract.key) > 0 else Side.BUY,
            time=request.time,
            source="position_monitor",
            reason=request.reason,
            close=True,
        )
        now = self.ctx.clock.now()
        proposal = self._exit_proposal(
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
                self._decide(signal, proposal, now)
            return
        if request.note:  # decided on a stale or delayed mark: recorded with the decision
            proposal = replace(proposal, note=request.note)
        self.vabook.working_exits[proposal.proposal_id] = proposal.contract.key
        self._exit_reasons[proposal.proposal_id] = request.reason
        self.tell("governor", proposal)

    def _decide(self, signal: Signal, decision: Decision, now: datetime) -> None:
        self._note(f"{signal.side.value} {signal.contract.key}: {decision.rule} {decision.detail}")
        self.tell(
            "journal",
            SignalDecision(signal, decision.accepted, "va", decision.rule, decision.detail, now),
        )
