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

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from loguru import logger

from broker.tws import messages as msg
from broker.tws.account import AccountBook
from broker.tws.combo_orders import ComboDesk, combo_modify_problem
from broker.tws.combos import is_combo
from broker.tws.contracts import Instrument, InstrumentMatcher
from broker.tws.exec_revisions import book_correction
from broker.tws.faults import FaultState
from broker.tws.order_admission import admission_problem, what_if_reply
from broker.tws.order_codec import TwsExecution
from broker.tws.order_parsing import PlacedOrder
from broker.tws.order_records import (
    ClientRouter,
    ExecFilter,
    SimOrderPort,
    TwsOrder,
    modify_problem,
    oca_members,
    sim_request,
)
from broker.tws.order_reports import OrderReports
from broker.tws.state_codec import DeskState
from core.domain import ComboLeg, OrderStatus
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
        self._reports = OrderReports(router=router, now=now)
        self._executions: list[TwsExecution] = []
        self._max_order_id: dict[int, int] = {}
        self._combos = ComboDesk(
            match=registry.match,
            book=book,
            reports=self._reports,
            on_fill=on_fill,
            new_exec_id=self._new_exec_id,
            keep=self._keep_execution,
        )

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
        return list(self._reports.completed)

    def combo_legs(self, record: TwsOrder) -> tuple[ComboLeg, ...]:
        """A combo order's legs as the simulator trades them (empty for any other order)."""
        return self._combos.legs(record) if record.instrument.sec_type == "BAG" else ()

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
            self._place_combo(client_id, placed)
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
        problem = admission_problem(
            record, placed, parent, self._orders.values(), self._broker, self._book.account_id
        )
        if problem is None:
            forced = self._faults.take_reject()
            if forced is not None:
                self._reports.reject(
                    record, forced.code, forced.reason, forced_status=forced.send_status
                )
                return
        if problem is not None:
            self._reports.reject(record, *problem)
            return
        if parent is not None:
            parent.children.append(record)
        if placed.spec.transmit:
            self._transmit_family(record)

    def _place_combo(self, client_id: int, placed: PlacedOrder) -> None:
        """A new BAG order: its legs resolved by conId, then taken or refused as one order."""
        record = TwsOrder(
            perm_id=next(self._perm_ids),
            client_id=client_id,
            order_id=placed.order_id,
            instrument=self._combos.instrument(placed),
            spec=placed.spec,
            account=self._book.account_id,
            remaining=int(placed.spec.total_quantity),
        )
        self._orders[(client_id, placed.order_id)] = record
        problem = self._combos.admission_problem(record)
        if problem is None:
            forced = self._faults.take_reject()
            problem = None if forced is None else (forced.code, forced.reason)
        if problem is not None:
            self._reports.reject(record, *problem)
        elif placed.spec.transmit:
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
        self._reports.reject(record, code, reason)
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
            self._reports.finish(record, "Inactive")
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
            self._reports.set_status(
                record, "PreSubmitted" if record.held_by_parent else "Submitted"
            )
        elif status is OrderStatus.FILLED:
            record.remaining = 0
            self._reports.finish(record, "Filled")
        elif status is OrderStatus.CANCELLED:
            record.remaining = event.remaining
            if record.going_inactive:
                self._reports.finish(record, "Inactive")
            else:
                reason = event.reason if record.cancel_reason is None else record.cancel_reason
                self._reports.finish(record, "Cancelled", reason=reason)
        elif status is OrderStatus.REJECTED:
            self._reports.reject(record, 201, event.reason)

    def on_execution(self, event: ExecutionEvent) -> None:
        """An execution from the simulator: execDetails + commissionReport to the owner, then
        the account, child activation and OCA effects."""
        record = self._by_sim.get(event.client_order_id)
        if record is None:
            logger.warning("tws-sim: execution for unknown order {}", event.client_order_id)
            return
        if record.instrument.sec_type == "BAG":
            self._combos.on_execution(record, event)
            return
        record.filled += event.quantity
        record.notional += event.quantity * event.price
        record.last_fill_price = event.price
        realized = self._book.apply_fill(
            record.instrument, event.side, event.quantity, event.price, event.commission
        )
        execution = record.execution(event, self._new_exec_id(), realized)
        self._executions.append(execution)
        self._reports.send_live(record.client_id, execution, self._faults.take_commission_delay())
        correction = self._faults.take_correction()
        if correction is not None:
            fixed = book_correction(record, execution, self._book, *correction)
            self._executions.append(fixed)
            self.send_execution(record.client_id, fixed, req_id=-1)
        self._on_fill(record.instrument)
        for child in record.children:
            if child.status == "PreSubmitted" and not child.held_by_parent:
                self._reports.set_status(child, "Submitted")
        self._apply_oca(record, event.quantity)

    def _keep_execution(self, execution: TwsExecution) -> None:
        self._executions.append(execution)

    def _new_exec_id(self) -> str:
        return f"{self._exec_prefix}.{next(self._exec_seq):08x}.01.01"

    def send_execution(self, client_id: int, execution: TwsExecution, req_id: int) -> None:
        """Send one execution (``execDetails`` then its ``commissionReport``) to a client."""
        self._reports.send_execution(client_id, execution, req_id)

    # -- state across restarts (``broker.tws.state``) -------------------------------------------
    def export_state(self) -> DeskState:
        """Every order (in placement order), the executions and the id counters, to save."""
        perm_id, seq = next(self._perm_ids), next(self._exec_seq)
        self._perm_ids, self._exec_seq = itertools.count(perm_id), itertools.count(seq)
        return DeskState(
            orders=tuple(self._orders.values()),
            completed=tuple(o.perm_id for o in self._reports.completed),
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
        self._reports.completed[:] = [by_perm[perm_id] for perm_id in state.completed]
        self._executions = list(state.executions)
        self._perm_ids = itertools.count(state.next_perm_id)
        self._exec_prefix = state.exec_prefix
        self._exec_seq = itertools.count(state.next_exec_seq)
        self._max_order_id = dict(state.max_order_ids)

    # -- internals -----------------------------------------------------------------------------
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
        if not self._broker.place_order(sim_request(record, self.combo_legs(record))):
            self._reports.reject(record, 201, "the simulator refused the order")

    def _cancel(self, record: TwsOrder, reason: str) -> None:
        record.cancel_reason = reason
        if record.transmitted and record.sim_id is not None:
            self._broker.cancel_order(record.sim_id)
        else:
            self._reports.finish(record, "Cancelled", reason=reason)

    def _modify(self, record: TwsOrder, placed: PlacedOrder) -> None:
        refusal = self._faults.take_modify_refusal()
        if refusal is not None:
            text = refusal.reason or msg.ERROR_TEXTS.get(refusal.code, "")
            self._router.send_to_client(
                record.client_id, msg.error(record.order_id, refusal.code, text)
            )
            return
        if record.instrument.sec_type == "BAG":
            problem = combo_modify_problem(record, placed.spec)
        else:
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
        reply = what_if_reply(client_id, placed, instrument, self._book, self._now())
        self._router.send_to_client(client_id, reply)

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
