"""Options and re-pricing for the OrderManager: entry filters for options, limit orders that
walk toward the natural price by a ``RepricePlan``, single-order cancels asked by a VA, and
booking option expiry, exercise and assignment per VA.

Mixed into the OrderManager; runs on its actor thread (``_plan_tick`` on the clock's). Plans
live in memory and are rebuilt from the ledger by ``_recover_plans`` (``recover()``: at start
and after a crash).

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

from actors.messages.commands import CancelOrder, OrderProposal
from actors.messages.events import RiskNotice
from actors.messages.timers import RepricePlansDue
from actors.order_state import HeldPosition, WorkingOrder
from actors.runtime.context import EngineContext
from core.clock import Timer
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Purpose, Side
from core.events import AssignmentEvent, ExecutionEvent, ExpiryEvent
from core.rules import filters
from core.rules.decision import OK, Decision
from core.rules.repricing import (
    RepricePlan,
    plan_done,
    plan_progress,
    reprice_detail,
    repriced_limit,
    to_market_detail,
)
from core.rules.settle_found import allocate
from db.ledger import DuplicateOrderError
from db.records import OrderRecord

if TYPE_CHECKING:
    from actors.runtime.base import AddressBook

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
    _close_at_market: Callable[..., None]
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

    def _recover_plans(self, now: datetime) -> None:
        """Give every working order that was placed with a plan its plan again (at start and
        after a crash; ``self.orders`` is already rebuilt from the ledger).

        Which plan comes from what is stored, the order's kind (an option entry of a naked-put
        VA, an option exit for a stop or on time, a limit order) read against today's config;
        how far it had got from its stored re-prices (``plan_progress``). The walk goes on from
        the last stored re-price and its limit, at most ``interval_s`` after it: never past the
        plan's bound, and never faster than the plan (a re-price that left the limit unchanged
        was not stored and is made again, which only makes the walk slower). An order that was
        being cancelled to go to market still goes to market when its cancel is confirmed.
        """
        if self._plan_timer is not None:
            self._plan_timer.cancel()
        self._init_option_orders()
        for order in self.orders.values():
            record = order.record
            plan = self._stored_plan(record)
            if plan is None or not order.working:
                continue
            events = self.ctx.ledger.order_events(order.id)
            progress = plan_progress((event.time, event.detail) for event in events)
            if progress.limit is not None:  # the ledger's order keeps its first limit
                order.record = replace(record, limit_price=progress.limit)
            reason = record.reason.split(" ")[0] or record.purpose
            reprices = progress.reprices
            if progress.to_market and plan.then_market:
                self._plan_to_market[order.id] = reason
                reprices = max(reprices, plan.max_reprices or 0)  # done: cancel again
            last = progress.at or record.created_at
            due = max(now, last + timedelta(seconds=plan.interval_s))
            self._plans[order.id] = _Plan(plan, reason, reprices, due)
            logger.info(
                "order manager: re-pricing of {} resumed after re-price {} ({})",
                order.id,
                reprices,
                reason,
            )
        self._schedule_plans()

    def _stored_plan(self, record: OrderRecord) -> RepricePlan | None:
        """The plan the engine places an order like ``record`` with, by the config now (the
        strategy's entry walk, ``StrategySettings.entry_reprice_plan``; the option stop and
        time exits, ``actors/position_monitor.py``), or None for an order that has none."""
        if record.order_type is not OrderType.LMT or not record.contract.is_option:
            return None
        if record.purpose == Purpose.ENTRY:
            spec = next(
                (a.strategy for a in self.ctx.config.accounts if a.id == record.va_id), None
            )
            return spec.entry_reprice_plan() if spec is not None else None
        if record.purpose != Purpose.EXIT:
            return None
        cfg = self.ctx.config.exits.options
        if record.reason == "stop":
            return RepricePlan(
                interval_s=cfg.stop_reprice_s,
                steps=0,
                max_reprices=cfg.stop_max_reprices,
                then_market=True,
            )
        if record.reason == "time":
            return RepricePlan(interval_s=cfg.limit_reprice_s, steps=cfg.limit_reprice_steps)
        return None

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
        self.book.tell(self.address, RepricePlansDue(self.ctx.clock.now()))

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
            gate = self.ctx.gate
            if order.purpose is Purpose.ENTRY and not gate.allows(reduce_only=False):
                continue  # no entries now (halted, reconciling): the walk waits, no step taken
            if plan_done(state.plan, state.reprices):
                if state.plan.then_market and not gate.allows(reduce_only=True):
                    # The market order could not pass the gate now: keep this closing order
                    # at the plan's last step rather than cancel it for nothing.
                    self._reprice_one(order, state, now)
                    continue
                del self._plans[order_id]
                if state.plan.then_market:
                    # Cancel first; the market order goes out once the cancel is confirmed, so
                    # two closing orders for one position are never working at once. Stored
                    # first, so that a crash before the confirmation still goes to market.
                    self._plan_to_market[order_id] = state.reason
                    self._store_event(order, now, to_market_detail(state.reason, state.reprices))
                    self._paced(partial(self.ctx.broker.cancel_order, order_id))
                continue
            state.reprices += 1
            self._reprice_one(order, state, now)
        self._schedule_plans()

    def _store_event(self, order: WorkingOrder, now: datetime, detail: str) -> None:
        """Store ``detail`` as an order event (the order's status unchanged)."""
        self.ctx.ledger.update_order(
            order.id,
            status=order.status,
            filled=order.filled,
            avg_fill_price=order.avg_fill_price,
            time=now,
            detail=detail,
        )

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
            tick=self.ctx.broker.tick_rule(record.contract),
        )
        if limit == record.limit_price:
            return
        order.record = replace(record, limit_price=limit)
        self._paced(partial(self.ctx.broker.modify_order, order.id, limit_price=limit))
        most = state.plan.max_reprices
        self._store_event(order, now, reprice_detail(state.reason, state.reprices, most, limit))

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
        self._close_at_market(record.va_id, position, reason=reason, now=when, tag="mkt")

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
        if not holders and isinstance(event, AssignmentEvent):
            holders = self._closed_after_assignment(event)
        booked = sum(quantity for _, quantity in holders)
        if 0 < abs(event.quantity) < abs(booked) and (event.quantity > 0) == (booked > 0):
            # Part of the account's position (an early assignment of some contracts).
            holders, booked = allocate(holders, event.quantity), event.quantity
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

    def _closed_after_assignment(self, event: AssignmentEvent) -> list[tuple[str, int]]:
        """No VA holds the contracts IB assigned: the VA that traded them last closed them after
        IB had assigned them (a buy-back sent at the open, before the position changes that
        report the overnight assignment had been matched; IB then holds the bought contracts
        long). That VA gets the assignment: its books then hold what IB holds."""
        key = event.contract.key
        last = [e for e in self.ctx.ledger.executions() if e.contract_key == key]
        if not last:
            return []
        va = last[-1].va_id
        logger.warning(
            "order manager: {} assigned {} after VA {} closed them: booked to it",
            key,
            event.quantity,
            va,
        )
        return [(va, event.quantity)]

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
