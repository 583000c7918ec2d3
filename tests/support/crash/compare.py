"""The broker truth comparison (pure): one broker snapshot against the ledger read after it
(write-ahead, executions once each and the same, positions, stop coverage, governance), and
at the end each order's final status against the broker's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.support.crash.broker import BrokerSnapshot
from tests.support.crash.governance import governance
from tests.support.crash.ledger import LedgerSnapshot
from tests.support.crash.problems import (
    STARTUP_RETIRED,
    CheckResult,
    Problem,
    named_causes,
    written_off_then_filled,
)

_SYNTHETIC_PURPOSES = ("expiry", "assignment")


def _synthetic(execution: Any, orders: dict[str, Any]) -> bool:
    """Booked by the engine itself, never a broker execution: a flatten's internal cross, an
    option's expiry or assignment."""
    order = orders.get(execution.order_id)
    return execution.exec_id.startswith("cross-") or (
        order is not None and order.purpose in _SYNTHETIC_PURPOSES
    )


def compare(
    broker: BrokerSnapshot,
    ledger: LedgerSnapshot,
    *,
    max_trades_per_day: int,
    trading_day: Callable[[datetime], date],
) -> CheckResult:
    """Everything the harness checks, on one broker snapshot and the ledger read after it.

    The ledger is read second, so every order the broker has must already be in it
    (write-ahead), while executions the broker made after its read may already be in the
    ledger: those (later than the broker's last execution) only make the read inconsistent.
    Positions and stops are judged on consistent reads only."""
    result = CheckResult()
    orders = ledger.orders
    phantoms = written_off_then_filled(ledger)
    result.hard.extend(phantoms.values())
    # Orders: once each at the broker, and every one of them stored first (write-ahead).
    by_ref: dict[str, list[int]] = defaultdict(list)
    for order in broker.orders.values():
        by_ref[order.order_ref].append(order.perm_id)
    for ref, perms in sorted(by_ref.items()):
        if not ref:
            result.hard.append(
                Problem("order_without_ref", str(perms), f"broker orders without orderRef {perms}")
            )
            continue
        if len(perms) > 1:
            result.hard.append(
                Problem(
                    "order_doubled",
                    ref,
                    f"order {ref} reached the broker {len(perms)} times (permIds {sorted(perms)})",
                )
            )
        if ref not in orders:
            result.hard.append(
                Problem(
                    "order_not_in_ledger",
                    ref,
                    f"broker order {ref} (permIds {perms}) is not in the ledger: sent before "
                    "it was stored",
                )
            )
    result.orders_checked = sum(1 for ref in by_ref if ref in orders)
    # Executions: each broker execution in the ledger once and the same; none invented.
    stored = {e.exec_id: e for e in ledger.executions}
    seen: set[str] = set()
    for ex in broker.executions:
        if ex.exec_id in seen:
            result.hard.append(Problem("execution_repeated_at_broker", ex.exec_id, "listed twice"))
        seen.add(ex.exec_id)
        if ex.order_ref not in orders:
            result.hard.append(
                Problem(
                    "execution_unknown_order",
                    ex.exec_id,
                    f"broker execution {ex.exec_id} of orderRef {ex.order_ref!r}: no such order "
                    "in the ledger",
                )
            )
            continue
        mine = stored.get(ex.exec_id)
        if mine is None:
            result.executions.append(
                Problem(
                    "execution_missing",
                    ex.exec_id,
                    f"broker execution {ex.exec_id} ({ex.side} {ex.shares} {ex.key} @ "
                    f"{ex.price}, order {ex.order_ref}) is not in the ledger",
                )
            )
            continue
        result.fills_checked += 1
        result.fills.add(ex.exec_id)
        same = (
            mine.order_id == ex.order_ref
            and mine.side.value == ex.side
            and mine.quantity == ex.shares
            and mine.contract_key == ex.key
            and abs(Decimal(mine.price) - ex.price) < Decimal("0.000001")
        )
        if not same:
            result.hard.append(
                Problem(
                    "execution_differs",
                    ex.exec_id,
                    f"{ex.exec_id}: broker {ex.order_ref} {ex.side} {ex.shares} {ex.key} @ "
                    f"{ex.price}; ledger {mine.order_id} {mine.side.value} {mine.quantity} "
                    f"{mine.contract_key} @ {mine.price}",
                )
            )
    cut = max((e.time for e in ledger.executions if e.exec_id in seen), default=None)
    # IB lists today's executions only, and so does tws-sim (``executions_today_only``): a
    # ledger execution of an earlier trading day than the broker's cannot be among them.
    today = trading_day(broker.time) if broker.time is not None else None
    extra = False
    for mine in ledger.executions:
        if mine.exec_id in seen or _synthetic(mine, orders):
            continue
        if today is not None and trading_day(mine.time) < today:
            continue
        extra = True
        if cut is not None and mine.time < cut - timedelta(seconds=2):
            result.executions.append(
                Problem(
                    "execution_not_at_broker",
                    mine.exec_id,
                    f"ledger execution {mine.exec_id} (order {mine.order_id}, {mine.time:%H:%M:%S}"
                    f") is not among the broker's, which go on to {cut:%H:%M:%S}",
                )
            )
    result.consistent = broker.stable and not extra and not result.executions
    if result.consistent:
        result.state.extend(_positions(broker, ledger))
        result.state.extend(_stop_coverage(broker, ledger, phantoms))
    result.hard.extend(governance(ledger, broker, max_trades_per_day, trading_day, phantoms))
    return result


def _positions(broker: BrokerSnapshot, ledger: LedgerSnapshot) -> list[Problem]:
    """The ledger's positions per contract, summed over VAs, against the broker's."""
    ours: dict[str, int] = defaultdict(int)
    for position in ledger.positions:
        ours[position.contract.key] += position.quantity
    return [
        Problem(
            "position_differs",
            key,
            f"{key}: ledger {ours.get(key, 0)}, broker {broker.positions.get(key, 0)}",
        )
        for key in sorted(set(ours) | set(broker.positions))
        if ours.get(key, 0) != broker.positions.get(key, 0)
    ]


_BROKER_DONE = {
    "Filled": "filled",
    "Cancelled": "cancelled",
    "ApiCancelled": "cancelled",
    "Inactive": "inactive",
}


def order_findings(broker: BrokerSnapshot, ledger: LedgerSnapshot) -> list[Problem]:
    """Where the ledger's record of an order disagrees with the broker's or with the ledger's own
    executions, once nothing moves any more (the final check): the order's final status, its
    filled quantity, a working order the ledger has ended, an ended one it still calls working.
    These do not move positions (those come from executions) but make the ledger's orders and
    the report wrong."""
    problems: list[Problem] = []
    executed: dict[str, int] = defaultdict(int)
    for ex in ledger.executions:
        executed[ex.order_id] += ex.quantity
    at_broker = {o.order_ref: o for o in broker.orders.values() if o.order_ref}
    for order in sorted(ledger.orders.values(), key=lambda o: o.id):
        if order.dry_run or order.purpose in ("expiry", "assignment"):
            continue
        status, terminal = order.status.value, order.status.is_terminal
        done, theirs = executed.get(order.id, 0), at_broker.get(order.id)
        what = f"{order.id} ({order.purpose})"
        if terminal and order.filled != done:
            problems.append(
                Problem(
                    "ledger_filled_differs",
                    order.id,
                    f"{what}: ledger {status} filled {order.filled} "
                    f"({ledger.end_details.get(order.id, '')!r}), its executions sum to {done}",
                )
            )
        if theirs is None:
            if not terminal:
                problems.append(
                    Problem(
                        "working_not_at_broker",
                        order.id,
                        f"{what}: ledger {status}, unknown to the broker",
                    )
                )
            continue
        if theirs.working and terminal:
            end = ledger.end_details.get(order.id, "")
            problems.append(
                Problem(
                    "ended_but_working",
                    order.id,
                    f"{what}: ledger {status}, the broker still works it ({theirs.status})",
                    ""
                    if end.startswith(STARTUP_RETIRED)
                    else "cancelled_then_filled family: ended on a status the broker never sent",
                )
            )
        elif not theirs.working and not terminal:
            problems.append(
                Problem(
                    "working_but_ended",
                    order.id,
                    f"{what}: ledger {status}, the broker says {theirs.status}",
                )
            )
        elif not theirs.working:
            expected = _BROKER_DONE.get(theirs.status, theirs.status)
            if status != expected and not (expected == "cancelled" and status == "rejected"):
                problems.append(
                    Problem(
                        "status_differs",
                        order.id,
                        f"{what}: ledger {status} filled {order.filled}, broker {theirs.status} "
                        f"filled {theirs.filled}",
                    )
                )
    return problems


def _stop_coverage(
    broker: BrokerSnapshot, ledger: LedgerSnapshot, phantoms: dict[str, Problem]
) -> list[Problem]:
    """Every open stock position is covered by working stops at the broker; none covers more
    than is held unless an entry of that VA and contract still works (its attached stop keeps
    the entry's size)."""
    problems: list[Problem] = []
    held = {(p.va_id, p.contract.key): p.quantity for p in ledger.positions}
    cover: dict[tuple[str, str], int] = defaultdict(int)
    entry_working: set[tuple[str, str]] = set()
    for order in broker.orders.values():
        mine = ledger.orders.get(order.order_ref)
        if mine is None or not order.working:
            continue
        key = (mine.va_id, mine.contract_key)
        if mine.purpose == "entry":
            entry_working.add(key)
        elif mine.purpose == "stop":
            cover[key] += order.remaining
    opened_by = _opening_orders(ledger)
    for key in sorted(set(held) | set(cover)):
        va, contract = key
        quantity = held.get(key, 0)
        if " " in contract:
            continue  # options carry no attached stop (the position monitor is their stop)
        covered = cover.get(key, 0)
        if covered < abs(quantity):
            problems.append(
                Problem(
                    "stop_missing",
                    f"{va}|{contract}",
                    f"{va} holds {quantity} {contract}; working stops at the broker cover "
                    f"{covered}",
                    named_causes(opened_by.get(key, set()), phantoms),
                )
            )
        elif covered > abs(quantity) and key not in entry_working:
            problems.append(
                Problem(
                    "stop_oversized",
                    f"{va}|{contract}",
                    f"{va} holds {quantity} {contract}; working stops at the broker cover "
                    f"{covered} (a fill would open the other side)",
                )
            )
    return problems


def _opening_orders(ledger: LedgerSnapshot) -> dict[tuple[str, str], set[str]]:
    """The orders whose fills make up each open position (since it was last flat)."""
    running: dict[tuple[str, str], int] = defaultdict(int)
    orders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ex in ledger.executions:
        key = (ex.va_id, ex.contract_key)
        running[key] += ex.quantity if ex.side.value == "BUY" else -ex.quantity
        orders[key].add(ex.order_id)
        if running[key] == 0:
            orders[key] = set()
    return orders
