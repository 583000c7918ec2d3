"""The governance invariants on the ledger (pure): a VA never holds two symbols at once, no
exit or stop fill flips or grows a position, no entry fill shrinks one, and new entries per
trading day stay within ``risk.max_trades_per_day``."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from tests.support.crash.broker import BrokerSnapshot
from tests.support.crash.ledger import LedgerSnapshot
from tests.support.crash.options import EXIT_RACE
from tests.support.crash.problems import Problem, named_causes


def sign(value: int) -> int:
    return (value > 0) - (value < 0)


def governance(
    ledger: LedgerSnapshot,
    broker: BrokerSnapshot | None,
    max_trades_per_day: int,
    trading_day: Callable[[datetime], date],
    phantoms: dict[str, Problem] | None = None,
) -> list[Problem]:
    """The governance invariants on the ledger, replaying every VA's executions in the order
    the broker made them (its execution list; time for those it does not list). A violation
    that involves a position opened by an order the ledger had written off (see
    ``written_off_then_filled``) names that order as its cause."""
    phantoms = phantoms or {}
    problems: list[Problem] = []
    index = {e.exec_id: i for i, e in enumerate(broker.executions)} if broker else {}
    known = sorted(
        (e for e in ledger.executions if e.exec_id in index), key=lambda e: index[e.exec_id]
    )
    others = [e for e in ledger.executions if e.exec_id not in index]
    books: dict[str, dict[str, int]] = defaultdict(dict)
    makers: dict[tuple[str, str], set[str]] = defaultdict(set)  # orders behind each position
    last_close: dict[tuple[str, str], tuple[str, datetime]] = {}  # order and time that closed it

    def cause(*keys: tuple[str, str]) -> str:
        return named_causes({o for k in keys for o in makers[k]}, phantoms)

    for ex in _merge_by_time(known, others):
        order = ledger.orders.get(ex.order_id)
        if order is None:
            problems.append(Problem("execution_without_order", ex.exec_id, ex.order_id))
            continue
        book = books[ex.va_id]
        key = (ex.va_id, ex.contract_key)
        before = book.get(ex.contract_key, 0)
        signed = ex.quantity if ex.side.value == "BUY" else -ex.quantity
        after = before + signed
        reducing = order.purpose in ("exit", "stop")  # an assignment's stock leg opens one
        if reducing and (
            before == 0 or sign(after) not in (0, sign(before)) or abs(after) >= abs(before)
        ):
            closer = last_close.get(key)
            raced = (
                before == 0
                and closer is not None
                and closer[0] != order.id
                and closer[1] - timedelta(seconds=1)
                <= order.created_at
                <= closer[1] + timedelta(seconds=60)
            )
            problems.append(
                Problem(
                    "exit_flipped_position",
                    ex.exec_id,
                    f"{ex.va_id} {ex.contract_key}: {order.purpose} {order.id} fill {ex.exec_id} "
                    f"took the position from {before} to {after}"
                    + (
                        f" (placed {order.created_at:%H:%M:%S.%f} UTC, after {closer[0]} had "
                        f"closed the position at the broker at {closer[1]:%H:%M:%S} UTC)"
                        if raced and closer
                        else ""
                    ),
                    EXIT_RACE if raced else cause(key),
                )
            )
        if reducing and after == 0:
            last_close[key] = (order.id, ex.time)
        if order.purpose == "entry" and before != 0 and sign(signed) != sign(before):
            problems.append(
                Problem(
                    "entry_against_position",
                    ex.exec_id,
                    f"{ex.va_id} {ex.contract_key}: entry {order.id} fill {ex.exec_id} while "
                    f"holding {before}",
                    cause(key),
                )
            )
        makers[key].add(order.id)
        if after:
            book[ex.contract_key] = after
        else:
            book.pop(ex.contract_key, None)
            makers[key] = set()
        if len({k.split(" ")[0] for k in book}) > 1:
            problems.append(
                Problem(
                    "two_symbols_in_va",
                    ex.exec_id,
                    f"{ex.va_id} held {dict(sorted(book.items()))} after {ex.exec_id}",
                    cause(*[(ex.va_id, k) for k in book]),
                )
            )
    per_day: Counter[date] = Counter(
        trading_day(o.created_at)
        for o in ledger.orders.values()
        if o.purpose == "entry" and o.status.value != "rejected"
    )
    for day, count in sorted(per_day.items()):
        if count > max_trades_per_day:
            problems.append(
                Problem(
                    "trades_per_day",
                    str(day),
                    f"{day}: {count} entries > risk.max_trades_per_day {max_trades_per_day}",
                )
            )
    return problems


def _merge_by_time(known: list[Any], others: list[Any]) -> list[Any]:
    """``known`` keeps its order; each of ``others`` goes before the first later one."""
    merged: list[Any] = []
    rest = iter(sorted(others, key=lambda e: e.time))
    pending = next(rest, None)
    for item in known:
        while pending is not None and pending.time < item.time:
            merged.append(pending)
            pending = next(rest, None)
        merged.append(item)
    while pending is not None:
        merged.append(pending)
        pending = next(rest, None)
    return merged
