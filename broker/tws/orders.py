"""The order desk: TWS order semantics on top of the simulator's order book.

Threads: event-loop thread only. Requests arrive from client sessions; the simulator's events
(``OrderStatusEvent``, ``ExecutionEvent``) arrive through ``call_soon_threadsafe`` in the order
the simulator produced them. Every record is keyed by (clientId, orderId) as TWS keys them; the
simulator sees each order under its permId.

What the desk adds to the simulator:

* ``transmit=False`` holds an order (nothing is sent) until an order of the same family (the
  parent or one of its children) arrives with ``transmit=True``; then the parent and every held
  child go to the simulator, parent first.
* Children report ``PreSubmitted`` while their parent has no fill and ``Submitted`` after its
  first fill (the simulator lets a child fill at most what its parent has filled).
* OCA: after a fill, the other working orders of the group (explicit ``ocaGroup``, or the
  children of the same parent for a bracket) are cancelled (``ocaType`` 0/1) or reduced by the
  filled quantity (2/3; cancelled once nothing is left). An order placed into a group that has
  already filled is refused as IB refuses it (201 "OCA group is already filled.").
* Modify (placeOrder with a live id; 104 for a filled order, 103 for another ended one, 105 for
  a mismatch), cancel, global cancel, rejections (201/110/200/103, and any code a fault asks
  for, with or without an ``orderStatus``), what-if,
  and Inactive (a fault: the order is pulled from the simulator and ends as ``Inactive``, which
  ib_async, too, treats as final).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from loguru import logger

from broker.sim.matching import oca_admission
from broker.tws import messages as msg
from broker.tws.account import AccountBook
from broker.tws.combos import combo_refusal, is_combo
from broker.tws.contracts import Instrument, InstrumentMatcher
from broker.tws.exec_revisions import book_correction, commission_message
from broker.tws.faults import FaultState
from broker.tws.option_sides import opposite_side_problem
from broker.tws.order_codec import (
    PlacedOrder,
    TwsExecution,
    exec_details_fields,
    open_order_fields,
)
from broker.tws.order_records import (
    ClientRouter,
    ExecFilter,
    SimOrderPort,
    TwsOrder,
    execution_messages,
    modify_problem,
    new_order_problem,
    oca_group_members,
    oca_members,
    sim_request,
)
from broker.tws.state_codec import DeskState
from core.domain import OrderStatus, Side
from core.events import ExecutionEvent, OrderStatusEvent

__all__ = ["OrderDesk"]


class OrderDesk:
    """Every order and execution of the simulated TWS (event-loop thread only).

    Args:
        broker: the simulator the orders execute in.
        registry: resolves contracts named in requests (stocks and listed options).
        book: the account (fills are booked into it; what-if margins come from it).
        faults: armed one-shot rejections.
        router: delivers order messages to the owning client.
        now: the simulated time.
        on_fill: called with the instrument after every execution is reported.
        perm_id_start: the first permId handed out.
        exec_id_prefix: the first part of every execId (unique per server run).
    """

    def __init__(
        self,
        *,
        broker: SimOrderPort,
        registry: InstrumentMatcher,
        book: AccountBook,
        faults: FaultState,
        router: ClientRouter,
        now: Callable[[], datetime],
        on_fill: Callable[[Instrument], None],
        perm_id_start: int,
        exec_id_prefix: str,
    ) -> None:
        self._broker = broker
        self._registry = registry
        self._book = book
        self._faults = faults
        self._router = router
        self._now = now
        self._on_fill = on_fill
        self._perm_ids = itertools.count(perm_id_start)
        self._exec_seq = itertools.count(1)
        self._exec_prefix = exec_id_prefix
        self._orders: dict[tuple[int, int], TwsOrder] = {}
        self._by_sim: dict[str, TwsOrder] = {}
        self._completed: list[TwsOrder] = []
        self._executions: list[TwsExecution] = []
        self._max_order_id: dict[int, int] = {}

    # -- reads ---------------------------------------------------------------------------------
    def next_order_id(self, client_id: int) -> int:
        """The next valid order id for ``client_id`` (above every id it has used)."""
        return self._max_order_id.get(client_id, 0) + 1

    def find(self, order_id: int, client_id: int | None = None) -> TwsOrder | None:
        """The order with ``order_id`` (of ``client_id``, or of any client, newest first)."""
        if client_id is not None:
            return self._orders.get((client_id, order_id))
        matches = [o for (_, oid), o in self._orders.items() if oid == order_id]
        return matches[-1] if matches else None

    def open_orders(self, client_id: int | None) -> list[TwsOrder]:
        """Announced orders that are not done, of one client or of all."""
        return [
            o
            for o in self._orders.values()
            if o.announced and not o.done and (client_id is None or o.client_id == client_id)
        ]

    def completed_orders(self) -> list[TwsOrder]:
        """Filled, cancelled and inactive orders (rejections included), oldest first."""
        return list(self._completed)

    def executions(self, flt: ExecFilter) -> list[TwsExecution]:
        return [e for e in self._executions if flt.matches(e)]

    # -- requests ------------------------------------------------------------------------------
    def place(self, client_id: int, placed: PlacedOrder) -> None:
        """``placeOrder``: a new order, or a modification of a live one with the same id."""
        order_id = placed.order_id
        self._max_order_id[client_id] = max(self._max_order_id.get(client_id, 0), order_id)
        existing = self._orders.get((client_id, order_id))
        if existing is not None:
            if existing.done:
                # IB: 104 "Can't modify a filled order"; another ended order's id is a duplicate.
                code = 104 if existing.status == "Filled" else 103
                self._router.send_to_client(client_id, msg.error(order_id, code))
            else:
                self._modify(existing, placed)
            return
        if is_combo(placed.contract.sec_type):
            self._router.send_to_client(client_id, combo_refusal(order_id))
            return
        matches = self._registry.match(placed.contract)
        if len(matches) != 1:
            self._router.send_to_client(client_id, msg.error(order_id, 200))
            return
        instrument = matches[0]
        if placed.spec.what_if:
            self._what_if(client_id, placed, instrument)
            return
        parent = None
        if placed.spec.parent_id:
            parent = self._orders.get((client_id, placed.spec.parent_id))
        record = TwsOrder(
            perm_id=next(self._perm_ids),
            client_id=client_id,
            order_id=order_id,
            instrument=instrument,
            spec=placed.spec,
            account=self._book.account_id,
            parent=parent,
            remaining=int(placed.spec.total_quantity),
        )
        self._orders[(client_id, order_id)] = record
        problem = new_order_problem(
            placed.spec,
            instrument,
            unsupported=placed.unsupported,
            account_id=self._book.account_id,
        )
        if problem is None and placed.spec.parent_id:
            if parent is None:
                problem = 201, f"parent order {placed.spec.parent_id} not found"
            elif parent.done and parent.filled == 0:
                problem = 201, f"parent order {parent.order_id} is {parent.status}"
        if problem is None:
            problem = opposite_side_problem(record, self._orders.values())
        if problem is None and placed.spec.oca_group:
            problem = self._admit_to_oca(record)
        if problem is None:
            forced = self._faults.take_reject()
            if forced is not None:
                self._reject(record, forced.code, forced.reason, forced_status=forced.send_status)
                return
        if problem is not None:
            self._reject(record, *problem)
            return
        if parent is not None:
            parent.children.append(record)
        if placed.spec.transmit:
            self._transmit_family(record)

    def cancel(self, client_id: int, order_id: int) -> None:
        """``cancelOrder``: cancel a live order (10147 if unknown, 10148 if already done)."""
        record = self._orders.get((client_id, order_id))
        if record is None:
            text = msg.ERROR_TEXTS[10147].format(order_id=order_id)
            self._router.send_to_client(client_id, msg.error(order_id, 10147, text))
        elif record.done:
            text = msg.ERROR_TEXTS[10148].format(order_id=order_id, state=record.status)
            self._router.send_to_client(client_id, msg.error(order_id, 10148, text))
        else:
            self._cancel(record, "")

    def global_cancel(self) -> None:
        """``reqGlobalCancel``: cancel every live order of every client."""
        for record in list(self._orders.values()):
            if not record.done:
                self._cancel(record, "global cancel")

    def reject_working(self, order_id: int, client_id: int | None, code: int, reason: str) -> bool:
        """Fault: IB kills a working order with an error and then an ``orderStatus`` Cancelled
        (server-side cancels for margin and the like: ib_async's comment in ``wrapper.error``,
        "existing order is server-canceled (DAY orders, margin problems)"). ib_async's own
        verdict on the error is already Cancelled, so it drops IB's Cancelled (``isChanged``)."""
        record = self.find(order_id, client_id)
        if record is None or record.done:
            return False
        if record.transmitted and record.sim_id is not None:
            self._by_sim.pop(record.sim_id, None)  # the simulator's own cancel is not reported
            self._broker.cancel_order(record.sim_id)
        self._reject(record, code, reason)
        return True

    def make_inactive(self, order_id: int, client_id: int | None = None) -> bool:
        """Fault: pull a live order from the market and report it ``Inactive``. ``order_id`` 0
        picks the oldest working stop order (STP, STP LMT) of ``client_id`` (or of any client):
        a scenario file cannot know the ids a client will use."""
        record = self.find(order_id, client_id) if order_id else self._oldest_stop(client_id)
        if record is None or record.done:
            return False
        if record.transmitted and record.sim_id is not None:
            record.going_inactive = True
            self._broker.cancel_order(record.sim_id)
        else:
            self._finish(record, "Inactive")
        return True

    def _oldest_stop(self, client_id: int | None) -> TwsOrder | None:
        stops = [
            o
            for o in self.open_orders(client_id)
            if o.spec.order_type in ("STP", "STP LMT") and o.transmitted and o.status == "Submitted"
        ]
        return stops[0] if stops else None

    # -- simulator events ------------------------------------------------------------------------
    def on_status(self, event: OrderStatusEvent) -> None:
        """A status change from the simulator: translate it into TWS messages."""
        record = self._by_sim.get(event.client_order_id)
        if record is None or record.sim_id != event.client_order_id or record.done:
            return
        status = event.status
        if status in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED):
            record.remaining = event.remaining
            self._set_status(record, "PreSubmitted" if record.held_by_parent else "Submitted")
        elif status is OrderStatus.FILLED:
            record.remaining = 0
            self._finish(record, "Filled")
        elif status is OrderStatus.CANCELLED:
            record.remaining = event.remaining
            if record.going_inactive:
                self._finish(record, "Inactive")
            else:
                reason = event.reason if record.cancel_reason is None else record.cancel_reason
                self._finish(record, "Cancelled", reason=reason)
        elif status is OrderStatus.REJECTED:
            self._reject(record, 201, event.reason)

    def on_execution(self, event: ExecutionEvent) -> None:
        """An execution from the simulator: execDetails + commissionReport to the owner, then
        the account, child activation and OCA effects."""
        record = self._by_sim.get(event.client_order_id)
        if record is None:
            logger.warning("tws-sim: execution for unknown order {}", event.client_order_id)
            return
        record.filled += event.quantity
        record.notional += event.quantity * event.price
        record.last_fill_price = event.price
        realized = self._book.apply_fill(
            record.instrument, event.side, event.quantity, event.price, event.commission
        )
        exec_id = f"{self._exec_prefix}.{next(self._exec_seq):08x}.01.01"
        execution = record.execution(event, exec_id, realized)
        self._executions.append(execution)
        self._send_live(record.client_id, execution, self._faults.take_commission_delay())
        correction = self._faults.take_correction()
        if correction is not None:
            fixed = book_correction(record, execution, self._book, *correction)
            self._executions.append(fixed)
            self.send_execution(record.client_id, fixed, req_id=-1)
        self._on_fill(record.instrument)
        for child in record.children:
            if child.status == "PreSubmitted" and not child.held_by_parent:
                self._set_status(child, "Submitted")
        self._apply_oca(record, event.quantity)

    def send_execution(self, client_id: int, execution: TwsExecution, req_id: int) -> None:
        """Send one execution (``execDetails`` then its ``commissionReport``) to a client."""
        for fields in execution_messages(execution, req_id):
            self._router.send_to_client(client_id, fields)

    # -- state across restarts (``broker.tws.state``) -------------------------------------------
    def export_state(self) -> DeskState:
        """Every order (in placement order), the executions and the id counters, to save."""
        perm_id, seq = next(self._perm_ids), next(self._exec_seq)
        self._perm_ids, self._exec_seq = itertools.count(perm_id), itertools.count(seq)
        return DeskState(
            orders=tuple(self._orders.values()),
            completed=tuple(o.perm_id for o in self._completed),
            executions=tuple(self._executions),
            next_perm_id=perm_id,
            exec_prefix=self._exec_prefix,
            next_exec_seq=seq,
            max_order_ids=dict(self._max_order_id),
        )

    def import_state(self, state: DeskState) -> None:
        """Take back saved orders, executions and counters (before any client connects; the
        caller restores the working orders in the simulator under their ``sim_id``)."""
        self._orders = {(o.client_id, o.order_id): o for o in state.orders}
        self._by_sim = {o.sim_id: o for o in state.orders if o.sim_id is not None}
        by_perm = {o.perm_id: o for o in state.orders}
        self._completed = [by_perm[perm_id] for perm_id in state.completed]
        self._executions = list(state.executions)
        self._perm_ids = itertools.count(state.next_perm_id)
        self._exec_prefix = state.exec_prefix
        self._exec_seq = itertools.count(state.next_exec_seq)
        self._max_order_id = dict(state.max_order_ids)

    # -- internals -----------------------------------------------------------------------------
    def _send_live(self, client_id: int, execution: TwsExecution, delay_s: float | None) -> None:
        """A live execution: its commission report at once, or ``delay_s`` wall seconds later
        (a fault)."""
        if delay_s is None:
            self.send_execution(client_id, execution, req_id=-1)
            return
        self._router.send_to_client(client_id, exec_details_fields(execution, -1))
        asyncio.get_running_loop().call_later(
            delay_s, self._router.send_to_client, client_id, commission_message(execution)
        )

    def _set_status(self, record: TwsOrder, status: str) -> None:
        record.status = status
        if not record.announced:
            record.announced = True
            self._router.send_to_client(record.client_id, record.open_order())
        self._router.send_to_client(record.client_id, record.order_status())

    def _finish(self, record: TwsOrder, status: str, reason: str = "") -> None:
        """Make a record done, report it (202 for a cancellation) and file it as completed."""
        announced = record.announced
        record.status = status
        record.completed_time = self._now()
        self._completed.append(record)
        if not announced:
            record.announced = True
            self._router.send_to_client(record.client_id, record.open_order())
        self._router.send_to_client(record.client_id, record.order_status())
        if status == "Filled":
            self._router.send_to_client(record.client_id, record.open_order())
        elif announced and status == "Cancelled":
            error = msg.error(record.order_id, 202, None, reason=reason)
            self._router.send_to_client(record.client_id, error)
        self._cancel_held_children(record)

    def _cancel_held_children(self, record: TwsOrder) -> None:
        """Children never sent to the simulator die with a parent that did not fill (the
        simulator cancels the ones it holds itself)."""
        if record.filled > 0:
            return
        for child in record.children:
            if not child.done and not child.transmitted:
                self._finish(child, "Cancelled", reason="parent cancelled")

    def _reject(
        self, record: TwsOrder, code: int, reason: str, *, forced_status: bool | None = None
    ) -> None:
        """Refuse an order: the error to its owner; the record becomes a completed Cancelled.
        An announced order's ``orderStatus`` follows the error; ``forced_status`` (a fault)
        says whether one follows for any order (True: announced first)."""
        record.status = "Cancelled"
        record.completed_time = self._now()
        self._completed.append(record)
        if code == 201 or not reason:  # "Order rejected - reason:" + the reason
            error = msg.error(record.order_id, code, None, reason=reason)
        else:
            error = msg.error(record.order_id, code, reason)
        self._router.send_to_client(record.client_id, error)
        send_status = record.announced if forced_status is None else forced_status
        if send_status:
            if not record.announced:
                record.announced = True
                self._router.send_to_client(record.client_id, record.open_order())
            self._router.send_to_client(record.client_id, record.order_status())
        self._cancel_held_children(record)

    def _transmit_family(self, record: TwsOrder) -> None:
        root = record.parent or record
        for member in (root, *root.children):
            if not member.transmitted and not member.done:
                member.transmitted = True
                self._send_to_sim(member)

    def _send_to_sim(self, record: TwsOrder) -> None:
        sim_id = str(record.perm_id)
        record.sim_id = sim_id
        self._by_sim[sim_id] = record
        if not self._broker.place_order(sim_request(record)):
            self._reject(record, 201, "the simulator refused the order")

    def _cancel(self, record: TwsOrder, reason: str) -> None:
        record.cancel_reason = reason
        if record.transmitted and record.sim_id is not None:
            self._broker.cancel_order(record.sim_id)
        else:
            self._finish(record, "Cancelled", reason=reason)

    def _modify(self, record: TwsOrder, placed: PlacedOrder) -> None:
        refusal = self._faults.take_modify_refusal()
        if refusal is not None:
            text = refusal.reason or msg.ERROR_TEXTS.get(refusal.code, "")
            self._router.send_to_client(
                record.client_id, msg.error(record.order_id, refusal.code, text)
            )
            return
        matches = self._registry.match(placed.contract)
        instrument = matches[0] if len(matches) == 1 else record.instrument
        problem = modify_problem(record, placed.spec, instrument)
        if problem is not None:  # refused: the order stays as it was (110 off tick, or 105)
            code, reason = problem
            error = msg.error(record.order_id, code, None, reason=f" {reason}" if reason else "")
            self._router.send_to_client(record.client_id, error)
            return
        old = record.spec
        new = replace(placed.spec, parent_id=old.parent_id)
        record.spec = new
        if not record.transmitted:
            if new.transmit:
                self._transmit_family(record)
            return
        self._router.send_to_client(record.client_id, record.open_order())
        sim_id = record.sim_id
        changed_qty = new.total_quantity != old.total_quantity
        changed_lmt = new.lmt_price != old.lmt_price and new.order_type == "LMT"
        changed_stp = new.aux_price != old.aux_price and new.order_type == "STP"
        if sim_id is None or not (changed_qty or changed_lmt or changed_stp):
            self._router.send_to_client(record.client_id, record.order_status())
            return
        self._broker.modify_order(
            sim_id,
            quantity=record.quantity if changed_qty else None,
            limit_price=new.lmt_price if changed_lmt else None,
            stop_price=new.aux_price if changed_stp else None,
        )

    def _what_if(self, client_id: int, placed: PlacedOrder, instrument: Instrument) -> None:
        """A what-if order: an ``openOrder`` with the margin impact; nothing is placed."""
        spec, account = placed.spec, self._book.account_id
        problem = new_order_problem(
            spec, instrument, unsupported=placed.unsupported, account_id=account
        )
        if problem is not None:
            error = msg.error(placed.order_id, problem[0], None, reason=problem[1])
            self._router.send_to_client(client_id, error)
            return
        price = spec.lmt_price if spec.order_type == "LMT" else None
        quantity = int(spec.total_quantity)
        margin = self._book.what_if(instrument, Side(spec.action), quantity, price, self._now())
        record = TwsOrder(0, client_id, placed.order_id, instrument, spec, account)
        record.status = "PreSubmitted"
        self._router.send_to_client(client_id, open_order_fields(record.view(margin)))

    def _admit_to_oca(self, record: TwsOrder) -> tuple[int, str] | None:
        """A new order joining an OCA group (``oca_admission``): refused with IB's 201 "OCA group
        is already filled." once a member filled and none works any more (or, for ``ocaType``
        1, after any fill); in a reducing group still partly working, reduced to what is open."""
        sim_filled: Counter[str] = Counter()
        for execution in self._broker.executions():
            sim_filled[execution.client_order_id] += execution.quantity
        members = oca_group_members(record, self._orders.values(), sim_filled)
        reason, quantity = oca_admission(
            record.quantity, members, reduce=record.spec.oca_type in (2, 3)
        )
        if reason is not None:
            return 201, f"{reason}."
        if quantity < record.quantity:
            record.spec = replace(record.spec, total_quantity=Decimal(quantity))
            record.remaining = quantity
        return None

    def _apply_oca(self, record: TwsOrder, quantity: int) -> None:
        """After ``record`` filled ``quantity``: cancel or reduce the rest of its OCA group."""
        members, reduce = oca_members(record, self._orders.values())
        for member in members:
            left = member.quantity - quantity
            if not reduce or left <= member.filled:
                self._cancel(member, "OCA group")
                continue
            member.spec = replace(member.spec, total_quantity=Decimal(left))
            if member.transmitted and member.sim_id is not None:
                self._broker.modify_order(member.sim_id, quantity=left)
                self._router.send_to_client(member.client_id, member.open_order())
