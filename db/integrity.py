"""The ledger's own invariants, checked on its rows alone (no broker): what ``main.py
check-ledger`` prints and what the engine verifies before it trades on a ledger; the crash
harness (``tests/support/crash``) checks the same ones through ``ended_then_filled``.

* each order once: no order filled beyond its quantity, and no ended order with more
  executions than its recorded fill (the broker filled an order the ledger wrote off); a
  combo's units executed are its smallest leg's total (its legs fill in proportion, and a
  combo's ratios are in lowest terms, the smallest being 1);
* each execution once: one stored revision per IB execution (``core/exec_ids.py``: a
  correction replaces the execution it corrects, it is not a second fill);
* positions derivable: every execution belongs to a stored order of the same VA, contract and
  side (the engine's own expiry / assignment bookings excepted; a combo's executions are its
  legs': an option or the stock of the combo's symbol, on either side);
* no trade with its exit before its entry: walking each VA's contract in the order the rows
  were stored, nothing closes a position before the execution that opened it;
* one timeline: no execution or order event earlier than its order's creation.

Pure checks (``find_problems``) over records; ``read_problems`` reads them on the calling
thread.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from core.exec_ids import exec_id_parts
from db.models import Execution, OrderEvent
from db.records import ExecutionRecord, OrderRecord
from db.refusals import LedgerRefused
from db.rows import execution_record, rows_of

__all__ = [
    "CLOCK_SLACK",
    "ENDED",
    "LedgerBroken",
    "LedgerProblem",
    "ended_then_filled",
    "find_problems",
    "read_problems",
    "refuse_broken",
]

CLOCK_SLACK = timedelta(seconds=2)
"""How far an execution (the broker's time) may precede its order's creation (the engine's
clock, anchored at a whole second behind the broker's)."""

ENDED = ("cancelled", "rejected", "inactive")
"""Order statuses that end an order short of a fill."""

_SYNTHETIC = ("expiry", "assignment")  # booked by the engine itself, not broker fills


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """One broken invariant: ``check`` (its name), ``rows`` (the order ids and exec ids it is
    about) and one line saying what is wrong."""

    check: str
    rows: tuple[str, ...]
    detail: str

    def line(self) -> str:
        return f"{self.check}: {self.detail}"


@dataclass(frozen=True, slots=True)
class EventTime:
    """When an order event was stored (``order_event`` row ``id``)."""

    id: int
    order_id: str
    time: datetime


class LedgerBroken(LedgerRefused):
    """The ledger's rows break an invariant; the engine does not trade on it."""


def ended_then_filled(
    orders: Mapping[str, OrderRecord], executions: Iterable[ExecutionRecord]
) -> dict[str, int]:
    """Ended orders (cancelled, rejected, inactive) whose executions add up to more than their
    recorded fill: order id -> shares executed."""
    executed = _executed(executions, orders)
    return {
        oid: executed[oid]
        for oid, order in orders.items()
        if order.status.value in ENDED and executed[oid] > order.filled
    }


def find_problems(
    orders: Sequence[OrderRecord],
    executions: Sequence[ExecutionRecord],
    events: Sequence[EventTime],
) -> list[LedgerProblem]:
    """Every broken invariant in these rows. ``executions`` and ``events`` in the order they
    were stored."""
    by_id = {o.id: o for o in orders}
    found: list[LedgerProblem] = []
    found.extend(_revisions(executions))
    found.extend(_orders_once(by_id, executions))
    found.extend(_derivable(by_id, executions))
    found.extend(_exit_before_entry(by_id, executions))
    found.extend(_timeline(by_id, executions, events))
    return found


def read_problems(db: peewee.Database) -> list[LedgerProblem]:
    """``find_problems`` on the ledger bound to ``database_proxy`` (``db``), read in one
    transaction on the calling thread."""
    from db.ledger import Ledger  # noqa: PLC0415 - the ledger imports nothing from here

    with db.atomic():
        orders = Ledger(db).orders()
        executions = [
            execution_record(r) for r in rows_of(Execution.select().order_by(Execution.id))
        ]
        events = [
            EventTime(int(r["id"]), str(r["order"]), r["time"])
            for r in rows_of(OrderEvent.select().order_by(OrderEvent.id))
        ]
    return find_problems(orders, executions, events)


def refuse_broken(db: peewee.Database, *, where: str = "the ledger") -> None:
    """Raise ``LedgerBroken`` (one line: how many problems, the first) if the ledger breaks an
    invariant. Runs on the calling thread (the engine's, before any actor starts)."""
    problems = read_problems(db)
    if problems:
        raise LedgerBroken(
            f"{where} breaks {len(problems)} invariant(s), first {problems[0].line()}; "
            "the engine does not trade on it: run main.py check-ledger for every problem"
        )


def _executed(
    executions: Iterable[ExecutionRecord], orders: Mapping[str, OrderRecord]
) -> defaultdict[str, int]:
    """Shares or contracts executed per order; for a combo, units (its smallest leg's total)."""
    executed: defaultdict[str, int] = defaultdict(int)
    legs: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for ex in executions:
        order = orders.get(ex.order_id)
        if order is not None and order.sec_type == "BAG":
            legs[ex.order_id][ex.contract_key] += ex.quantity
        else:
            executed[ex.order_id] += ex.quantity
    for oid, totals in legs.items():
        executed[oid] = min(totals.values())
    return executed


def _revisions(executions: Sequence[ExecutionRecord]) -> list[LedgerProblem]:
    bases: dict[str, list[str]] = defaultdict(list)
    for ex in executions:
        bases[exec_id_parts(ex.exec_id)[0]].append(ex.exec_id)
    return [
        LedgerProblem(
            "execution_twice",
            tuple(ids),
            f"executions {', '.join(ids)} are one execution stored {len(ids)} times "
            "(a correction replaces the revision it corrects)",
        )
        for ids in bases.values()
        if len(ids) > 1
    ]


def _orders_once(
    orders: Mapping[str, OrderRecord], executions: Sequence[ExecutionRecord]
) -> list[LedgerProblem]:
    found: list[LedgerProblem] = []
    executed = _executed(executions, orders)
    for oid, order in orders.items():
        if order.purpose in _SYNTHETIC:
            continue
        if executed[oid] > order.quantity:
            ids = tuple(e.exec_id for e in executions if e.order_id == oid)
            found.append(
                LedgerProblem(
                    "order_overfilled",
                    (oid, *ids),
                    f"order {oid} ({order.side.value} {order.quantity} {order.contract_key}) "
                    f"has executions of {executed[oid]}: {', '.join(ids)}",
                )
            )
    for oid, done in ended_then_filled(orders, executions).items():
        order = orders[oid]
        found.append(
            LedgerProblem(
                "ended_then_filled",
                (oid,),
                f"order {oid} is {order.status.value} with {order.filled} filled, yet its "
                f"executions add up to {done}",
            )
        )
    return found


def _derivable(
    orders: Mapping[str, OrderRecord], executions: Sequence[ExecutionRecord]
) -> list[LedgerProblem]:
    found: list[LedgerProblem] = []
    for ex in executions:
        order = orders.get(ex.order_id)
        if order is None:
            found.append(
                LedgerProblem(
                    "execution_without_order",
                    (ex.exec_id, ex.order_id),
                    f"execution {ex.exec_id} names order {ex.order_id}, which is not stored",
                )
            )
            continue
        if order.purpose in _SYNTHETIC:
            continue
        theirs = (ex.va_id, ex.contract_key, ex.side.value)
        mine = (order.va_id, order.contract_key, order.side.value)
        if order.sec_type == "BAG":  # a leg: its own contract and side, the combo's symbol
            theirs = (ex.va_id, ex.contract_key.split(" ")[0], "leg")
            mine = (order.va_id, order.symbol, "leg")
        if theirs != mine:
            found.append(
                LedgerProblem(
                    "execution_differs_from_order",
                    (ex.exec_id, order.id),
                    f"execution {ex.exec_id} is {' '.join(theirs)}, its order {order.id} "
                    f"{' '.join(mine)}",
                )
            )
    return found


def _exit_before_entry(
    orders: Mapping[str, OrderRecord], executions: Sequence[ExecutionRecord]
) -> list[LedgerProblem]:
    """Per VA and contract, in stored order: an execution that reduces the position dated
    before the execution that opened it (a later run booked over an earlier one's day)."""
    found: list[LedgerProblem] = []
    held: dict[tuple[str, str], tuple[int, ExecutionRecord | None]] = {}
    for ex in executions:
        key = (ex.va_id, ex.contract_key)
        quantity, opening = held.get(key, (0, None))
        signed = ex.quantity if ex.side.value == "BUY" else -ex.quantity
        reduces = quantity != 0 and (quantity > 0) != (signed > 0)
        if reduces and opening is not None and ex.time < opening.time:
            found.append(
                LedgerProblem(
                    "trade_exit_before_entry",
                    (opening.exec_id, ex.exec_id),
                    f"{ex.va_id} {ex.contract_key}: exit {ex.exec_id} at "
                    f"{ex.time:%Y-%m-%d %H:%M:%S} UTC is before the entry {opening.exec_id} at "
                    f"{opening.time:%Y-%m-%d %H:%M:%S} UTC",
                )
            )
        after = quantity + signed
        if after == 0:
            held[key] = (0, None)
        elif quantity == 0 or (after > 0) != (quantity > 0):
            held[key] = (after, ex)  # opened (or flipped through zero)
        else:
            held[key] = (after, opening)
    return found


def _timeline(
    orders: Mapping[str, OrderRecord],
    executions: Sequence[ExecutionRecord],
    events: Sequence[EventTime],
) -> list[LedgerProblem]:
    found: list[LedgerProblem] = []
    for ex in executions:
        order = orders.get(ex.order_id)
        if order is None or order.purpose in _SYNTHETIC:
            continue
        if ex.time < order.created_at - CLOCK_SLACK:
            found.append(
                LedgerProblem(
                    "before_its_order",
                    (ex.exec_id, order.id),
                    f"execution {ex.exec_id} at {ex.time:%Y-%m-%d %H:%M:%S} UTC is before its "
                    f"order {order.id} was created ({order.created_at:%Y-%m-%d %H:%M:%S} UTC)",
                )
            )
    for event in events:
        order = orders.get(event.order_id)
        if order is None or order.purpose in _SYNTHETIC:
            continue
        if event.time < order.created_at - CLOCK_SLACK:
            found.append(
                LedgerProblem(
                    "before_its_order",
                    (order.id, f"order_event {event.id}"),
                    f"order event {event.id} at {event.time:%Y-%m-%d %H:%M:%S} UTC is before "
                    f"its order {order.id} was created "
                    f"({order.created_at:%Y-%m-%d %H:%M:%S} UTC)",
                )
            )
    return found
