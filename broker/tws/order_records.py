"""The order desk's records and rules: one ``TwsOrder`` per order a client placed, the checks a
new order or a modification must pass, OCA group membership, the ``reqExecutions`` filter, and
the two seams the desk talks through (``SimOrderPort`` to the simulator, ``ClientRouter`` to the
clients).

Threads: event-loop thread only (records are mutable and owned by ``OrderDesk``). The checks
are pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from broker.tws import messages as msg
from broker.tws.codec import Field, FieldReader
from broker.tws.contracts import SUPPORTED_ORDER_TYPES, Instrument
from broker.tws.order_codec import (
    MarginState,
    OrderView,
    TwsExecution,
    exec_details_fields,
    open_order_fields,
)
from broker.tws.order_parsing import OrderSpec
from core.domain import ComboLeg, OrderRequest, OrderType, Side
from core.events import ExecutionEvent
from core.ticks import TickRule

__all__ = [
    "DONE_STATUSES",
    "ClientRouter",
    "ExecFilter",
    "SimOrderPort",
    "TwsOrder",
    "execution_messages",
    "modify_problem",
    "new_order_problem",
    "oca_group_members",
    "oca_members",
    "sim_request",
]

#: Statuses after which an order never changes again (it is then a "completed order").
DONE_STATUSES = frozenset({"Filled", "Cancelled", "Inactive"})
_TIFS = ("", "DAY", "GTC")
_PRICE_QUANTUM = Decimal("0.0001")


class SimOrderPort(Protocol):
    """The part of ``SimBroker`` the desk drives."""

    def place_order(self, order: OrderRequest) -> bool: ...

    def cancel_order(self, client_order_id: str) -> None: ...

    def modify_order(
        self,
        client_order_id: str,
        *,
        quantity: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None: ...

    def executions(self) -> list[ExecutionEvent]: ...


class ClientRouter(Protocol):
    """Delivers a message to every session of one API client id."""

    def send_to_client(self, client_id: int, fields: list[Field]) -> None: ...


@dataclass(slots=True, eq=False)
class TwsOrder:
    """One order of one client, as the simulated TWS tracks it.

    ``sim_id`` is the order's id in the simulator (set once it is transmitted); ``announced`` is
    set once the client has been sent its first ``openOrder``.
    """

    perm_id: int
    client_id: int
    order_id: int
    instrument: Instrument
    spec: OrderSpec
    account: str
    parent: TwsOrder | None = None
    children: list[TwsOrder] = field(default_factory=list)
    status: str = "PendingSubmit"
    transmitted: bool = False
    announced: bool = False
    sim_id: str | None = None
    filled: int = 0
    notional: Decimal = Decimal(0)
    last_fill_price: Decimal = Decimal(0)
    remaining: int = 0
    cancel_reason: str | None = None  # set when the desk asked for the cancel
    going_inactive: bool = False
    completed_time: datetime | None = None
    legs: tuple[Instrument, ...] = ()  # a combo's leg instruments, in leg order

    @property
    def quantity(self) -> int:
        return int(self.spec.total_quantity)

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def avg_fill_price(self) -> Decimal:
        if self.filled == 0:
            return Decimal(0)
        return (self.notional / self.filled).quantize(_PRICE_QUANTUM)

    @property
    def held_by_parent(self) -> bool:
        """A child whose parent is working and has not filled yet (TWS: PreSubmitted)."""
        parent = self.parent
        return parent is not None and parent.filled == 0 and not parent.done

    def view(self, margin: MarginState | None = None) -> OrderView:
        return OrderView(
            order_id=self.order_id,
            client_id=self.client_id,
            perm_id=self.perm_id,
            instrument=self.instrument,
            spec=self.spec,
            status=self.status,
            filled=Decimal(self.filled),
            account=self.account,
            parent_perm_id=self.parent.perm_id if self.parent else 0,
            completed_time=self.completed_time,
            margin=margin or MarginState(),
        )

    def execution(
        self, event: ExecutionEvent, exec_id: str, realized_pnl: Decimal | None
    ) -> TwsExecution:
        """The report of ``event``, an execution already added to ``filled``."""
        return TwsExecution(
            exec_id=exec_id,
            order_id=self.order_id,
            client_id=self.client_id,
            perm_id=self.perm_id,
            instrument=self.instrument,
            account=self.account,
            side="BOT" if event.side is Side.BUY else "SLD",
            shares=event.quantity,
            price=event.price,
            time=event.time,
            cum_qty=self.filled,
            avg_price=self.avg_fill_price,
            order_ref=self.spec.order_ref,
            commission=event.commission,
            realized_pnl=realized_pnl,
        )

    def open_order(self) -> list[Field]:
        return open_order_fields(self.view())

    def order_status(self) -> list[Field]:
        return msg.order_status(
            order_id=self.order_id,
            status=self.status,
            filled=self.filled,
            remaining=0 if self.status == "Filled" else self.remaining,
            avg_fill_price=self.avg_fill_price,
            perm_id=self.perm_id,
            parent_id=self.spec.parent_id,
            last_fill_price=self.last_fill_price,
            client_id=self.client_id,
            why_held="",
        )


def sim_request(record: TwsOrder, legs: tuple[ComboLeg, ...] = ()) -> OrderRequest:
    """The simulator's order for a transmitted record (its id there: ``record.sim_id``);
    ``legs``: a combo's legs (``broker.tws.combo_orders``)."""
    spec, parent = record.spec, record.parent
    assert record.sim_id is not None, "a record gets its sim_id when it is transmitted"
    return OrderRequest(
        legs=legs,
        client_order_id=record.sim_id,
        contract=record.instrument.contract(),
        side=Side(spec.action),
        order_type=OrderType(spec.order_type),
        quantity=record.quantity,
        limit_price=spec.lmt_price if spec.order_type == "LMT" else None,
        stop_price=spec.aux_price if spec.order_type == "STP" else None,
        parent_id=parent.sim_id if parent is not None else None,
        tif=spec.tif or "DAY",
    )


def execution_messages(execution: TwsExecution, req_id: int) -> list[list[Field]]:
    """``execDetails`` (``req_id`` -1 for a live fill) and its ``commissionReport`` (none for a
    combo's own BAG execution: its legs carry the commissions)."""
    if execution.instrument.sec_type == "BAG":
        return [exec_details_fields(execution, req_id)]
    return [
        exec_details_fields(execution, req_id),
        msg.commission_report(
            execution.exec_id,
            execution.commission,
            execution.instrument.currency,
            execution.realized_pnl,
        ),
    ]


def _off_tick(price: Decimal | None, rule: TickRule) -> bool:
    return price is not None and not rule.on_tick(price)


def new_order_problem(
    spec: OrderSpec, instrument: Instrument, *, unsupported: str, account_id: str
) -> tuple[int, str] | None:
    """Why a new order is refused, as (error code, reason), or None if it may be placed."""
    if spec.account and spec.account != account_id:
        return 201, f"invalid account code {spec.account}"
    if unsupported:
        return 201, f"{unsupported} are not simulated"
    if spec.order_type not in SUPPORTED_ORDER_TYPES:
        return 201, f"order type {spec.order_type} is not simulated (MKT, LMT, STP only)"
    if spec.action not in ("BUY", "SELL"):
        return 201, f"action {spec.action} is not BUY or SELL"
    if spec.tif.upper() not in _TIFS:
        return 201, f"time in force {spec.tif} is not simulated (DAY, GTC only)"
    return _size_and_price_problem(spec, instrument)


def _size_and_price_problem(spec: OrderSpec, instrument: Instrument) -> tuple[int, str] | None:
    quantity = spec.total_quantity
    if quantity <= 0 or quantity != quantity.to_integral_value():
        return 201, f"order quantity {quantity} is not a positive whole number of shares"
    if spec.order_type == "LMT" and (spec.lmt_price is None or spec.lmt_price <= 0):
        return 201, "a LMT order needs a limit price > 0"
    if spec.order_type == "STP" and (spec.aux_price is None or spec.aux_price <= 0):
        return 201, "a STP order needs a stop price (auxPrice) > 0"
    price = spec.lmt_price if spec.order_type == "LMT" else None
    stop = spec.aux_price if spec.order_type == "STP" else None
    # TWS checks the price against the contract's market rule: the increment of the band
    # the price lies in (an option of a nickel class at 3.05 is refused, at 3.10 taken).
    if _off_tick(price, instrument.tick_rule) or _off_tick(stop, instrument.tick_rule):
        return 110, ""
    return None


def modify_problem(
    record: TwsOrder, spec: OrderSpec, instrument: Instrument
) -> tuple[int, str] | None:
    """Why a modification (placeOrder with a live order's id) is refused, as (error code,
    reason), or None: 110 for an off-tick price (as on a new order), 105 otherwise."""
    if instrument.con_id != record.instrument.con_id:
        return 105, "the contract differs from the original order's"
    if spec.action != record.spec.action or spec.order_type != record.spec.order_type:
        return 105, "the action or order type differs from the original order's"
    problem = _size_and_price_problem(spec, instrument)
    if problem is not None:
        return (110, "") if problem[0] == 110 else (105, problem[1])
    if spec.total_quantity < record.filled:
        return 105, f"quantity {spec.total_quantity} is below the {record.filled} already filled"
    return None


def oca_members(record: TwsOrder, orders: Iterable[TwsOrder]) -> tuple[list[TwsOrder], bool]:
    """The live orders that share ``record``'s OCA group, and whether a fill reduces them
    (``ocaType`` 2/3) rather than cancels them (0/1). Without an explicit ``ocaGroup`` the
    children of one parent form a group that reduces (a bracket's take-profit and stop)."""
    if record.spec.oca_group:
        group = record.spec.oca_group
        members = [
            o for o in orders if o is not record and not o.done and o.spec.oca_group == group
        ]
        return members, record.spec.oca_type in (2, 3)
    if record.parent is not None:
        siblings = [c for c in record.parent.children if c is not record and not c.done]
        return [c for c in siblings if not c.spec.oca_group], True
    return [], False


def oca_group_members(
    record: TwsOrder, orders: Iterable[TwsOrder], sim_filled: Mapping[str, int]
) -> list[tuple[int, int, bool]]:
    """The other orders ever placed in ``record``'s explicit OCA group, as ``(filled, open,
    working)`` for ``oca_admission`` (rejected orders count as ended with no fill).

    ``sim_filled`` is what the simulator has filled per order (by its id there): a fill it made
    reaches the desk's records an event-loop turn later, and the group must not take a new
    member in between (IB's order book knows its own fills)."""
    group = record.spec.oca_group
    members = []
    for o in orders:
        if o is record or not group or o.spec.oca_group != group:
            continue
        filled = max(o.filled, sim_filled.get(o.sim_id, 0) if o.sim_id else 0)
        members.append((filled, max(o.quantity - filled, 0), not o.done and filled < o.quantity))
    return members


def _parse_filter_time(text: str, tz: ZoneInfo) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    parts = text.replace("-", " ").split()
    stamp = " ".join(parts[:2])
    zone = ZoneInfo(parts[2]) if len(parts) > 2 else tz
    for fmt in ("%Y%m%d %H:%M:%S", "%Y%m%d"):
        try:
            return datetime.strptime(stamp, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    return None


@dataclass(frozen=True, slots=True)
class ExecFilter:
    """``reqExecutions``' filter; empty/zero fields match anything."""

    client_id: int = 0
    account: str = ""
    since: datetime | None = None
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    side: str = ""

    def from_midnight(self, now: datetime) -> ExecFilter:
        """This filter, limited to executions since midnight of ``now``'s day (its zone): TWS
        lists only the current day's executions (IB's API documentation, *Executions and
        Commissions*; up to 7 days only with the Trade Log setting, which tws-sim does not
        simulate)."""
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        since = midnight if self.since is None else max(self.since, midnight)
        return replace(self, since=since)

    @classmethod
    def read(cls, reader: FieldReader, tz: ZoneInfo) -> ExecFilter:
        """Read the 7 filter fields (after the request id). An unparseable time (or an unknown
        zone in it) is ignored rather than refused."""
        client_id = reader.integer()
        account = reader.text()
        time_text = reader.text()
        try:
            since = _parse_filter_time(time_text, tz)
        except (KeyError, ValueError):
            since = None
        return cls(
            client_id=client_id,
            account=account,
            since=since,
            symbol=reader.text(),
            sec_type=reader.text(),
            exchange=reader.text(),
            side=reader.text(),
        )

    def matches(self, execution: TwsExecution) -> bool:
        side = {"BUY": "BOT", "SELL": "SLD"}.get(self.side.upper(), self.side.upper())
        instrument = execution.instrument
        exchanges = ("", execution.exchange, instrument.exchange, instrument.primary_exchange)
        return (
            (self.client_id in (0, execution.client_id))
            and (not self.account or self.account == execution.account)
            and (self.since is None or execution.time >= self.since)
            and (not self.symbol or self.symbol.upper() == instrument.symbol)
            and (not self.sec_type or self.sec_type.upper() == instrument.sec_type)
            and (self.exchange.upper() in exchanges)
            and (not side or side == execution.side)
        )
