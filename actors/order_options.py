"""Options and re-pricing for the OrderManager: entry filters for options, limit orders that
walk toward the natural price by a ``RepricePlan``, single-order cancels asked by a VA, and
booking option expiry, exercise and assignment per VA.

Mixed into the OrderManager; runs on its actor thread (``_plan_tick`` on the clock's).

Expiry and assignment arrive from the broker as one event per contract for the whole account.
The OrderManager knows which VAs hold the contract and books each VA's share as synthetic,
already-filled orders (purpose ``expiry`` / ``assignment``, reason ``expired`` / ``assigned``)
with one execution each, whose ids derive from the broker's event id: booking the same event
again stores nothing. The executions go through the normal execution path, so positions,
trades, the VAs' books and the report see them like any fill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from loguru import logger

from actors.clock import Timer
from actors.context import EngineContext
from actors.messages import CancelOrder, OrderProposal, Purpose, RiskNotice, Tick
from actors.order_state import HeldPosition, WorkingOrder
from actors.rules import filters
from actors.rules.decision import OK, Decision
from actors.rules.repricing import RepricePlan, plan_done, repriced_limit
from broker.base import (
    AssignmentEvent,
    Contract,
    ExecutionEvent,
    ExpiryEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from db.ledger import DuplicateOrderError
from db.records import OrderRecord

if TYPE_CHECKING:
    from actors.base import AddressBook

__all__ = ["OptionOrdersMixin"]

_ZERO = Decimal(0)


@dataclass(slots=True)
class _Plan:
    plan: RepricePlan
    reason: str
    reprices: int = 0
    due: datetime | None = None


class OptionOrdersMixin:
    ctx: EngineContext
    book: AddressBook
    address: str
    orders: dict[str, WorkingOrder]
    positions: dict[tuple[str, str], HeldPosition]

    # Provided by the OrderManager.
    _place: Callable[[OrderProposal], None]
    _paced: Callable[[Callable[[], None]], None]
    _on_execution: Callable[[ExecutionEvent], None]
    _check_working_room: Callable[[OrderProposal], Decision]

    def _init_option_orders(self) -> None:
        self._plans: dict[str, _Plan] = {}
        self._plan_to_market: dict[str, str] = {}  # cancelled to go to market -> reason
        self._plan_timer: Timer | None = None

    # -- filters -----------------------------------------------------------------------------
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
            filters.check_trading_window(
                now, self.ctx.calendar, cfg.open_margin_min, cfg.close_margin_min
            ),
            filters.check_option_spread(quote, cfg.max_option_spread_pct),
            self._check_working_room(proposal),
        ):
            if not decision:
                return decision
        return OK

    # -- re-pricing --------------------------------------------------------------------------
    def _start_plan(self, order_id: str, plan: RepricePlan, reason: str) -> None:
        """Re-price a just-placed limit order by ``plan``."""
        order = self.orders.get(order_id)
        if order is None or order.record.order_type is not OrderType.LMT:
            return
        self._plans[order_id] = _Plan(plan, reason or order.record.purpose)
        self._schedule_plans()

    def _schedule_plans(self) -> None:
        if not self._plans or self._plan_timer is not None:
            return
        now = self.ctx.clock.now()
        for state in self._plans.values():
            if state.due is None:
                state.due = now + timedelta(seconds=state.plan.interval_s)
        due = min(s.due for s in self._plans.values() if s.due is not None)
        delay = max((due - now).total_seconds(), 0.001)
        self._plan_timer = self.ctx.clock.call_later(delay, self._plan_tick, name="reprice-plan")

    def _plan_tick(self) -> None:
        """Clock thread: wake the actor to re-price the orders whose plan is due."""
        self.book.tell(self.address, Tick("reprice-plan", self.ctx.clock.now()))

    def _reprice_plans(self, now: datetime) -> None:
        self._plan_timer = None
        for order_id, state in list(self._plans.items()):
            order = self.orders.get(order_id)
            if order is None or not order.working:
                del self._plans[order_id]
                continue
            if state.due is not None and state.due > now:
                continue
            state.due = now + timedelta(seconds=state.plan.interval_s)
            if plan_done(state.plan, state.reprices):
                del self._plans[order_id]
                if state.plan.then_market:
                    # Cancel first; the market order goes out once the cancel is confirmed, so
                    # two closing orders for one position are never working at once.
                    self._plan_to_market[order_id] = state.reason
                    self._paced(partial(self.ctx.broker.cancel_order, order_id))
                continue
            state.reprices += 1
            self._reprice_one(order, state, now)
        self._schedule_plans()

    def _reprice_one(self, order: WorkingOrder, state: _Plan, now: datetime) -> None:
        record = order.record
        quote = self.ctx.quotes.latest(record.contract_key)
        if quote is None:
            return
        limit = repriced_limit(
            side=Side(record.side),
            bid=quote.bid,
            ask=quote.ask,
            step=state.reprices,
            steps=state.plan.steps,
        )
        if limit == record.limit_price:
            return
        order.record = replace(record, limit_price=limit)
        self._paced(partial(self.ctx.broker.modify_order, order.id, limit_price=limit))
        most = state.plan.max_reprices
        self.ctx.ledger.update_order(
            order.id,
            status=order.status,
            filled=order.filled,
            avg_fill_price=order.avg_fill_price,
            time=now,
            detail=f"{state.reason} re-price {state.reprices}/{most or '-'} to {limit}",
        )

    def _plan_order_done(self, order: WorkingOrder, when: datetime) -> None:
        """An order ended: forget its plan; if it was cancelled to go to market, close what
        is still held at market with the same reason."""
        self._plans.pop(order.id, None)
        reason = self._plan_to_market.pop(order.id, None)
        if reason is None:
            return
        record = order.record
        position = self.positions.get((record.va_id, record.contract_key))
        if position is None or position.quantity == 0:
            return
        self._place(
            OrderProposal(
                proposal_id=self.ctx.new_id(f"{record.va_id}-mkt"),
                va_id=record.va_id,
                contract=position.contract,
                side=Side.SELL if position.quantity > 0 else Side.BUY,
                quantity=abs(position.quantity),
                order_type=OrderType.MKT,
                purpose=Purpose.EXIT,
                reason=reason,
                time=when,
                ref_price=position.avg_price,
                sector=position.sector,
            )
        )

    # -- single cancels ----------------------------------------------------------------------
    def _cancel_one(self, command: CancelOrder) -> None:
        order = self.orders.get(command.order_id)
        if order is None or not order.working or order.record.va_id != command.va_id:
            return
        self._plans.pop(order.id, None)
        logger.debug("order manager: cancel {} ({})", order.id, command.reason)
        self._paced(partial(self.ctx.broker.cancel_order, order.id))

    # -- expiry and assignment ---------------------------------------------------------------
    def _on_settlement(self, event: ExpiryEvent | AssignmentEvent) -> None:
        """Book an option's expiry, exercise or assignment for every VA that held it."""
        key = event.contract.key
        holders = sorted(
            (va, position.quantity)
            for (va, position_key), position in self.positions.items()
            if position_key == key and position.quantity != 0
        )
        booked = sum(quantity for _, quantity in holders)
        if booked != event.quantity:
            self.book.tell(
                "governor",
                RiskNotice(
                    "reconcile",
                    f"{type(event).__name__} {event.event_id}: broker position "
                    f"{event.quantity} in {key}, VAs hold {booked}",
                    event.time,
                ),
            )
        assigned = isinstance(event, AssignmentEvent)
        for va, quantity in holders:
            self._book_synthetic(
                event,
                va,
                "opt",
                event.contract,
                Side.BUY if quantity < 0 else Side.SELL,
                abs(quantity),
                _ZERO,
                Purpose.ASSIGNMENT if assigned else Purpose.EXPIRY,
            )
            if isinstance(event, AssignmentEvent):
                # A put delivers stock the other way round: a short put buys 100 a contract.
                sign = 1 if event.contract.right == "C" else -1
                shares = sign * quantity * event.contract.multiplier
                self._book_synthetic(
                    event,
                    va,
                    "stk",
                    event.stock,
                    Side.BUY if shares > 0 else Side.SELL,
                    abs(shares),
                    event.price,
                    Purpose.ASSIGNMENT,
                )

    def _book_synthetic(
        self,
        event: ExpiryEvent | AssignmentEvent,
        va: str,
        leg: str,
        contract: Contract,
        side: Side,
        quantity: int,
        price: Decimal,
        purpose: Purpose,
    ) -> None:
        order_id = f"{event.event_id}.{va}.{leg}"
        reason = "expired" if purpose is Purpose.EXPIRY else "assigned"
        request = OrderRequest(order_id, contract, side, OrderType.MKT, quantity, reduce_only=True)
        record = OrderRecord.from_request(
            request, va_id=va, purpose=purpose.value, created_at=event.time, reason=reason
        )
        record = replace(record, status=OrderStatus.FILLED, filled=quantity, avg_fill_price=price)
        try:
            self.ctx.ledger.insert_orders([record])
        except DuplicateOrderError:
            return  # the same broker event again: booked already
        self._on_execution(
            ExecutionEvent(order_id, order_id, contract, side, quantity, price, _ZERO, event.time)
        )
