"""Flatten for the OrderManager: net each contract across VAs, close the rest with re-priced
marketable limits that fall back to market, and keep within IB's working-order limit.

``Flatten`` is a part of the OrderManager: runs on its actor thread (``_reprice_tick`` on the
clock's).

What a flatten keeps in memory is rebuilt from the ledger by ``Flatten.recover``
(``recover()``): every working flatten limit is re-priced again from its last stored re-price
and still goes to market (one that was being cancelled for that, too). After a crash of the
OrderManager alone, the governor is still ``FLATTENING`` (its stored state) and waits for
``FlattenDone``: the whole-account flatten is then resumed, positions left without a working
close (queued for room, or not yet reached) are closed too, and ``FlattenDone`` follows once
all is flat. After an engine restart the governor ends ``HALTED``: only the working flatten
orders go on. A per-VA flatten's queue is not rebuilt.

Covered calls first: a VA's long stock on whose symbol the same VA is short calls (the wheel's
covered calls) waits in the queue until those calls are bought back, so the VA is never short
a naked call for a moment. If a call's buy-back ends without closing it (refused, cancelled)
the stock is kept as its cover, not sold: the flatten stays unfinished (no ``FlattenDone``), a
``flatten_held`` risk notice says which stock waits for which call, and the stock is sold at
the first re-price tick after the call is closed (by hand, or by flattening again).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from functools import partial

from loguru import logger

from actors.messages.commands import OrderProposal
from actors.messages.events import FlattenDone, RiskNotice
from actors.messages.timers import RepriceDue
from actors.order_manager.executions import Executions
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.pacing import PacedOutbox
from actors.order_manager.placing import Placing
from actors.order_manager.state import HeldPosition, OrderBook, WorkingOrder
from actors.risk_governor import STATE_KIND
from actors.runtime.context import EngineContext
from core.clock import Timer
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Purpose, Side, TradingState
from core.events import ExecutionEvent
from core.rules.flatten import Cross, plan_flatten
from core.rules.repricing import plan_progress, reprice_detail, to_market_detail
from core.ticks import round_to_tick
from db.records import OrderRecord

__all__ = ["Flatten"]

MID_QUANTUM = Decimal("0.0001")


class Flatten:
    """Flatten a VA or the whole account (a part of the OrderManager)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        outbox: PacedOutbox,
        *,
        address: str,
        orders: OrderUpdates,
        executions: Executions,
        placing: Placing,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.outbox = outbox
        self.address = address
        self.orders = orders
        self.executions = executions
        self.placing = placing
        self._reprice_timer: Timer | None = None
        self._reset()

    def _reset(self) -> None:
        self.flattening: set[str | None] = set()  # None = all VAs
        self._repricing: dict[str, int] = {}  # flatten limit order id -> re-prices so far
        self._to_market: set[str] = set()  # flatten limits cancelled to go to market
        self._reprice_timer = None
        self._backlog: deque[tuple[str, str]] = deque()  # (va, contract key) waiting a turn
        self._resume = False  # a whole-account flatten to resume once exits may pass
        self._held_noted: set[tuple[str, str]] = set()  # stock kept as cover, already told

    def recover(self, now: datetime, *, resume: bool) -> None:
        """Rebuild the flatten's re-pricing from the ledger (``self.state.orders`` already rebuilt).

        Every working flatten limit is re-priced again from its last stored re-price (a count
        below the true one only delays the market order by that many intervals; never past
        ``orders.flatten_max_reprices``); one stored as cancelled to go to market goes to market
        when the cancel is confirmed (the cancel is sent again). With ``resume`` (a crash, not a
        start) and the governor's stored state ``FLATTENING``, the whole-account flatten goes
        on: at the first re-price tick at which exits may pass, working entries are cancelled
        and every position without a working exit is crossed or closed like at the start."""
        if self._reprice_timer is not None:
            self._reprice_timer.cancel()
        self._reset()
        limit = self.ctx.config.orders.flatten_max_reprices
        for order in self.state.orders.values():
            record = order.record
            if not (
                order.working
                and order.purpose is Purpose.EXIT
                and record.reason == "flatten"
                and record.order_type is OrderType.LMT
            ):
                continue
            events = self.ctx.ledger.order_events(order.id)
            progress = plan_progress((event.time, event.detail) for event in events)
            if progress.limit is not None:  # the ledger's order keeps its first limit
                order.record = replace(record, limit_price=progress.limit)
            count = min(progress.reprices, limit)
            if progress.to_market:
                self._to_market.add(order.id)
                count = limit
            self._repricing[order.id] = count
        state = self.ctx.ledger.latest_risk_event(STATE_KIND)
        if resume and state is not None and state.state == TradingState.FLATTENING.value:
            self.flattening.add(None)
            self._resume = True
        if self._repricing or self._resume:
            logger.info(
                "order manager: {} flatten limits re-priced again{}",
                len(self._repricing),
                "; the whole-account flatten resumes" if self._resume else "",
            )
        self._schedule_reprice()

    def flatten(self, va_id: str | None, reason: str) -> None:
        """Cancel working entries; cross opposite positions in a contract internally at the
        mid; close the rest per VA with a reduce-only marketable limit at the touch, re-priced
        every ``orders.flatten_reprice_s`` up to ``orders.flatten_max_reprices`` times, then
        replaced by a market order; at most ``orders.max_working_per_contract_side`` of them
        working per contract and side. Protective stops stay until their position is closed."""
        now = self.ctx.clock.now()
        self.flattening.add(va_id)
        self.orders.cancel_entries(va_id, f"flatten: {reason}")
        plan = plan_flatten(
            (owner, key, position.quantity)
            for (owner, key), position in self.state.positions.items()
            if va_id is None or owner == va_id
        )
        for cross in plan.crosses:
            self._cross_internally(cross, now)
        self._backlog.extend((va, key) for va, key, _q in plan.closes)
        self._flatten_more(now)
        self._schedule_reprice()
        self._check_flatten_done(now)

    def _cross_internally(self, cross: Cross, now: datetime) -> None:
        """Book both sides of an internal cross at the mid (no broker order, no commission)."""
        position = self.state.positions[(cross.long_va, cross.contract_key)]
        quote = self.ctx.quotes.latest(cross.contract_key)
        price = (
            ((Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2).quantize(MID_QUANTUM)
            if quote is not None
            else position.avg_price
        )
        for va, side, other in (
            (cross.long_va, Side.SELL, cross.short_va),
            (cross.short_va, Side.BUY, cross.long_va),
        ):
            order_id = self.ctx.new_id(f"{va}-cross")
            request = OrderRequest(
                order_id, position.contract, side, OrderType.MKT, cross.quantity, reduce_only=True
            )
            record = OrderRecord.from_request(
                request,
                va_id=va,
                purpose=Purpose.EXIT.value,
                created_at=now,
                reason="flatten_cross",
            )
            self.ctx.ledger.insert_orders([record])
            self.ctx.ledger.update_order(
                order_id,
                status=OrderStatus.FILLED,
                filled=cross.quantity,
                avg_fill_price=price,
                time=now,
                detail=f"crossed internally against {other} at the mid",
            )
            self.executions.on_execution(
                ExecutionEvent(
                    f"cross-{order_id}",
                    order_id,
                    position.contract,
                    side,
                    cross.quantity,
                    price,
                    Decimal(0),
                    now,
                )
            )

    def _flatten_more(self, now: datetime) -> None:
        """Place queued flatten closes while the contract-side has room under IB's limit and
        the gate lets exits pass (else they wait for a re-price tick at which it does)."""
        if not self.ctx.gate.allows(reduce_only=True):
            return
        cap = self.ctx.config.orders.max_working_per_contract_side
        waiting: deque[tuple[str, str]] = deque()
        covers: list[tuple[str, HeldPosition, list[HeldPosition]]] = []
        while self._backlog:
            va, key = self._backlog.popleft()
            position = self.state.positions.get((va, key))
            if position is None or position.quantity == 0:
                continue
            calls = self._short_calls_on(va, position)
            if calls:  # the stock covers them: sold once they are bought back
                waiting.append((va, key))
                covers.append((va, position, calls))
                continue
            side = Side.SELL if position.quantity > 0 else Side.BUY
            if self.state.working_on(key, side) >= cap:
                waiting.append((va, key))
                continue
            self._flatten_position(va, position, now, marketable=True)
        self._backlog = waiting
        for va, stock, calls in covers:
            self._note_held_cover(va, stock, calls, now)

    def _short_calls_on(self, va: str, position: HeldPosition) -> list[HeldPosition]:
        """The VA's short calls on the symbol of its long stock ``position`` (none for any
        other position): the calls the stock covers."""
        contract = position.contract
        if contract.is_option or position.quantity <= 0:
            return []
        return [
            p
            for (owner, _), p in self.state.positions.items()
            if owner == va
            and p.quantity < 0
            and p.contract.is_option
            and p.contract.right == "C"
            and p.contract.symbol == contract.symbol
        ]

    def _note_held_cover(
        self, va: str, stock: HeldPosition, calls: list[HeldPosition], now: datetime
    ) -> None:
        """Say once that ``stock`` is kept because a call it covers is still short with no
        buy-back under way (its close ended unfilled): selling the stock would leave the call
        naked. A call still being bought back is the ordinary wait, said nothing of."""
        closing = {
            (o.record.va_id, o.record.contract_key)
            for o in self.state.orders.values()
            if o.working and o.purpose is Purpose.EXIT
        } | set(self._backlog)
        stranded = [c.contract.key for c in calls if (va, c.contract.key) not in closing]
        held = (va, stock.contract.key)
        if not stranded:
            self._held_noted.discard(held)
            return
        if held in self._held_noted:
            return
        self._held_noted.add(held)
        reason = (
            f"flatten of {va}: {stock.quantity} {stock.contract.key} kept as the cover of "
            f"{', '.join(stranded)}, whose buy-back ended unfilled; the stock is sold once "
            "the call is closed (by hand or by flattening again)"
        )
        logger.warning("order manager: {}", reason)
        self.ctx.book.tell("governor", RiskNotice("flatten_held", reason, now))

    def _flatten_position(
        self, owner: str, position: HeldPosition, now: datetime, *, marketable: bool
    ) -> None:
        side = Side.SELL if position.quantity > 0 else Side.BUY
        touch = self._touch_price(position.contract, side) if marketable else None
        proposal = OrderProposal(
            proposal_id=self.ctx.new_id(f"{owner}-flat"),
            va_id=owner,
            contract=position.contract,
            side=side,
            quantity=abs(position.quantity),
            order_type=OrderType.LMT if touch is not None else OrderType.MKT,
            purpose=Purpose.EXIT,
            reason="flatten",
            time=now,
            ref_price=touch or position.avg_price,
            limit_price=touch,
            sector=position.sector,
        )
        self.placing.place(proposal)
        if touch is not None and proposal.proposal_id in self.state.orders:
            self._repricing[proposal.proposal_id] = 0

    def _touch_price(self, contract: Contract, side: Side) -> Decimal | None:
        """The price a marketable limit needs now: the bid to sell, the ask to buy."""
        quote = self.ctx.quotes.latest(contract.key)
        if quote is None:
            return None
        price = quote.bid if side is Side.SELL else quote.ask
        return round_to_tick(price, self.ctx.broker.tick_rule(contract), side=side)

    def _resume_flatten(self, now: datetime) -> None:
        """Go on with a whole-account flatten after a crash: cancel working entries, then cross
        or close every position that has no working exit (its close was queued or lost)."""
        self._resume = False
        self.orders.cancel_entries(None, "flatten resumed after an order manager crash")
        covered = {
            (o.record.va_id, o.record.contract_key)
            for o in self.state.orders.values()
            if o.working and o.purpose is Purpose.EXIT
        }
        plan = plan_flatten(
            (owner, key, position.quantity)
            for (owner, key), position in self.state.positions.items()
            if (owner, key) not in covered
        )
        for cross in plan.crosses:
            self._cross_internally(cross, now)
        self._backlog.extend((va, key) for va, key, _q in plan.closes)
        self._flatten_more(now)
        self._check_flatten_done(now)

    def _schedule_reprice(self) -> None:
        busy = self._repricing or self._backlog or self._resume
        if busy and self._reprice_timer is None:
            self._reprice_timer = self.ctx.clock.call_later(
                self.ctx.config.orders.flatten_reprice_s, self._reprice_tick, name="reprice"
            )

    def _reprice_tick(self) -> None:
        """Clock thread: wake the actor to re-price its flatten orders."""
        self.ctx.book.tell(self.address, RepriceDue(self.ctx.clock.now()))

    def reprice(self, now: datetime) -> None:
        self._reprice_timer = None
        exits_pass = self.ctx.gate.allows(reduce_only=True)
        if self._resume and exits_pass:
            self._resume_flatten(now)
        elif self._backlog and exits_pass:
            self._flatten_more(now)
        limit = self.ctx.config.orders.flatten_max_reprices
        for order_id, done in list(self._repricing.items()):
            order = self.state.orders.get(order_id)
            if order is None or not order.working:
                del self._repricing[order_id]
                continue
            if done >= limit and exits_pass:
                # Out of patience: cancel, and send a market order once the cancel is confirmed
                # (never both working at once, so the close can never be doubled). Stored
                # first, so that a crash before the confirmation still goes to market.
                del self._repricing[order_id]
                self._to_market.add(order_id)
                self.orders.store_event(order, now, to_market_detail("flatten", done))
                self.orders.cancel(order_id)
                continue
            # With the gate closed to exits (a halt, a restart) the market order could not
            # go out: the limit stays, re-pegged to the touch, until it may.
            count = self._repricing[order_id] = min(done + 1, limit)
            touch = self._touch_price(order.record.contract, Side(order.record.side))
            if touch is None or touch == order.record.limit_price:
                continue
            order.record = replace(order.record, limit_price=touch)
            self.outbox.send(partial(self.ctx.broker.modify_order, order_id, limit_price=touch))
            self.orders.store_event(order, now, reprice_detail("flatten", count, limit, touch))
        self._schedule_reprice()

    def order_ended(
        self, order: WorkingOrder, status: OrderStatus, when: datetime, reason: str
    ) -> None:
        """A flatten-related order ended: go to market if it was cancelled for that, give the
        next queued close its turn, and report when everything in scope is flat."""
        if order.id in self._to_market:
            self._to_market.discard(order.id)
            owner, key = order.record.va_id, order.record.contract_key
            position = self.state.positions.get((owner, key))
            if position is not None and position.quantity != 0:
                if self.ctx.gate.allows(reduce_only=True):
                    self._flatten_position(owner, position, when, marketable=False)
                else:
                    # Closed to exits (the order manager or the governor restarting, a
                    # halt): queued, and closed at the first re-price tick they may pass.
                    self._backlog.append((owner, key))
        if self._backlog:
            self._flatten_more(when)
            self._schedule_reprice()
        self._check_flatten_done(when)

    def _check_flatten_done(self, now: datetime) -> None:
        for scope in list(self.flattening):
            busy = any(
                (scope is None or o.record.va_id == scope) and o.purpose is not Purpose.STOP
                for o in self.state.orders.values()
            ) or any(
                p.quantity != 0 and (scope is None or owner == scope)
                for (owner, _), p in self.state.positions.items()
            )
            if not busy:
                self.flattening.discard(scope)
                self.ctx.book.tell("governor", FlattenDone(scope, now))
