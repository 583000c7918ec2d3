"""The signal side of a VirtualAccount: a signal (from its strategy, the inbox or a test)
checked against the VA's own rules and sized into an ``OrderProposal`` for the governor; a
closing signal proposes the whole position closed (``ExitProposals``). A refusal is journaled
with the rule and its numbers.

``SignalProposals`` is a part of ``VirtualAccount``: every method runs on the VA's actor thread.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from actors.messages.commands import OrderProposal, Signal
from actors.runtime.context import EngineContext
from actors.virtual_account.exits import ExitProposals
from actors.virtual_account.state import DecisionLog, Tell, VAState
from core.domain import OrderType, Purpose, Side, TradingState
from core.rules.decision import Decision, reject
from core.rules.price_collar import check_limit_on_tick
from core.rules.stops import protective_stop_price, stop_distance
from core.rules.va_rules import check_entry, size_position
from core.ticks import round_to_tick

__all__ = ["CENT", "SignalProposals"]

CENT = Decimal("0.01")


def _price(value: float, *, up: bool) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_UP if up else ROUND_DOWN)


class SignalProposals:
    """Signals in, proposals to the governor (or journaled refusals) out."""

    def __init__(
        self,
        *,
        ctx: EngineContext,
        state: VAState,
        log: DecisionLog,
        exits: ExitProposals,
        tell: Tell,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.log = log
        self.exits = exits
        self.tell = tell

    def on_signal(self, signal: Signal) -> None:
        now = self.ctx.clock.now()
        proposal_or_reason = self.propose(signal, now)
        if isinstance(proposal_or_reason, Decision):
            self.log.refused(signal, proposal_or_reason, now)
            return
        proposal = proposal_or_reason
        book = self.state.vabook
        if proposal.purpose is Purpose.ENTRY:
            book.working_entries[proposal.proposal_id] = proposal.contract.key
        else:
            book.working_exits[proposal.proposal_id] = proposal.contract.key
        self.log.proposed(proposal)
        self.tell("governor", proposal)

    def propose(self, signal: Signal, now: datetime) -> OrderProposal | Decision:
        """The proposal for ``signal`` by the VA's rules, or the rule that refuses it."""
        va = self.state
        if signal.va_id != va.va_id:
            return reject("unknown_va", f"signal for {signal.va_id} sent to {va.va_id}")
        if signal.contract.symbol not in va.universe:
            return reject("universe", f"{signal.contract.symbol} not in {sorted(va.universe)}")
        if va.trading_state is TradingState.HALTED and not signal.close:
            return reject("trading_state", "HALTED")
        key = signal.contract.key
        if signal.close:
            return self.exits.propose(
                signal.contract, "signal", now, signal.signal_id, OrderType.MKT, None
            )
        if signal.contract.is_option:
            return reject("unsupported", "option entries come from the naked_put strategy")
        decision = check_entry(va.vabook, signal.contract, va.limits, now)
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
            equity=va.vabook.equity,
            capital=va.vabook.capital,
            price=touch,
            stop_distance=distance,
            limits=va.limits,
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
            on_tick = check_limit_on_tick(limit, tick, side=signal.side)
            if not on_tick:  # never raised to the smallest tick: a price nobody asked for
                return on_tick
            limit = round_to_tick(limit, tick, side=signal.side)
        stop_price = protective_stop_price(touch, distance, signal.side.opposite, tick)
        return OrderProposal(
            proposal_id=signal.signal_id,
            va_id=va.va_id,
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
        """The strategy's own entry order type, else the engine's ``[orders] entry_type``."""
        own = self.state.account.strategy.entry_order_type()
        return own if own is not None else self.ctx.config.orders.entry_type
