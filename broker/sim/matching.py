"""Order matching against the top of book: what an order may fill, at what price, and the
order book that applies those fills.

Pure: no I/O, no threads, no clock (times are passed in). ``match_order`` and friends read a
``SimOrder`` and decide; ``OrderBook`` owns the orders and applies the decisions, returning the
events they produce in order. ``SimBroker`` owns the book and calls it under its lock.

Rules (fills are always at the touch, never through it):

* MKT: buy at the ask, sell at the bid, up to the size displayed there.
* LMT: a buy fills at the ask once ask <= limit (price improvement when the limit is higher); a
  sell at the bid once bid >= limit.
* STP: a sell triggers once bid <= stop, a buy once ask >= stop; triggered, it is a MKT order.
* Attached (child) orders: may fill at most what their parent has filled so far; once the parent
  is done (filled or cancelled after a partial fill) the child's size is capped at the parent's
  filled quantity, so a protective stop covers exactly the shares bought.
* Options match the same way against their own quotes (``OptionMarket``), in contracts, with the
  per-contract commission schedule; an order for an option that is not listed is rejected.
* OCA groups reduce (IB ``ocaType`` 2): a fill reduces every other working member by the filled
  quantity; a member left with nothing is cancelled. An order joining a group after a fill is
  admitted as IB admits it (``oca_admission``): rejected "OCA group is already filled" once no
  member works any more, else reduced to what the group still has open.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from broker.sim.account import SimAccount, execution_commission
from broker.sim.chains import OptionMarket
from broker.sim.market import MarketModel, to_cents
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Quote, Side
from core.events import (
    BrokerEvent,
    BrokerOrderState,
    CompletedOrder,
    ExecutionEvent,
    OrderStatusEvent,
)

__all__ = [
    "OCA_ALREADY_FILLED",
    "Match",
    "OrderBook",
    "SimOrder",
    "match_order",
    "oca_admission",
    "open_quantity",
    "rejection_reason",
    "stop_triggered",
    "target_quantity",
]

_PRICE_QUANTUM = Decimal("0.0001")

#: IB's reason (error 201, "Order rejected - reason:OCA group is already filled.") for an order
#: placed into an OCA group that has already done its work.
OCA_ALREADY_FILLED = "OCA group is already filled"


@dataclass(slots=True)
class SimOrder:
    """The simulator's working record of one order (mutable; changed under the broker's lock).

    ``quantity``, ``limit_price`` and ``stop_price`` start as requested and change on a modify.
    """

    request: OrderRequest
    broker_order_id: int
    quantity: int
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: OrderStatus = OrderStatus.SUBMITTED
    filled: int = 0
    notional: Decimal = Decimal(0)
    triggered: bool = False

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def symbol(self) -> str:
        return self.request.contract.symbol

    @property
    def key(self) -> str:
        return self.request.contract.key

    @property
    def side(self) -> Side:
        return self.request.side

    @property
    def order_type(self) -> OrderType:
        return self.request.order_type

    @property
    def avg_fill_price(self) -> Decimal | None:
        """Average price of the fills so far (4 dp), None before the first fill."""
        if self.filled == 0:
            return None
        return (self.notional / self.filled).quantize(_PRICE_QUANTUM)


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of showing one order one quote.

    Attributes:
        triggered: the stop's state after this quote (always False for MKT/LMT).
        quantity: shares that fill now (0 for none).
        price: the fill price, None when nothing fills.
    """

    triggered: bool
    quantity: int = 0
    price: Decimal | None = None


def rejection_reason(
    order: OrderRequest,
    *,
    known_symbols: Container[str],
    option_problem: Callable[[Contract], str | None] | None = None,
) -> str | None:
    """Why the simulated venue rejects ``order`` outright, or None if it accepts it. Options
    are accepted only with an ``option_problem`` check that finds none. (Parent checks need
    the order book and are the broker's.)"""
    contract = order.contract
    if contract.sec_type == "OPT" and option_problem is not None:
        problem = option_problem(contract)
        if problem is not None:
            return f"option not tradable: {problem}"
    elif contract.sec_type != "STK":
        return (
            f"unsupported instrument: the simulator trades stocks (STK) and listed options, "
            f"not {contract.sec_type} ({contract.key})"
        )
    elif contract.symbol not in known_symbols:
        return f"unknown symbol {contract.symbol!r}: not one of the simulated symbols"
    if order.quantity <= 0:
        return f"quantity must be > 0 (got {order.quantity})"
    if order.order_type is OrderType.LMT and (order.limit_price is None or order.limit_price <= 0):
        return f"LMT order needs a limit price > 0 (got {order.limit_price})"
    if order.order_type is OrderType.STP and (order.stop_price is None or order.stop_price <= 0):
        return f"STP order needs a stop price > 0 (got {order.stop_price})"
    return None


def target_quantity(order: SimOrder, parent: SimOrder | None) -> int:
    """The total the order is to fill as things stand: its quantity, or for a child whose parent
    is done (terminal), the smaller of its quantity and what the parent filled."""
    if parent is None or parent.status.is_working:
        return order.quantity
    return min(order.quantity, parent.filled)


def open_quantity(order: SimOrder, parent: SimOrder | None) -> int:
    """Shares the order may fill now: the rest of its quantity, and for a child no more than
    the parent has filled (zero while the parent has no fill: the child is held)."""
    cap = order.quantity if parent is None else min(order.quantity, parent.filled)
    return max(cap - order.filled, 0)


def oca_admission(
    quantity: int, members: Iterable[tuple[int, int, bool]], *, reduce: bool = True
) -> tuple[str | None, int]:
    """How a new order of ``quantity`` joins an OCA group whose earlier members are given as
    ``(filled, open, working)`` (open: what a working member may still fill).

    Returns ``(reason, quantity)``: a reason (``OCA_ALREADY_FILLED``) when the order is refused,
    else the quantity it is admitted with. IB refuses an order placed into a group one of whose
    members has filled (error 201 "OCA group is already filled", seen with ``ocaType`` 1 on IB
    paper accounts); what it does with a reducing group (``ocaType`` 2/3) still partly working
    is not documented, so the simulator admits the order reduced to the most any working member
    may still fill, as if it had been in the group before the fills: a group after a fill never
    fills more than it had left. A group whose members all ended without a fill is no
    obstacle (the order starts a new group under the old name)."""
    members = list(members)
    if not any(filled > 0 for filled, _open, _working in members):
        return None, quantity
    still_open = [open_qty for _filled, open_qty, working in members if working and open_qty > 0]
    if not reduce or not still_open:
        return OCA_ALREADY_FILLED, quantity
    return None, min(quantity, max(still_open))


def stop_triggered(side: Side, stop_price: Decimal, quote: Quote) -> bool:
    """A sell stop triggers once the bid is at or below the stop; a buy stop once the ask is at
    or above it."""
    if side is Side.SELL:
        return to_cents(quote.bid) <= stop_price
    return to_cents(quote.ask) >= stop_price


def match_order(order: SimOrder, quote: Quote, *, open_qty: int, liquidity: int) -> Match:
    """What ``order`` fills against ``quote`` given ``open_qty`` shares it may fill now and
    ``liquidity`` shares still displayed at the touch it would take (the ask for a buy, the bid
    for a sell; fills earlier in the same quote have used the rest)."""
    triggered = order.triggered
    if order.order_type is OrderType.STP and not triggered:
        if order.stop_price is None or open_qty <= 0:
            return Match(triggered=False)
        triggered = stop_triggered(order.side, order.stop_price, quote)
        if not triggered:
            return Match(triggered=False)
    quantity = min(open_qty, liquidity)
    if quantity <= 0:
        return Match(triggered=triggered)
    touch = to_cents(quote.ask if order.side is Side.BUY else quote.bid)
    if order.order_type is OrderType.LMT:
        limit = order.limit_price
        if limit is None:
            return Match(triggered=False)
        marketable = touch <= limit if order.side is Side.BUY else touch >= limit
        if not marketable:
            return Match(triggered=False)
    return Match(triggered=triggered, quantity=quantity, price=touch)


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
        if quantity is not None and (quantity <= 0 or quantity < sim.filled):
            return f"quantity {quantity} is not > 0 or is below the {sim.filled} filled"
        if limit_price is not None and (sim.order_type is not OrderType.LMT or limit_price <= 0):
            return f"limit price {limit_price} is <= 0 or not for a {sim.order_type} order"
        if stop_price is not None and (sim.order_type is not OrderType.STP or stop_price <= 0):
            return f"stop price {stop_price} is <= 0 or not for a {sim.order_type} order"
        return self._tick_problem(sim.request.contract, limit_price, stop_price)

    def _tick_problem(
        self, contract: Contract, limit_price: Decimal | None, stop_price: Decimal | None
    ) -> str | None:
        """Why a price is refused as off its contract's ticks, as TWS refuses it (error 110,
        on a new order and on a modification), or None."""
        rule = self._market.tick_rule(contract)
        for price in (limit_price, stop_price):
            if price is not None and price > 0 and not rule.on_tick(price):
                return (
                    f"110 price {price} does not conform to the minimum price variation of "
                    f"{contract.key} ({rule.name}: {rule.increment_at(price)} at this price)"
                )
        return None

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
        """Cancel every working order in one contract (an option at its expiry)."""
        for sim in [o for o in self._working.values() if o.key == contract_key]:
            if sim.status.is_working:
                self._finish(sim, OrderStatus.CANCELLED, now, reason=reason)
        return self._take_events()

    def working_option_contracts(self) -> list[Contract]:
        """The option contracts of every working order (each once, in placement order)."""
        seen: dict[str, Contract] = {}
        for sim in self._working.values():
            if sim.request.contract.is_option:
                seen.setdefault(sim.key, sim.request.contract)
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
        options, now = self._options, self._now
        option_problem: Callable[[Contract], str | None] | None = None
        if options is not None and now is not None:
            moment = now

            def option_problem(contract: Contract) -> str | None:
                return options.listing_problem(contract, moment)

        reason = rejection_reason(order, known_symbols=self._market, option_problem=option_problem)
        if reason is None:
            reason = self._tick_problem(order.contract, order.limit_price, order.stop_price)
        if reason is not None or order.parent_id is None:
            return reason
        parent = self._orders.get(order.parent_id)
        if parent is None or order.parent_id == order.client_order_id:
            return f"unknown parent order {order.parent_id!r}"
        if parent.status.is_terminal and parent.filled == 0:
            return f"parent order {order.parent_id!r} is {parent.status} with no fill"
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

    def _try_match(self, sim: SimOrder, now: datetime) -> None:
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
