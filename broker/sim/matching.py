"""Order matching against the top of book: what an order may fill and at what price.

Pure: no I/O, no threads, no clock (times are passed in). ``match_order`` and friends read a
``SimOrder`` and decide; ``OrderBook`` (``broker.sim.order_book``) owns the orders and applies
the decisions. ``SimBroker`` owns the book and calls it under its lock.

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

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from decimal import Decimal

from broker.sim.market import to_cents
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Quote, Side
from core.ticks import TickRule

__all__ = [
    "OCA_ALREADY_FILLED",
    "Match",
    "SimOrder",
    "match_order",
    "modify_problem",
    "oca_admission",
    "open_quantity",
    "rejection_reason",
    "stop_triggered",
    "target_quantity",
    "tick_problem",
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


def tick_problem(
    contract: Contract, rule: TickRule, limit_price: Decimal | None, stop_price: Decimal | None
) -> str | None:
    """Why a price is refused as off its contract's ticks (``rule``), as TWS refuses it (error
    110, on a new order and on a modification), or None."""
    for price in (limit_price, stop_price):
        if price is not None and price > 0 and not rule.on_tick(price):
            return (
                f"110 price {price} does not conform to the minimum price variation of "
                f"{contract.key} ({rule.name}: {rule.increment_at(price)} at this price)"
            )
    return None


def modify_problem(
    sim: SimOrder,
    rule: TickRule,
    quantity: int | None,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
) -> str | None:
    """Why a modify of the working order ``sim`` is refused (``rule``: its contract's ticks),
    or None if it may be applied."""
    if quantity is not None and (quantity <= 0 or quantity < sim.filled):
        return f"quantity {quantity} is not > 0 or is below the {sim.filled} filled"
    if limit_price is not None and (sim.order_type is not OrderType.LMT or limit_price <= 0):
        return f"limit price {limit_price} is <= 0 or not for a {sim.order_type} order"
    if stop_price is not None and (sim.order_type is not OrderType.STP or stop_price <= 0):
        return f"stop price {stop_price} is <= 0 or not for a {sim.order_type} order"
    return tick_problem(sim.request.contract, rule, limit_price, stop_price)


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
