"""Re-pricing plans for the OrderManager: limit orders that walk toward the natural price by a
``RepricePlan`` (option entries of a naked-put VA, option stop and time exits), and single-order
cancels asked by a VA.

``RepricePlans`` is a part of the OrderManager: runs on its actor thread (``_plan_tick`` on the
clock's). Plans live in memory and are rebuilt from the ledger by ``recover`` (``recover()`` of
the actor: at start and after a crash).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from loguru import logger

from actors.messages.commands import CancelOrder
from actors.messages.timers import RepricePlansDue
from actors.order_manager.combos import combo_net_quote
from actors.order_manager.orders import MarketCloser, OrderUpdates
from actors.order_manager.pacing import PacedOutbox
from actors.order_manager.state import OrderBook, WorkingOrder
from actors.runtime.context import EngineContext
from core.clock import Timer
from core.domain import OrderStatus, OrderType, Purpose, Side
from core.rules.combos import combo_repriced_limit
from core.rules.repricing import (
    RepricePlan,
    plan_done,
    plan_progress,
    reprice_detail,
    repriced_limit,
    to_market_detail,
)
from db.records import OrderRecord

__all__ = ["PlanProgress", "RepricePlans"]


@dataclass(slots=True)
class PlanProgress:
    """How far an order's re-pricing plan has got, and when its next step is due."""

    plan: RepricePlan
    reason: str
    reprices: int = 0
    due: datetime | None = None


class RepricePlans:
    """The re-pricing plans of working limit orders, by order id (a part of the OrderManager)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        outbox: PacedOutbox,
        *,
        address: str,
        orders: OrderUpdates,
        closer: MarketCloser,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.outbox = outbox
        self.address = address
        self.orders = orders
        self.closer = closer
        self._plan_timer: Timer | None = None
        self._reset()

    def _reset(self) -> None:
        self._plans: dict[str, PlanProgress] = {}
        self._plan_to_market: dict[str, str] = {}  # cancelled to go to market -> reason
        self._plan_timer = None

    def plan_of(self, order_id: str) -> PlanProgress | None:
        """The plan of a working order, if it has one."""
        return self._plans.get(order_id)

    def start(self, order_id: str, plan: RepricePlan, reason: str) -> None:
        """Re-price a just-placed limit order by ``plan``."""
        order = self.state.orders.get(order_id)
        if order is None or order.record.order_type is not OrderType.LMT:
            return
        self._plans[order_id] = PlanProgress(plan, reason or order.record.purpose)
        self._schedule_plans()

    def recover(self, now: datetime) -> None:
        """Give every working order that was placed with a plan its plan again (at start and
        after a crash; ``self.state.orders`` is already rebuilt from the ledger).

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
        self._reset()
        for order in self.state.orders.values():
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
            self._plans[order.id] = PlanProgress(plan, reason, reprices, due)
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
        time exits, ``actors/position_monitor/``), or None for an order that has none."""
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
        self.ctx.book.tell(self.address, RepricePlansDue(self.ctx.clock.now()))

    def reprice(self, now: datetime) -> None:
        self._plan_timer = None
        for order_id, state in list(self._plans.items()):
            order = self.state.orders.get(order_id)
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
                if state.plan.cancel_when_done:
                    self.orders.store_event(
                        order, now, f"{state.reason}: plan ended unfilled; cancelled"
                    )
                    self.orders.cancel(order_id)
                elif state.plan.then_market:
                    # Cancel first; the market order goes out once the cancel is confirmed, so
                    # two closing orders for one position are never working at once. Stored
                    # first, so that a crash before the confirmation still goes to market.
                    self._plan_to_market[order_id] = state.reason
                    self.orders.store_event(
                        order, now, to_market_detail(state.reason, state.reprices)
                    )
                    self.orders.cancel(order_id)
                continue
            state.reprices += 1
            self._reprice_one(order, state, now)
        self._schedule_plans()

    def _reprice_one(self, order: WorkingOrder, state: PlanProgress, now: datetime) -> None:
        record = order.record
        if record.contract.is_combo:
            net = combo_net_quote(self.ctx, order.legs)
            if net is None:  # a leg unquoted (or the legs unknown after a restart): this
                state.reprices -= 1  # step is not taken, so the plan waits for the quotes
                return
            limit = combo_repriced_limit(
                side=Side(record.side),
                bid=net[0],
                ask=net[1],
                step=state.reprices,
                steps=state.plan.steps,
            )
        else:
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
        bound = state.plan.bound
        if bound is not None:
            limit = min(limit, bound) if Side(record.side) is Side.BUY else max(limit, bound)
        if limit == record.limit_price:
            return
        order.record = replace(record, limit_price=limit)
        self.outbox.send(partial(self.ctx.broker.modify_order, order.id, limit_price=limit))
        most = state.plan.max_reprices
        self.orders.store_event(
            order, now, reprice_detail(state.reason, state.reprices, most, limit)
        )

    def order_ended(
        self, order: WorkingOrder, status: OrderStatus, when: datetime, reason: str
    ) -> None:
        """An order ended: forget its plan; if it was cancelled to go to market, close what
        is still held at market with the same reason."""
        self._plans.pop(order.id, None)
        to_market = self._plan_to_market.pop(order.id, None)
        if to_market is None:
            return
        record = order.record
        position = self.state.positions.get((record.va_id, record.contract_key))
        if position is None or position.quantity == 0:
            return
        self.closer.close_at_market(record.va_id, position, reason=to_market, now=when, tag="mkt")

    # -- single cancels ----------------------------------------------------------------------
    def cancel_one(self, command: CancelOrder) -> None:
        order = self.state.orders.get(command.order_id)
        if order is None or not order.working or order.record.va_id != command.va_id:
            return
        self._plans.pop(order.id, None)
        logger.debug("order manager: cancel {} ({})", order.id, command.reason)
        self.orders.cancel(order.id)

    # -- expiry and assignment ---------------------------------------------------------------
