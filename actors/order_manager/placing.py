"""Placing orders for the OrderManager: an accepted proposal passes the market filters (entries)
or is clipped reduce-only (exits), then the gate; its orders (an entry with its protective stop)
are stored before anything reaches the broker (write-ahead), journaled, and submitted through
the pacer. A refusal goes back to the VA and the governor and into the journal.

``Placing`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from datetime import datetime

from actors.messages.commands import OrderProposal, Signal
from actors.messages.events import OrderRejected, SignalDecision
from actors.order_manager.combos import combo_checks, combo_record
from actors.order_manager.exits import ExitGuard
from actors.order_manager.margin import MarginGate
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.repricing import RepricePlans
from actors.order_manager.sides import OppositeSides
from actors.order_manager.state import HeldPosition, OrderBook, WorkingOrder
from actors.order_manager.submission import Submitter
from actors.runtime.context import EngineContext
from core.domain import OrderRequest, OrderStatus, OrderType, Purpose, Quote, Side
from core.events import MarginCheck
from core.rules import filters
from core.rules.decision import OK, Decision, reject
from core.rules.price_collar import check_limit_on_tick, check_price_collar
from core.ticks import on_tick_request
from db.ledger import DuplicateOrderError
from db.records import OrderRecord

__all__ = ["Placing"]


class Placing:
    """Filters, write-ahead records and submission of new orders (a part of the OrderManager)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        orders: OrderUpdates,
        submitter: Submitter,
        exits: ExitGuard,
        sides: OppositeSides,
        margin: MarginGate,
        repricing: RepricePlans,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.orders = orders
        self.submitter = submitter
        self.exits = exits
        self.sides = sides
        self.margin = margin
        self.repricing = repricing

    def close_at_market(
        self, va_id: str, position: HeldPosition, *, reason: str, now: datetime, tag: str
    ) -> None:
        """Close ``va_id``'s whole ``position`` with a MARKET exit (``tag`` names it in the
        order id; ``reason`` is the exit's reason in the ledger)."""
        self.place(
            OrderProposal(
                proposal_id=self.ctx.new_id(f"{va_id}-{tag}"),
                va_id=va_id,
                contract=position.contract,
                side=Side.SELL if position.quantity > 0 else Side.BUY,
                quantity=abs(position.quantity),
                order_type=OrderType.MKT,
                purpose=Purpose.EXIT,
                reason=reason,
                time=now,
                ref_price=position.avg_price,
                sector=position.sector,
            )
        )

    def place(self, proposal: OrderProposal) -> None:
        now = self.ctx.clock.now()
        if proposal.contract.is_combo:
            decision = combo_checks(proposal, now, self.ctx)
        elif proposal.purpose is Purpose.ENTRY:
            decision = self._filters(proposal, now)
            if decision:
                decision = self.sides.entry_side_free(proposal)
        else:
            decision, proposal = self.exits.clip_reduce_only(proposal)
            if decision:
                # Getting out: an entry still filling in this contract would re-open it.
                self.orders.cancel_where(
                    lambda o: (
                        o.purpose is Purpose.ENTRY
                        and o.record.va_id == proposal.va_id
                        and o.record.contract_key == proposal.contract.key
                    ),
                    "exit placed",
                )
        if decision and not self.ctx.gate.allows(reduce_only=proposal.reduce_only):
            decision = reject("gate", f"gate {self.ctx.gate.state.value}: {self.ctx.gate.reason}")
        if not decision:
            self.refuse(proposal, decision, now)
            return
        if not proposal.contract.is_combo and self.margin.wants_what_if(proposal):
            asked = self.margin.ask_margin(proposal, now)  # placed, or refused, on the answer
            if not asked:
                self.refuse(proposal, asked, now)
            return
        self.place_approved(proposal, now)

    def on_margin_check(self, check: MarginCheck) -> None:
        """The broker's what-if answer: the waiting entry is placed, or refused."""
        answered = self.margin.answer(check)
        if answered is None:
            return
        proposal, decision, now = answered
        if not decision:
            self.refuse(proposal, decision, now)
            return
        self.place_approved(proposal, now)

    def expire_margin_checks(self, now: datetime) -> None:
        """Refuse the entries whose what-if went unanswered too long."""
        for proposal, decision in self.margin.expired(now):
            self.refuse(proposal, decision, now)

    def place_approved(self, proposal: OrderProposal, now: datetime) -> None:
        """Store (write-ahead), journal and submit a proposal that passed every check."""
        records = self._records(proposal, now)
        try:
            self.ctx.ledger.insert_orders(records)  # write-ahead: stored before the broker
        except DuplicateOrderError:
            # An id already used (a replayed signal): never a second order under one id.
            self.refuse(
                proposal,
                reject("duplicate_id", f"order {proposal.proposal_id} already exists"),
                now,
            )
            return
        for record in records:
            self.state.orders[record.id] = WorkingOrder(
                record, OrderStatus.PENDING_SUBMIT, last_event_at=now, legs=proposal.legs
            )
        self._journal(proposal, OK, now)
        family = [r.id for r in records]
        for record in records:
            if proposal.purpose is Purpose.ENTRY or proposal.contract.is_combo:
                self.submitter.submit(
                    record.id
                )  # the governor took the pacing slots (entry + stop)
            else:
                self.sides.submit_exit(record, family)  # held while the other side works (options)
        if proposal.reprice is not None:
            self.repricing.start(records[0].id, proposal.reprice, proposal.reason.split(" ")[0])
        placed = self.state.orders.get(records[0].id)
        if placed is not None:
            self.orders.publish(placed)

    def _filters(self, proposal: OrderProposal, now: datetime) -> Decision:
        if proposal.contract.is_option:
            return self._option_filters(proposal, now)
        cfg = self.ctx.config.filters
        quote = self.ctx.quotes.latest(proposal.contract.key)
        decision = filters.check_quote_age(quote, now, cfg.max_quote_age_ms)
        if not decision or quote is None:
            return decision
        buy = proposal.side is Side.BUY
        for decision in (
            self._check_limit(proposal, quote),
            filters.check_trading_window(
                now, self.ctx.calendar, cfg.open_margin_min, cfg.close_margin_min
            ),
            filters.check_spread(quote, cfg.max_spread_bps),
            filters.check_slippage(quote, proposal.quantity, buy=buy, max_bps=cfg.max_slippage_bps),
            self.check_working_room(proposal),
        ):
            if not decision:
                return decision
        return OK

    def _option_filters(self, proposal: OrderProposal, now: datetime) -> Decision:
        """Entry filters for an option: a fresh quote, the trading window, the spread as a
        percent of the mid, and room under the working-order limit. (Expected slippage is not
        checked: the limit starts at the mid and never passes the natural price.)"""
        cfg = self.ctx.config.filters
        quote = self.ctx.quotes.latest(proposal.contract.key)
        decision = filters.check_quote_age(quote, now, cfg.max_quote_age_ms)
        if not decision or quote is None:
            return decision
        for decision in (
            self._check_limit(proposal, quote),
            filters.check_trading_window(
                now, self.ctx.calendar, cfg.open_margin_min, cfg.close_margin_min
            ),
            filters.check_option_spread(quote, cfg.max_option_spread_pct),
            self.check_working_room(proposal),
        ):
            if not decision:
                return decision
        return OK

    def _check_limit(self, proposal: OrderProposal, quote: Quote) -> Decision:
        """The fat-finger guard (``core.rules.price_collar``) on an entry's limit: it keeps a
        price on the contract's ticks and lies within the collar around the quote."""
        limit = proposal.limit_price
        if limit is None:
            return OK
        tick = self.ctx.broker.tick_rule(proposal.contract)
        decision = check_limit_on_tick(limit, tick, side=proposal.side)
        if not decision:
            return decision
        risk = self.ctx.config.risk
        pct = risk.option_price_collar_pct if proposal.contract.is_option else risk.price_collar_pct
        return check_price_collar(limit, quote, max_pct=pct)

    # -- re-pricing --------------------------------------------------------------------------

    def check_working_room(self, proposal: OrderProposal) -> Decision:
        """IB keeps at most ``orders.max_working_per_contract_side`` working orders per contract
        and side. An entry (and its stop, on the other side) may use all but one of them: the
        last is kept so a flatten can always get an exit out."""
        cap = self.ctx.config.orders.max_working_per_contract_side
        key = proposal.contract.key
        for side in (proposal.side, proposal.side.opposite):
            used = self.state.working_on(key, side)
            if used + 1 > cap - 1:
                return reject("working_orders", f"{key} {side.value} {used}+1/{cap - 1}")
        return OK

    def _records(self, proposal: OrderProposal, now: datetime) -> list[OrderRecord]:
        """The entry (or exit) and, for an entry, its attached protective stop (a combo: the
        one order, its net limit already in whole cents, never a stop)."""
        if proposal.contract.is_combo:
            return [combo_record(proposal, now)]
        tick = self.ctx.broker.tick_rule(proposal.contract)
        request = OrderRequest(
            client_order_id=proposal.proposal_id,
            contract=proposal.contract,
            side=proposal.side,
            order_type=proposal.order_type,
            quantity=proposal.quantity,
            limit_price=proposal.limit_price,
            reduce_only=proposal.reduce_only,
        )
        request = on_tick_request(request, tick)
        records = [
            OrderRecord.from_request(
                request,
                va_id=proposal.va_id,
                purpose=proposal.purpose.value,
                created_at=now,
                reason=proposal.reason,
                signal_id=proposal.proposal_id,
                delta_at_entry=proposal.delta,
                dte_at_entry=proposal.dte,
            )
        ]
        if proposal.purpose is Purpose.ENTRY and proposal.stop_price is not None:
            stop = OrderRequest(
                client_order_id=f"{proposal.proposal_id}.stop",
                contract=proposal.contract,
                side=proposal.side.opposite,
                order_type=OrderType.STP,
                quantity=proposal.quantity,
                stop_price=proposal.stop_price,
                parent_id=proposal.proposal_id,
                reduce_only=True,
                tif="GTC",
            )
            stop = on_tick_request(stop, tick)
            records.append(
                OrderRecord.from_request(
                    stop,
                    va_id=proposal.va_id,
                    purpose=Purpose.STOP.value,
                    created_at=now,
                    reason="stop",
                    signal_id=proposal.proposal_id,
                )
            )
        return records

    def refuse(self, proposal: OrderProposal, decision: Decision, now: datetime) -> None:
        rejected = OrderRejected(
            proposal.proposal_id,
            proposal.va_id,
            proposal.contract,
            proposal.purpose,
            "order_manager",
            decision.rule,
            decision.detail,
            now,
        )
        self.ctx.book.tell(f"va:{proposal.va_id}", rejected)
        self.ctx.book.tell("governor", rejected)
        self._journal(proposal, decision, now)

    def _journal(self, proposal: OrderProposal, decision: Decision, now: datetime) -> None:
        signal = Signal(
            proposal.proposal_id,
            proposal.va_id,
            proposal.contract,
            proposal.side,
            proposal.time,
            proposal.reason.split(" ")[0] or "engine",
            proposal.reason,
            close=proposal.purpose is not Purpose.ENTRY,
            quantity=proposal.quantity,
        )
        self.ctx.book.tell(
            "journal",
            SignalDecision(
                signal,
                decision.accepted,
                "order_manager",
                decision.rule or "accepted",
                f"{decision.detail} [{proposal.note}]".strip()
                if proposal.note
                else decision.detail,
                now,
            ),
        )
