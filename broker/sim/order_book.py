"""``OrderBook``: every order the simulator has seen, the fills applied to them (the rules of
``broker.sim.matching``) and the account they move.

Pure: no I/O, no threads, no clock (times are passed in). ``SimBroker`` owns the book and calls
it under its lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from broker.sim.account import SimAccount, execution_commission
from broker.sim.chains import OptionMarket
from broker.sim.market import MarketModel
from broker.sim.matching import (
    SimOrder,
    match_order,
    modify_problem,
    oca_admission,
    open_quantity,
    rejection_reason,
    target_quantity,
    tick_problem,
)
from core.domain import ComboLeg, Contract, OrderRequest, OrderStatus, OrderType, Quote, Side
from core.events import (
    BrokerEvent,
    BrokerOrderState,
    CompletedOrder,
    ExecutionEvent,
    OrderStatusEvent,
)
from core.rules.combos import ComboFill, combo_fill, combo_problem
from core.ticks import PENNY_ALL

__all__ = ["OrderBook"]


class OrderBook:
    """Every order the simulator has seen, the fills applied to them and the account they move.

    Not thread-safe: ``SimBroker`` calls it under its lock. Methods that change orders return
    the events that resulted, in the order they happened (per order: SUBMITTED, then an
    ``ExecutionEvent`` and a PARTIALLY_FILLED/FILLED status per fill). Working orders match in
    placement order (time priority) and share a quote's displayed size.

    Args:
        market: supplies the latest stock quotes and canonical contracts.
        account: every execution is booked into it.
        commission_per_share / commission_min: the IB-like per-order commission schedule.
        options: the option quotes; None: options are rejected.
        commission_per_contract / option_commission_min: the schedule for option orders.
    """

    def __init__(
        self,
        *,
        market: MarketModel,
        account: SimAccount,
        commission_per_share: Decimal,
        commission_min: Decimal,
        options: OptionMarket | None = None,
        commission_per_contract: Decimal = Decimal("0.65"),
        option_commission_min: Decimal = Decimal("1.00"),
    ) -> None:
        self._market = market
        self._account = account
        self._per_share = commission_per_share
        self._commission_min = commission_min
        self._options = options
        self._per_contract = commission_per_contract
        self._option_min = option_commission_min
        self._now: datetime | None = None
        self._orders: dict[str, SimOrder] = {}
        self._working: dict[str, SimOrder] = {}  # insertion order = time priority
        self._children: dict[str, list[str]] = {}
        self._executions: list[ExecutionEvent] = []
        self._liquidity: dict[tuple[str, Side], int] = {}
        self._next_order_id = 1
        self._next_exec_id = 1
        # Execution ids must never repeat across runs: the ledger stores each id once, so a
        # second run on the same database would otherwise drop its first fills as duplicates.
        self._exec_prefix = f"sim-{uuid.uuid4().hex[:8]}"
        self._events: list[BrokerEvent] = []

    def __contains__(self, client_order_id: object) -> bool:
        """Whether this client id was ever placed (working, finished or rejected)."""
        return client_order_id in self._orders

    # -- changes ----------------------------------------------------------------------------
    def place(self, order: OrderRequest, now: datetime, *, match_now: bool) -> list[BrokerEvent]:
        """Record a new order (the caller has refused duplicates): REJECTED if the venue
        refuses it, else SUBMITTED and, with ``match_now``, matched against the latest quote."""
        self._now = now
        sim = SimOrder(
            request=order,
            broker_order_id=self._next_order_id,
            quantity=order.quantity,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
        )
        self._next_order_id += 1
        self._orders[order.client_order_id] = sim
        reason = self._rejection_reason(order)
        if reason is None and order.oca_group:
            reason, sim.quantity = self._admit_to_oca(sim)
        if reason is not None:
            sim.status = OrderStatus.REJECTED
            self._events.append(self._status_event(sim, now, reason=reason))
        else:
            self._working[order.client_order_id] = sim
            if order.parent_id is not None:
                self._children.setdefault(order.parent_id, []).append(order.client_order_id)
            self._events.append(self._status_event(sim, now))
            if match_now:
                self._try_match(sim, now)
        return self._take_events()

    def restore(
        self, order: OrderRequest, *, filled: int, notional: Decimal, status: OrderStatus
    ) -> None:
        """Take back an order saved across a restart, with what it had filled (no events, no
        matching now). A working one matches again from the next quote; a finished one is kept
        only as the parent its restored children are capped by (restore parents first)."""
        sim = SimOrder(
            request=order,
            broker_order_id=self._next_order_id,
            quantity=order.quantity,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            status=status,
            filled=filled,
            notional=notional,
        )
        self._next_order_id += 1
        self._orders[order.client_order_id] = sim
        if status.is_working:
            self._working[order.client_order_id] = sim
            if order.parent_id is not None:
                self._children.setdefault(order.parent_id, []).append(order.client_order_id)

    def cancel(self, client_order_id: str, now: datetime, reason: str) -> list[BrokerEvent]:
        """Cancel a working order (no events if it is not working). A parent with no fill takes
        its attached orders with it."""
        sim = self._working.get(client_order_id)
        if sim is not None:
            self._finish(sim, OrderStatus.CANCELLED, now, reason=reason)
        return self._take_events()

    def modify_problem(
        self,
        client_order_id: str,
        quantity: int | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> str | None:
        """Why this modify is refused, or None if ``modify`` may apply it."""
        sim = self._working.get(client_order_id)
        if sim is None:
            return "not a working order"
        if sim.request.contract.is_combo:
            return _combo_modify_problem(sim, quantity, limit_price, stop_price)
        rule = self._market.tick_rule(sim.request.contract)
        return modify_problem(sim, rule, quantity, limit_price, stop_price)

    def modify(
        self,
        client_order_id: str,
        now: datetime,
        *,
        quantity: int | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        match_now: bool,
    ) -> list[BrokerEvent]:
        """Apply a modify ``modify_problem`` accepted: a status event with the new remaining
        (FILLED if the new quantity equals the filled), then any fill it makes possible."""
        sim = self._working[client_order_id]
        if quantity is not None:
            sim.quantity = quantity
        if limit_price is not None:
            sim.limit_price = limit_price
        if stop_price is not None:
            sim.stop_price = stop_price
        if sim.filled >= target_quantity(sim, self._parent(sim)):
            self._finish(sim, OrderStatus.FILLED, now)
        else:
            self._events.append(self._status_event(sim, now))
            if match_now:
                self._try_match(sim, now)
        return self._take_events()

    def cancel_contract(self, contract_key: str, now: datetime, reason: str) -> list[BrokerEvent]:
        """Cancel every working order in one contract (an option at its expiry), combos with a
        leg in it included."""
        for sim in [o for o in self._working.values() if contract_key in _keys(o)]:
            if sim.status.is_working:
                self._finish(sim, OrderStatus.CANCELLED, now, reason=reason)
        return self._take_events()

    def working_option_contracts(self) -> list[Contract]:
        """The option contracts of every working order (each once, in placement order)."""
        seen: dict[str, Contract] = {}
        for sim in self._working.values():
            for contract in (sim.request.contract, *(leg.contract for leg in sim.request.legs)):
                if contract.is_option:
                    seen.setdefault(contract.key, contract)
        return list(seen.values())

    def match_quotes(self, quotes: list[Quote], now: datetime) -> list[BrokerEvent]:
        """A new quote per contract has arrived: reset the displayed sizes and match every
        working order in time priority."""
        self._liquidity.clear()
        for quote in quotes:
            self._liquidity[(quote.contract.key, Side.BUY)] = quote.ask_size
            self._liquidity[(quote.contract.key, Side.SELL)] = quote.bid_size
        for sim in list(self._working.values()):
            if sim.status.is_working:
                self._try_match(sim, now)
        return self._take_events()

    # -- reads ------------------------------------------------------------------------------
    def open_orders(self) -> list[BrokerOrderState]:
        """Every working order, in placement order; ``quantity`` is a child's capped size."""
        return [
            BrokerOrderState(
                client_order_id=o.client_order_id,
                contract=o.request.contract,
                side=o.side,
                order_type=o.order_type,
                quantity=target_quantity(o, self._parent(o)),
                filled=o.filled,
                status=o.status,
            )
            for o in self._working.values()
        ]

    def executions(self) -> list[ExecutionEvent]:
        return list(self._executions)

    def completed_orders(self) -> list[CompletedOrder]:
        """Every order that is done, in placement order."""
        return [
            CompletedOrder(
                client_order_id=o.client_order_id,
                contract=o.request.contract,
                side=o.side,
                status=o.status,
                quantity=o.quantity,
                filled=o.filled,
                avg_fill_price=(o.notional / o.filled) if o.filled else None,
                time=None,
                order_type=o.order_type,
                limit_price=o.limit_price,
                stop_price=o.stop_price,
            )
            for o in self._orders.values()
            if o.status.is_terminal
        ]

    # -- internals --------------------------------------------------------------------------
    def _take_events(self) -> list[BrokerEvent]:
        events, self._events = self._events, []
        return events

    def _rejection_reason(self, order: OrderRequest) -> str | None:
        if order.contract.is_combo:
            return self._combo_rejection(order)
        options, now = self._options, self._now
        option_problem: Callable[[Contract], str | None] | None = None
        if options is not None and now is not None:
            moment = now

            def option_problem(contract: Contract) -> str | None:
                return options.listing_problem(contract, moment)

        reason = rejection_reason(order, known_symbols=self._market, option_problem=option_problem)
        if reason is None:
            rule = self._market.tick_rule(order.contract)
            reason = tick_problem(order.contract, rule, order.limit_price, order.stop_price)
        if reason is not None or order.parent_id is None:
            return reason
        parent = self._orders.get(order.parent_id)
        if parent is None or order.parent_id == order.client_order_id:
            return f"unknown parent order {order.parent_id!r}"
        if parent.status.is_terminal and parent.filled == 0:
            return f"parent order {order.parent_id!r} is {parent.status} with no fill"
        return None

    def _combo_rejection(self, order: OrderRequest) -> str | None:
        """Why a combo is refused: malformed (``combo_problem``), a leg the venue would refuse
        as an order of its own, or a net limit off the cent."""
        problem = combo_problem(order)
        if problem is not None:
            return f"combo refused: {problem}"
        if order.parent_id is not None or order.oca_group:
            return "combo refused: attached or OCA combos are not simulated"
        for leg in order.legs:
            single = OrderRequest(
                client_order_id=order.client_order_id,
                contract=leg.contract,
                side=leg.side,
                order_type=OrderType.MKT,
                quantity=order.quantity * leg.ratio,
            )
            reason = self._rejection_reason(single)
            if reason is not None:
                return f"combo leg {leg.contract.key}: {reason}"
        limit = order.limit_price
        if limit is not None and limit != 0 and not PENNY_ALL.on_tick(abs(limit)):
            return f"110 combo price {limit} is not a whole cent"
        return None

    def _admit_to_oca(self, sim: SimOrder) -> tuple[str | None, int]:
        """``oca_admission`` for ``sim`` against the earlier members of its OCA group."""
        group = sim.request.oca_group
        members = [
            (o.filled, open_quantity(o, self._parent(o)), o.status.is_working)
            for o in self._orders.values()
            if o is not sim and o.request.oca_group == group
        ]
        reason, quantity = oca_admission(sim.quantity, members)
        return (f"{reason} ({group})" if reason else None), quantity

    def _parent(self, sim: SimOrder) -> SimOrder | None:
        parent_id = sim.request.parent_id
        return self._orders.get(parent_id) if parent_id is not None else None

    def _quote(self, sim: SimOrder) -> Quote | None:
        if sim.request.contract.is_option:
            return self._options.last_quote(sim.key) if self._options is not None else None
        return self._market.last_quote(sim.symbol)

    def _leg_quote(self, leg: ComboLeg) -> Quote | None:
        if leg.contract.is_option:
            return self._options.last_quote(leg.contract.key) if self._options is not None else None
        return self._market.last_quote(leg.contract.symbol)

    def _try_match_combo(self, sim: SimOrder, now: datetime) -> None:
        """Both legs or neither: the whole combo fills at the net of its legs' touches."""
        fill = combo_fill(
            sim.request,
            limit=sim.limit_price,
            units=sim.quantity - sim.filled,
            quote_of=self._leg_quote,
            liquidity_of=lambda leg, side: self._liquidity.get((leg.contract.key, side), 0),
        )
        if fill is not None:
            self._fill_combo(sim, fill, now)

    def _fill_combo(self, sim: SimOrder, fill: ComboFill, now: datetime) -> None:
        """One execution per leg (its own contract, side, price and commission; all under the
        combo's client id), then the combo's status in units at the net price."""
        for part in fill.legs:
            key = (part.leg.contract.key, part.side)
            self._liquidity[key] = self._liquidity.get(key, 0) - part.quantity
            option = part.leg.contract.is_option
            commission = execution_commission(
                sim.filled * part.leg.ratio,
                part.quantity,
                per_share=self._per_contract if option else self._per_share,
                minimum=self._option_min if option else self._commission_min,
            )
            execution = ExecutionEvent(
                exec_id=f"{self._exec_prefix}-{self._next_exec_id:08d}",
                client_order_id=sim.client_order_id,
                contract=part.leg.contract,
                side=part.side,
                quantity=part.quantity,
                price=part.price,
                commission=commission,
                time=now,
            )
            self._next_exec_id += 1
            self._executions.append(execution)
            contract = (
                part.leg.contract if option else self._market.contract(part.leg.contract.symbol)
            )
            self._account.apply_fill(contract, part.side, part.quantity, part.price, commission)
            self._events.append(execution)
        sim.filled += fill.units
        sim.notional += fill.units * fill.net
        if sim.filled >= sim.quantity:
            self._finish(sim, OrderStatus.FILLED, now)
        else:
            sim.status = OrderStatus.PARTIALLY_FILLED
            self._events.append(self._status_event(sim, now))

    def _try_match(self, sim: SimOrder, now: datetime) -> None:
        if sim.request.contract.is_combo:
            self._try_match_combo(sim, now)
            return
        quote = self._quote(sim)
        if quote is None:
            return
        parent = self._parent(sim)
        key = (sim.key, sim.side)
        liquidity = self._liquidity.get(key, 0)
        match = match_order(sim, quote, open_qty=open_quantity(sim, parent), liquidity=liquidity)
        sim.triggered = match.triggered
        if match.quantity > 0 and match.price is not None:
            self._liquidity[key] = liquidity - match.quantity
            self._fill(sim, parent, match.quantity, match.price, now)

    def _fill(
        self, sim: SimOrder, parent: SimOrder | None, quantity: int, price: Decimal, now: datetime
    ) -> None:
        option = sim.request.contract.is_option
        commission = execution_commission(
            sim.filled,
            quantity,
            per_share=self._per_contract if option else self._per_share,
            minimum=self._option_min if option else self._commission_min,
        )
        execution = ExecutionEvent(
            exec_id=f"{self._exec_prefix}-{self._next_exec_id:08d}",
            client_order_id=sim.client_order_id,
            contract=sim.request.contract,
            side=sim.side,
            quantity=quantity,
            price=price,
            commission=commission,
            time=now,
        )
        self._next_exec_id += 1
        self._executions.append(execution)
        contract = sim.request.contract if option else self._market.contract(sim.symbol)
        self._account.apply_fill(contract, sim.side, quantity, price, commission)
        sim.filled += quantity
        sim.notional += quantity * price
        self._events.append(execution)
        if sim.filled >= target_quantity(sim, parent):
            self._finish(sim, OrderStatus.FILLED, now)
        else:
            sim.status = OrderStatus.PARTIALLY_FILLED
            self._events.append(self._status_event(sim, now))
        if sim.request.oca_group:
            self._reduce_oca(sim, quantity, now)

    def _reduce_oca(self, filled: SimOrder, quantity: int, now: datetime) -> None:
        """One-cancels-all with reduction: every other working member of ``filled``'s group
        loses ``quantity``; a member reduced to what it already filled is cancelled."""
        group = filled.request.oca_group
        for other in list(self._working.values()):
            if other is filled or other.request.oca_group != group:
                continue
            other.quantity = max(other.quantity - quantity, other.filled)
            if other.quantity <= other.filled:
                self._finish(
                    other,
                    OrderStatus.CANCELLED,
                    now,
                    reason=f"OCA group {group}: reduced by a fill of {filled.client_order_id}",
                )
            else:
                self._events.append(self._status_event(other, now))

    def _finish(self, sim: SimOrder, status: OrderStatus, now: datetime, reason: str = "") -> None:
        """Make ``sim`` terminal with ``status``, report it, then settle its attached orders."""
        sim.status = status
        self._working.pop(sim.client_order_id, None)
        self._events.append(self._status_event(sim, now, reason=reason))
        for child_id in self._children.get(sim.client_order_id, ()):
            child = self._working.get(child_id)
            if child is None:
                continue
            if sim.filled == 0:
                why = f"parent {sim.client_order_id} {status} with no fill"
                self._finish(child, OrderStatus.CANCELLED, now, reason=why)
            elif child.filled >= target_quantity(child, sim):
                self._finish(child, OrderStatus.FILLED, now)
            elif target_quantity(child, sim) < child.quantity:
                # The child now covers only what the parent filled: report the smaller remaining.
                self._events.append(self._status_event(child, now))

    def _status_event(self, sim: SimOrder, now: datetime, reason: str = "") -> OrderStatusEvent:
        if sim.status is OrderStatus.FILLED:
            remaining = 0
        else:
            remaining = max(target_quantity(sim, self._parent(sim)) - sim.filled, 0)
        return OrderStatusEvent(
            client_order_id=sim.client_order_id,
            status=sim.status,
            filled=sim.filled,
            remaining=remaining,
            avg_fill_price=sim.avg_fill_price,
            time=now,
            reason=reason,
            broker_order_id=sim.broker_order_id,
        )


def _keys(sim: SimOrder) -> tuple[str, ...]:
    """The contract keys an order trades: its own, and a combo's legs'."""
    return (sim.key, *(leg.contract.key for leg in sim.request.legs))


def _combo_modify_problem(
    sim: SimOrder, quantity: int | None, limit_price: Decimal | None, stop_price: Decimal | None
) -> str | None:
    """Why a modify of a working combo is refused (a net limit may be negative: a credit)."""
    if quantity is not None and (quantity <= 0 or quantity < sim.filled):
        return f"quantity {quantity} is not > 0 or is below the {sim.filled} filled"
    if stop_price is not None:
        return "a combo has no stop price"
    if limit_price is not None and limit_price != 0 and not PENNY_ALL.on_tick(abs(limit_price)):
        return f"110 combo price {limit_price} is not a whole cent"
    return None
