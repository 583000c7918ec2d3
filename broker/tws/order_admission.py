"""Whether the simulated TWS takes a new order: IB's refusals of a new order (the order's own
fields, a missing or dead parent, opposite sides of one option, a filled OCA group), the
reduction of an order joining a reducing OCA group, and the answer to a what-if order.

Threads: event-loop thread only (the order desk's part, ``broker.tws.orders``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from broker.sim.matching import oca_admission
from broker.tws import messages as msg
from broker.tws.account import AccountBook
from broker.tws.codec import Field
from broker.tws.contracts import Instrument
from broker.tws.option_sides import opposite_side_problem
from broker.tws.order_codec import open_order_fields
from broker.tws.order_parsing import PlacedOrder
from broker.tws.order_records import SimOrderPort, TwsOrder, new_order_problem, oca_group_members
from core.domain import Side

__all__ = ["admission_problem", "what_if_reply"]


def admission_problem(
    record: TwsOrder,
    placed: PlacedOrder,
    parent: TwsOrder | None,
    orders: Collection[TwsOrder],
    broker: SimOrderPort,
    account_id: str,
) -> tuple[int, str] | None:
    """IB's refusal (error code, reason) of the new order ``record`` among ``orders`` (which
    hold it already), or None when it is taken. An order joining a reducing OCA group that has
    partly filled is reduced to what is open (``record`` is changed)."""
    spec = placed.spec
    problem = new_order_problem(
        spec, record.instrument, unsupported=placed.unsupported, account_id=account_id
    )
    if problem is None and spec.parent_id:
        if parent is None:
            problem = 201, f"parent order {spec.parent_id} not found"
        elif parent.done and parent.filled == 0:
            problem = 201, f"parent order {parent.order_id} is {parent.status}"
    if problem is None:
        problem = opposite_side_problem(record, orders)
    if problem is None and spec.oca_group:
        problem = _admit_to_oca(record, orders, broker)
    return problem


def _admit_to_oca(
    record: TwsOrder, orders: Collection[TwsOrder], broker: SimOrderPort
) -> tuple[int, str] | None:
    """A new order joining an OCA group (``oca_admission``): refused with IB's 201 "OCA group
    is already filled." once a member filled and none works any more (or, for ``ocaType``
    1, after any fill); in a reducing group still partly working, reduced to what is open."""
    sim_filled: Counter[str] = Counter()
    for execution in broker.executions():
        sim_filled[execution.client_order_id] += execution.quantity
    members = oca_group_members(record, orders, sim_filled)
    reason, quantity = oca_admission(
        record.quantity, members, reduce=record.spec.oca_type in (2, 3)
    )
    if reason is not None:
        return 201, f"{reason}."
    if quantity < record.quantity:
        record.spec = replace(record.spec, total_quantity=Decimal(quantity))
        record.remaining = quantity
    return None


def what_if_reply(
    client_id: int, placed: PlacedOrder, instrument: Instrument, book: AccountBook, now: datetime
) -> list[Field]:
    """The answer to a what-if order: an ``openOrder`` with the margin impact, or the error
    that refuses it; nothing is placed."""
    spec, account = placed.spec, book.account_id
    problem = new_order_problem(
        spec, instrument, unsupported=placed.unsupported, account_id=account
    )
    if problem is not None:
        return msg.error(placed.order_id, problem[0], None, reason=problem[1])
    price = spec.lmt_price if spec.order_type == "LMT" else None
    quantity = int(spec.total_quantity)
    margin = book.what_if(instrument, Side(spec.action), quantity, price, now)
    record = TwsOrder(0, client_id, placed.order_id, instrument, spec, account)
    record.status = "PreSubmitted"
    return open_order_fields(record.view(margin))
