"""Crash harness: SIGKILL the engine at random moments while it trades through the simulated
TWS, restart it, and check after every restart and at the end that nothing was lost or doubled.

    python -m tests.support.crash_harness [--kills N] [--seed S] [--speed X] [--report PATH]
                                          [--start ISO] [--workdir DIR] [--keep]
                                          [--timeout S] [--max-trades-per-day N]
                                          [--default-bars] [--on-mismatch halt|trade]

Two processes, all on loopback:

* the market: a ``TwsSimServer`` (the TWS API protocol over the market simulator) running in
  this process on a free port, from a temporary copy of ``config.toml``;
* the engine: ``main.py run --broker ib --headless --speed X`` in a child process with its own
  SQLite ledger, SIGKILLed at random moments (seeded): right after it starts, right after its
  startup reconciliation, right after it stored an order (the write-ahead window), right after
  it stored an execution, or at a random moment of trading; every tenth stop is a graceful
  SIGTERM instead (exit code 0 within 5 s). Then it is started again.

After each restart, once the engine has stored its ``reconciled`` risk event (the ledger is
polled read-only, bounded), and at the end (the market frozen, the engine stopped with SIGTERM),
the harness compares the ledger with the broker, which it reads with its own ib_async client id
(``reqExecutions``, ``reqPositions``, ``reqAllOpenOrders``, ``reqCompletedOrders``):

* the engine's own startup reconciliation found no position mismatch;
* no order reached the broker twice (one permId per ``orderRef``), and every order at the
  broker is in the ledger (write-ahead);
* every broker execution is in the ledger exactly once (by exec id) with the same order, side,
  quantity and price, and the ledger has no execution the broker does not;
* the ledger's positions per contract (summed over VAs) equal the broker's;
* the governance invariants hold on the ledger: a VA never holds two symbols at once, no exit
  or stop fill flips or grows a position (and no entry fill shrinks one), new entries per
  trading day stay within ``risk.max_trades_per_day``, and every open stock position is covered
  by working protective stops at the broker (never more than held unless its entry still works).

While the engine runs, fills may be in flight, so a check after a restart is retried: positions
and stops are judged on consistent reads only (the broker's executions unchanged while it was
read, and exactly those in the ledger), and a missing or extra execution, a position or stop
difference is a violation only once it has lasted ``PERSIST_S`` and is still there at the end
of the check. Write-ahead and governance problems are violations at once. The final comparison
is exact: the market is frozen first (no quotes, no matching), the engine catches up and stops,
then nothing can change; it adds each order's final status against the broker's and every
ledger time against the simulated run ("findings").

When the harness can tell, a violation names the known engine bug it follows from (its
``cause``: an order the ledger wrote off that then filled, a fill during the startup
reconciliation, an exit sized before the closing fill arrived); see docs/RELIABILITY.md.

The summary (kill points survived, orders and fills checked, every violation with details) is
printed and, with ``--report``, written as JSON. Exit code 0: no violation and no finding; 1:
violations, findings, or the run did not complete; 2: bad arguments.

Bounded and self-cleaning: every wait has a deadline, the whole run has ``--timeout``, the
engine dies with this process (``PR_SET_PDEATHSIG`` on Linux) and is always killed on the way
out; the server is stopped. The temporary directory is removed unless ``--keep`` or
``--workdir`` is given or a violation was found.

The only departures from the shipped config (besides port, log and inbox paths): the MA-cross
VAs use 10-second bars (2 fast, 4 slow) because a restarted strategy starts cold and the
shipped 12-30 one-minute bars would need 6-15 wall seconds of quotes at 120x before a
restarted engine could trade again (``--default-bars`` keeps them); and
``risk.max_trades_per_day`` is raised (``--max-trades-per-day``, default 400) so that trading
goes on all day instead of stopping after the shipped 10 entries (pass 0 to keep the shipped
limit, which the harness then checks as a binding limit across restarts). ``--on-mismatch
trade`` keeps the engine trading after a startup position mismatch (a violation here all the
same), which otherwise halts it for the rest of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import platform
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "config.toml"
EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2

#: The MA-cross VAs on 10 s bars (2 fast, 4 slow): a restarted (cold) strategy signals within a
#: second of wall time at 120x.
FAST_BARS = {"fast_bars": 2, "slow_bars": 4, "bar_seconds": 10}
_MA_CROSS = re.compile(
    r'(?m)^kind = "ma_cross"\nfast_bars = \d+\nslow_bars = \d+\nbar_seconds = \d+$'
)
#: Kinds of kill points and how often each is drawn.
KILL_KINDS: dict[str, float] = {
    "start": 0.15,  # during start-up: imports, connect, recovery, reconciliation
    "reconciled": 0.10,  # right after the startup reconciliation was stored
    "order": 0.35,  # right after an order was stored (write-ahead), before or after the broker
    "fill": 0.15,  # right after an execution was stored
    "trading": 0.25,  # a random moment of trading
}
GRACEFUL_EVERY = 10  # every tenth stop is a SIGTERM (not counted as a kill point)
SHUTDOWN_LIMIT_S = 5.0
RECONCILE_WAIT_S = 30.0
CONVERGE_S = 15.0
PERSIST_S = 8.0  # an execution or position difference this old is not in flight any more
FINAL_CONVERGE_S = 25.0
FINAL_RESERVE_S = 70.0  # kept from --timeout for the last run, the freeze and the final checks
TRIGGER_WAIT_S = 4.0
CHECKER_CLIENT_ID = 901
BROKER_TIMEOUT_S = 8.0
EVIDENCE_COPIES = 3  # the engine's logs copied at the first violations
_WORKING_AT_IB = ("PendingSubmit", "ApiPending", "PreSubmitted", "Submitted")
_SYNTHETIC_PURPOSES = ("expiry", "assignment")
_ENDED = ("cancelled", "rejected", "inactive")
#: The cause named for an exit that filled into a position a stop (or another exit) had just
#: closed at the broker: the exit was sized from the OrderManager's position before that fill
#: reached it, and joined the stop's OCA group after the stop had already filled.
EXIT_RACE = "exit_sized_before_the_closing_fill_arrived"
#: The cause named for a graceful stop that overran because actors still at work called the
#: broker the engine had already stopped (they crash, restart, crash again).
STOP_ORDER = "broker_stopped_before_the_actors"
#: The cause named for a startup position mismatch with a fill in that contract right then.
STARTUP_RACE = "fill_during_the_startup_reconciliation"
_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Interrupt)\b")
_STARTUP_RETIRED = "not at the broker at startup"  # the OrderManager's startup retirement
_TIME_COLUMNS = (
    ('"order"', "created_at"),
    ('"order"', "updated_at"),
    ("order_event", "time"),
    ("execution", "time"),
    ("risk_event", "time"),
    ("signal", "time"),
)

# Loaded before any child is forked: the child only calls into it (no dlopen after fork).
try:
    _LIBC: ctypes.CDLL | None = (
        ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
    )
except OSError:  # pragma: no cover - no libc symbols
    _LIBC = None


def _die_with_parent() -> None:  # runs in the forked child, before exec
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the harness dies


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# -- options and results -----------------------------------------------------------------------
@dataclass
class HarnessOptions:
    kills: int = 150
    seed: int = 7
    speed: float = 120.0
    start: str = "2026-11-17T09:30"  # a Tuesday, the session open
    report: Path | None = None
    workdir: Path | None = None
    keep: bool = False
    timeout_s: float | None = None  # default: 90 s + 12 s per kill
    max_trades_per_day: int | None = 400  # None: the config's value
    fast_bars: bool = True
    on_mismatch: str | None = None  # "trade": keep trading after a startup mismatch (None: config)
    config: Path = DEFAULT_CONFIG

    @property
    def deadline_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else 90.0 + 12.0 * self.kills


@dataclass
class KillPoint:
    number: int
    kind: str  # what the kill was aimed at
    trigger: str  # what actually happened before the kill ("order", "timeout", ...)
    wall_s: float  # seconds since the harness started
    engine_uptime_s: float
    sim_time: str
    orders_in_ledger: int
    executions_in_ledger: int
    stored_orders: list[str] = field(default_factory=list)  # "order" kills: stored just before
    received: list[str] = field(default_factory=list)  # ... of which the TWS was sent
    at_market: list[str] = field(default_factory=list)  # ... and sent on to the market
    classified: bool = False  # the TWS's order desk could be read for the two above
    survived: bool | None = None  # set once the next restart has been checked
    checked_at: str = ""


@dataclass
class Violation:
    check: str
    detail: str
    at: str  # which check found it ("restart 12", "final", ...)
    wall_s: float
    cause: str = ""  # a known bug it follows from, when the harness can tell
    subject: str = ""  # the order, execution or contract it is about


# -- the ledger, read-only ---------------------------------------------------------------------
class LedgerProbe:
    """Cheap counters polled every few milliseconds (plain sqlite3, read-only, autocommit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _one(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        try:
            if self._conn is None:
                if not self.path.exists():
                    return None
                self._conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=2.0, isolation_level=None
                )
            row: tuple[Any, ...] | None = self._conn.execute(sql, args).fetchone()
            return row
        except sqlite3.Error:
            self.close()
            return None

    def _all(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        try:
            if self._conn is None and self._one("SELECT 1") is None:
                return []
            assert self._conn is not None
            return list(self._conn.execute(sql, args).fetchall())
        except sqlite3.Error:
            self.close()
            return []

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None

    def counts(self) -> tuple[int, int]:
        """(orders, executions) stored; (0, 0) before the tables exist."""
        row = self._one('SELECT (SELECT count(*) FROM "order"), (SELECT count(*) FROM execution)')
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def max_order_rowid(self) -> int:
        row = self._one('SELECT coalesce(max(rowid), 0) FROM "order"')
        return int(row[0]) if row else 0

    def orders_after(self, rowid: int) -> list[str]:
        return [
            r[0] for r in self._all('SELECT id FROM "order" WHERE rowid > ? ORDER BY rowid', rowid)
        ]

    def max_risk_event_id(self) -> int:
        row = self._one("SELECT coalesce(max(id), 0) FROM risk_event")
        return int(row[0]) if row else 0

    def times_outside(self, first: datetime, last: datetime) -> dict[str, tuple[int, str]]:
        """Per ledger time column: how many stored times fall outside [first, last] and one of
        them (the ledger stores naive UTC text)."""
        low, high = (t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for t in (first, last))
        found: dict[str, tuple[int, str]] = {}
        for table, column in _TIME_COLUMNS:
            row = self._one(
                f"SELECT count(*), max({column}) FROM {table} WHERE {column} < ? OR {column} > ?",
                low,
                high,
            )
            if row and row[0]:
                name = table.strip('"')
                found[f"{name}.{column}"] = (int(row[0]), str(row[1]))
        return found

    def reconciled_after(self, event_id: int) -> tuple[int, str, datetime] | None:
        """The first ``reconciled`` risk event stored after ``event_id``: (id, detail, time)."""
        row = self._one(
            "SELECT id, detail, time FROM risk_event WHERE kind = 'reconciled' AND id > ? "
            "ORDER BY id LIMIT 1",
            event_id,
        )
        if not row:
            return None
        when = datetime.fromisoformat(str(row[2])).replace(tzinfo=UTC)
        return int(row[0]), str(row[1]), when


@dataclass
class LedgerSnapshot:
    orders: dict[str, Any]  # id -> db.records.OrderRecord
    executions: list[Any]  # db.records.ExecutionRecord, time order
    positions: list[Any]  # db.records.OpenPosition (per VA and contract)
    risk_events: list[Any]
    # Orders ended (cancelled, rejected, inactive): the detail of the event that ended them.
    end_details: dict[str, str] = field(default_factory=dict)


class LedgerReader:
    """Consistent snapshots through ``db.Ledger`` on a read-only connection (one transaction)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: Any = None
        self._ledger: Any = None

    def snapshot(self) -> LedgerSnapshot | None:
        import peewee

        from db import Ledger
        from db.models import database_proxy

        if not self.path.exists():
            return None
        try:
            if self._db is None:
                self._db = peewee.SqliteDatabase(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
                database_proxy.initialize(self._db)
                self._ledger = Ledger(self._db)
            with self._db.atomic():  # one read transaction: one consistent snapshot
                orders = {o.id: o for o in self._ledger.orders()}
                executions = self._ledger.executions()
                positions = self._ledger.open_positions()
                events = self._ledger.risk_events()
                cursor = self._db.execute_sql(
                    "SELECT order_id, detail FROM order_event WHERE status IN (?, ?, ?) "
                    "ORDER BY id",
                    _ENDED,
                )
                end_details = {
                    oid: detail
                    for oid, detail in cursor.fetchall()
                    if oid in orders and orders[oid].status.value in _ENDED
                }
            return LedgerSnapshot(orders, executions, positions, events, end_details)
        except peewee.PeeweeException:
            self.close()
            return None

    def close(self) -> None:
        if self._db is not None and not self._db.is_closed():
            self._db.close()
        self._db = None


# -- the broker, through a separate ib_async client --------------------------------------------
@dataclass(frozen=True)
class BrokerExec:
    exec_id: str
    order_ref: str
    perm_id: int
    side: str  # BUY / SELL
    shares: int
    price: Decimal
    key: str  # contract key as the engine spells it
    time: datetime  # UTC, the broker's clock


@dataclass(frozen=True)
class BrokerOrder:
    perm_id: int
    order_ref: str
    client_id: int
    status: str
    action: str
    order_type: str
    total: int
    filled: int
    key: str

    @property
    def working(self) -> bool:
        return self.status in _WORKING_AT_IB

    @property
    def remaining(self) -> int:
        return max(self.total - self.filled, 0)


@dataclass
class BrokerSnapshot:
    executions: list[BrokerExec]  # broker order (the second read)
    positions: dict[str, int]  # contract key -> quantity (non-zero)
    orders: dict[int, BrokerOrder]  # permId -> order (open ones win over completed)
    stable: bool  # the executions did not change while the positions and orders were read


def _contract_key(contract: Any) -> str:
    if contract.secType == "STK":
        return str(contract.symbol)
    right = {"P": "P", "PUT": "P", "C": "C", "CALL": "C"}.get(str(contract.right).upper(), "?")
    strike = Decimal(repr(float(contract.strike)))
    text = format(
        strike.quantize(Decimal(1)) if strike == strike.to_integral_value() else strike.normalize(),
        "f",
    )
    return f"{contract.symbol} {contract.lastTradeDateOrContractMonth[:8]} {right} {text}"


def _whole(value: Any) -> int:
    number = float(value or 0)
    return 0 if number >= 1e300 else round(number)


class BrokerReader:
    """Reads the broker with its own client id (connect, read, disconnect: stateless)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._client_id = CHECKER_CLIENT_ID

    def snapshot(self, *, completed: bool = True) -> BrokerSnapshot:
        """Executions, positions, open orders and (``completed``) the completed orders.

        Raises:
            ConnectionError | TimeoutError | OSError: the broker cannot be read.
        """
        for attempt in range(3):
            try:
                return asyncio.run(asyncio.wait_for(self._read(completed), BROKER_TIMEOUT_S * 2))
            except (ConnectionError, OSError, TimeoutError):
                if attempt == 2:
                    raise
                self._client_id += 1  # e.g. 326: the previous session is not closed yet
                time.sleep(0.2)
        raise AssertionError("unreachable")

    async def _read(self, with_completed: bool) -> BrokerSnapshot:
        from ib_async import IB
        from ib_async.ib import StartupFetchNONE

        ib = IB()
        ib.RaiseRequestErrors = True
        await ib.connectAsync(
            "127.0.0.1",
            self.port,
            clientId=self._client_id,
            timeout=BROKER_TIMEOUT_S,
            readonly=True,
            fetchFields=StartupFetchNONE,
        )
        try:
            first = await ib.reqExecutionsAsync()
            positions = await ib.reqPositionsAsync()
            completed = await ib.reqCompletedOrdersAsync(False) if with_completed else []
            open_trades = await ib.reqAllOpenOrdersAsync()
            second = await ib.reqExecutionsAsync()
        finally:
            ib.disconnect()
        orders: dict[int, BrokerOrder] = {}
        for trade in [*completed, *open_trades]:  # open ones win
            order, status = trade.order, trade.orderStatus
            filled = _whole(status.filled) or _whole(order.filledQuantity)
            orders[order.permId] = BrokerOrder(
                perm_id=order.permId,
                order_ref=order.orderRef or "",
                client_id=order.clientId,
                status=status.status,
                action=order.action,
                order_type=order.orderType,
                total=_whole(order.totalQuantity),
                filled=filled,
                key=_contract_key(trade.contract),
            )
        executions = [
            BrokerExec(
                exec_id=f.execution.execId,
                order_ref=f.execution.orderRef or "",
                perm_id=f.execution.permId,
                side="BUY" if f.execution.side in ("BOT", "BUY") else "SELL",
                shares=_whole(f.execution.shares),
                price=Decimal(repr(f.execution.price)),
                key=_contract_key(f.contract),
                time=f.execution.time.astimezone(UTC),
            )
            for f in second
        ]
        held: dict[str, int] = defaultdict(int)
        for p in positions:
            held[_contract_key(p.contract)] += _whole(p.position)
        return BrokerSnapshot(
            executions=executions,
            positions={k: q for k, q in held.items() if q},
            orders=orders,
            stable={f.execution.execId for f in first} == {e.exec_id for e in executions},
        )


# -- the checks (pure) -------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    check: str
    subject: str  # what it is about (an order, an execution, a contract): its identity over time
    detail: str
    cause: str = ""  # a violation it follows from (an order the ledger ended that then filled)


@dataclass
class CheckResult:
    hard: list[Problem] = field(default_factory=list)  # wrong whatever is in flight
    executions: list[Problem] = field(default_factory=list)  # missing / extra: maybe in flight
    state: list[Problem] = field(default_factory=list)  # positions, stops: on consistent reads
    consistent: bool = False  # the broker stood still while read and the ledger has exactly it
    orders_checked: int = 0
    fills_checked: int = 0

    @property
    def settled(self) -> bool:
        """Nothing left that waiting could change (hard problems never change)."""
        return self.consistent and not (self.executions or self.state)

    @property
    def ok(self) -> bool:
        return self.settled and not self.hard


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


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
    extra = False
    for mine in ledger.executions:
        if mine.exec_id in seen or _synthetic(mine, orders):
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


def written_off_then_filled(ledger: LedgerSnapshot) -> dict[str, Problem]:
    """Orders the ledger ended (cancelled, rejected, inactive) with fewer shares filled than
    their executions: the broker went on filling an order the engine had written off.
    ``cancelled_then_filled``: ended on a status from the adapter (bug C);
    ``retired_then_filled``: retired by the startup reconciliation as "not at the broker" while
    it was filling there (bug D)."""
    executed: dict[str, int] = defaultdict(int)
    for ex in ledger.executions:
        executed[ex.order_id] += ex.quantity
    found: dict[str, Problem] = {}
    for order_id, detail in ledger.end_details.items():
        order = ledger.orders[order_id]
        if executed[order_id] <= order.filled:
            continue
        retired = detail.startswith(_STARTUP_RETIRED)
        how = "at startup as not at the broker" if retired else "on a broker status"
        found[order_id] = Problem(
            "retired_then_filled" if retired else "cancelled_then_filled",
            order_id,
            f"{order_id} ({order.purpose} {order.side.value} {order.quantity} "
            f"{order.contract_key}, {order.va_id}): the ledger ended it {order.status.value} with "
            f"{order.filled} filled {how} ({detail or 'no reason'!s}), then "
            f"{executed[order_id]} filled at the broker",
        )
    return found


def _named(ids: set[str], phantoms: dict[str, Problem]) -> str:
    """The cause naming written-off orders, by kind: "cancelled_then_filled a, b; ..."."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for oid in sorted(ids & phantoms.keys()):
        kinds[phantoms[oid].check].append(oid)
    return "; ".join(f"{kind} {', '.join(oids)}" for kind, oids in sorted(kinds.items()))


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
                    if end.startswith(_STARTUP_RETIRED)
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
                    _named(opened_by.get(key, set()), phantoms),
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
        return _named({o for k in keys for o in makers[k]}, phantoms)

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
            before == 0 or _sign(after) not in (0, _sign(before)) or abs(after) >= abs(before)
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
        if order.purpose == "entry" and before != 0 and _sign(signed) != _sign(before):
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


# -- the engine process ------------------------------------------------------------------------
class EngineProcess:
    """One run of ``main.py run --broker ib --headless`` (stderr to a file)."""

    def __init__(self, number: int, command: list[str], cwd: Path, log: Path) -> None:
        self.number = number
        self.log = log
        self._stderr = log.open("w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            preexec_fn=_die_with_parent if _LIBC is not None else None,  # noqa: PLW1509
        )

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self._stderr.close()

    def terminate(self, limit_s: float) -> tuple[int | None, float]:
        """SIGTERM; (exit code or None if it did not exit within ``limit_s`` + 5 s, seconds)."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(limit_s + 5.0)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - sent
        self.kill()
        return code, took

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


# -- the harness -------------------------------------------------------------------------------
class HarnessError(Exception):
    """The harness itself could not go on (out of time, broker unreadable)."""


class CrashHarness:
    def __init__(self, options: HarnessOptions) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.t0 = time.monotonic()
        self.violations: list[Violation] = []
        self.anomalies: list[str] = []
        self.findings: list[dict[str, str]] = []
        self.inconclusive: list[str] = []  # checks that never got a consistent read
        self.errors: list[str] = []
        self.kill_points: list[KillPoint] = []
        self.graceful: list[dict[str, Any]] = []
        self.restart_checks = 0
        self.checks_passed = 0
        self.converge_retries = 0
        self.reconciled_differences = 0
        self.final: dict[str, Any] = {}
        self._seen: set[tuple[str, str]] = set()
        self._pending: list[KillPoint] = []
        self._engine: EngineProcess | None = None
        self._runs = 0
        self._server: Any = None
        self._own_workdir = options.workdir is None
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="crash-harness-"))
        self.db_path = self.workdir / "engine.db"
        self.probe = LedgerProbe(self.db_path)
        self.ledger = LedgerReader(self.db_path)
        self.broker: BrokerReader | None = None
        self.config: Any = None
        self.config_path = self.workdir / "config.toml"
        self.overrides: dict[str, Any] = {}

    # -- set-up ---------------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _left(self) -> float:
        return self.options.deadline_s - self._elapsed()

    def _write_config(self, port: int) -> None:
        text = self.options.config.read_text()
        text, found = re.subn(
            r"(?ms)^(\[broker\.ib\].*?^port = )\d+$", rf"\g<1>{port}", text, count=1
        )
        if not found:
            raise HarnessError("config.toml: no [broker.ib] port to point at the simulator")
        log_dir = (self.workdir / "logs").as_posix()
        inbox = (self.workdir / "inbox" / "signals.jsonl").as_posix()
        text = re.sub(r'(?m)^log_dir = ".*"$', f'log_dir = "{log_dir}"', text, count=1)
        text = re.sub(r'(?m)^path = "inbox/.*"$', f'path = "{inbox}"', text, count=1)
        self.overrides = {"broker.ib.port": port, "engine.log_dir": log_dir, "inbox.path": inbox}
        if self.options.fast_bars:
            bars = "\n".join(f"{k} = {v}" for k, v in FAST_BARS.items())
            text, count = _MA_CROSS.subn(f'kind = "ma_cross"\n{bars}', text)
            if count:
                self.overrides["ma_cross VAs"] = f"{count} on {', '.join(bars.splitlines())}"
        if self.options.max_trades_per_day is not None:
            value = self.options.max_trades_per_day
            text, found = re.subn(
                r"(?m)^max_trades_per_day = \d+$", f"max_trades_per_day = {value}", text, count=1
            )
            if found:
                self.overrides["risk.max_trades_per_day"] = value
        if self.options.on_mismatch is not None:
            text, found = re.subn(
                r'(?m)^on_mismatch = "\w+"$', f'on_mismatch = "{self.options.on_mismatch}"', text
            )
            if found:
                self.overrides["engine.on_mismatch"] = self.options.on_mismatch
        self.config_path.write_text(text)
        self.config_path.chmod(0o600)

    def _start_market(self) -> None:
        from broker.tws.runner import server_from_config
        from core.config import load_config

        self._write_config(7497)  # the simulator reads [sim] and [engine] only
        config = load_config(self.config_path)
        start = datetime.fromisoformat(self.options.start)
        start = start.replace(tzinfo=config.tz) if start.tzinfo is None else start
        server = server_from_config(config, port=0, speed=self.options.speed, start=start)
        server.start()
        self._server = server
        self._write_config(server.port)
        self.config = load_config(self.config_path)
        self.broker = BrokerReader(server.port)
        calendar = server.calendar
        self._trading_day: Callable[[datetime], date] = calendar.trading_day
        self.max_trades = self.config.risk.max_trades_per_day

    def _engine_command(self) -> list[str]:
        return [
            sys.executable,
            str(ROOT / "main.py"),
            "run",
            "--broker",
            "ib",
            "--headless",
            "--speed",
            f"{self.options.speed:g}",
            "--config",
            str(self.config_path),
            "--db",
            f"sqlite:///{self.db_path}",
        ]

    def _spawn(self) -> EngineProcess:
        self._runs += 1
        runs = self.workdir / "runs"
        runs.mkdir(exist_ok=True)
        engine = EngineProcess(
            self._runs, self._engine_command(), self.workdir, runs / f"{self._runs:04d}.stderr"
        )
        self._engine = engine
        return engine

    # -- recording ------------------------------------------------------------------------------
    def _violate(
        self, check: str, detail: str, at: str, *, subject: str = "", cause: str = ""
    ) -> None:
        key = (check, subject or detail)
        if key in self._seen:
            return
        self._seen.add(key)
        self.violations.append(
            Violation(check, detail, at, round(self._elapsed(), 1), cause, subject)
        )
        _say(f"  VIOLATION [{check}] {detail} ({at}){f' <- {cause}' if cause else ''}")
        self._keep_evidence()

    def _violate_problem(self, problem: Problem, at: str) -> None:
        self._violate(
            problem.check, problem.detail, at, subject=problem.subject, cause=problem.cause
        )

    def _keep_evidence(self) -> None:
        """Copy the engine's logs (they rotate away within minutes) next to the first few
        violations, for whoever reads the report."""
        kept = sorted(self.workdir.glob("evidence-*"))
        if len(kept) >= EVIDENCE_COPIES:
            return
        target = self.workdir / f"evidence-{len(self.violations):03d}"
        with contextlib.suppress(OSError):
            shutil.copytree(self.workdir / "logs", target / "logs", dirs_exist_ok=True)
            shutil.copy2(self.workdir / "tws-sim.log", target / "tws-sim.log")

    def _finding(self, check: str, detail: str, subject: str = "") -> None:
        self.findings.append({"check": check, "detail": detail, "subject": subject})

    def _sim_now(self) -> str:
        return self._server.now().isoformat(timespec="seconds") if self._server else ""

    # -- waiting --------------------------------------------------------------------------------
    def _wait_reconciled(self, engine: EngineProcess, after_id: int, at: str) -> bool:
        deadline = time.monotonic() + min(RECONCILE_WAIT_S, max(self._left(), 1.0))
        while time.monotonic() < deadline:
            found = self.probe.reconciled_after(after_id)
            if found is not None:
                self._on_reconciled(found[1], found[2], at)
                return True
            if not engine.alive():
                self._violate(
                    "engine_exited",
                    f"run {engine.number} exited with {engine.process.returncode} before its "
                    f"startup reconciliation:\n{engine.tail()}",
                    at,
                )
                return False
            time.sleep(0.02)
        self._violate(
            "no_reconciliation",
            f"run {engine.number} stored no reconciled event within {RECONCILE_WAIT_S:.0f}s:\n"
            f"{engine.tail()}",
            at,
        )
        return False

    def _on_reconciled(self, detail: str, when: datetime, at: str) -> None:
        try:
            data = json.loads(detail)
        except ValueError:
            self._violate("reconciled_unreadable", detail[:300], at)
            return
        differences = data.get("differences") or []
        self.reconciled_differences += len(differences)
        if data.get("mismatch"):
            self._violate(
                "startup_mismatch",
                "the engine's startup reconciliation found ledger and broker positions "
                f"differing (it halts): {[d for d in differences if d.startswith('position')]}",
                at,
                cause=self._mismatch_cause(differences, when),
            )

    def _mismatch_cause(self, differences: list[str], when: datetime) -> str:
        """Why the startup reconciliation saw positions differ, when the harness can tell: a
        broker execution in one of those contracts around the reconciliation (it reads the
        executions, then the orders, then the positions while the market moves: the fill fell
        between), else orders the ledger had written off while the broker worked or filled them
        (bug C)."""
        contracts = {d.split(" ")[1].rstrip(":") for d in differences if d.startswith("position")}
        try:
            assert self.broker is not None
            broker = self.broker.snapshot(completed=False)
        except (ConnectionError, OSError, TimeoutError):
            broker = None
        # The engine's clock runs a little behind the broker's (anchored at a whole second,
        # after the connect): a window of simulated seconds around the event.
        racing = [
            e
            for e in (broker.executions if broker else [])
            if e.key in contracts
            and when - timedelta(seconds=15) <= e.time <= when + timedelta(seconds=120)
        ]
        if racing:
            fills = ", ".join(
                f"{e.order_ref} {e.side} {e.shares} at {e.time:%H:%M:%S}" for e in racing
            )
            return f"{STARTUP_RACE}: {fills} (the reconciliation at {when:%H:%M:%S} UTC)"
        ledger = self.ledger.snapshot()
        if ledger is None:
            return ""
        phantoms = written_off_then_filled(ledger)
        suspects = {oid for oid in phantoms if ledger.orders[oid].contract_key in contracts}
        named = _named(suspects, phantoms)
        ended = []
        for line in differences:  # "broker order X is not in the ledger": ended here, working there
            found = re.match(r"broker order (\S+) is not in the ledger", line)
            if found and found.group(1) in ledger.orders:
                order = ledger.orders[found.group(1)]
                if order.status.is_terminal and order.contract_key in contracts:
                    ended.append(order.id)
        if ended:
            named = "; ".join(
                x for x in (named, f"cancelled_then_filled {', '.join(sorted(ended))}") if x
            )
        return named

    def _wait_for(self, engine: EngineProcess, what: str, timeout_s: float) -> str:
        """Wait until a new order or execution is stored (``what``); the trigger seen."""
        orders0, execs0 = self.probe.counts()
        deadline = time.monotonic() + timeout_s
        spins = 0
        while time.monotonic() < deadline:
            orders, execs = self.probe.counts()
            if what == "order" and orders > orders0:
                return "order"
            if what == "fill" and execs > execs0:
                return "fill"
            spins += 1
            if spins % 100 == 0 and not engine.alive():
                return "exited"
            time.sleep(0.0005)  # ~0.5 ms: the kill can land between storing and sending
        return "timeout" if engine.alive() else "exited"

    # -- checking -------------------------------------------------------------------------------
    def _read_both(self, *, completed: bool = True) -> tuple[BrokerSnapshot, LedgerSnapshot] | None:
        assert self.broker is not None
        try:
            broker = self.broker.snapshot(completed=completed)
        except (ConnectionError, OSError, TimeoutError) as err:
            self.errors.append(f"{self._elapsed():.1f}s: broker unreadable: {err!r}")
            return None
        ledger = self.ledger.snapshot()  # after the broker: write-ahead orders are all in it
        if ledger is None:
            return None
        return broker, ledger

    def _check(
        self, at: str, converge_s: float, *, final: bool = False, completed: bool = True
    ) -> bool:
        """Compare until a consistent read shows nothing wrong, at most ``converge_s``; True if
        this check added no violation. Hard problems are violations at once; a missing or
        extra execution, a position or stop difference is one when it is still there at the
        end and has been for ``PERSIST_S`` (at the final check: when still there at all),
        since fills in flight come and go."""
        deadline = time.monotonic() + converge_s
        before = len(self.violations)
        since: dict[tuple[str, str], tuple[float, Problem]] = {}
        result: CheckResult | None = None
        consistent = False
        while True:
            pair = self._read_both(completed=completed)
            if pair is not None:
                broker, ledger = pair
                result = compare(
                    broker,
                    ledger,
                    max_trades_per_day=self.max_trades,
                    trading_day=self._trading_day,
                )
                for problem in result.hard:
                    self._violate_problem(problem, at)
                if result.settled:
                    break
                now = time.monotonic()
                consistent = consistent or result.consistent
                current = {(p.check, p.subject): p for p in result.executions}
                if result.consistent:  # positions and stops are judged on consistent reads
                    current.update({(p.check, p.subject): p for p in result.state})
                for key in list(since):
                    if key not in current and (result.consistent or key[0].startswith("exec")):
                        del since[key]
                for key, problem in current.items():
                    since[key] = (since.get(key, (now, problem))[0], problem)
                if since and all(p.cause and now - t >= PERSIST_S for t, p in since.values()):
                    break  # what is left follows from a violation already found: no wait
            if time.monotonic() >= deadline:
                break
            self.converge_retries += 1
            time.sleep(0.25)
        if result is None:
            self._violate("unreadable", "neither the broker nor the ledger could be read", at)
            return False
        if not result.settled:
            now = time.monotonic()
            for first, problem in since.values():
                if final or now - first >= PERSIST_S:
                    self._violate_problem(problem, f"{at}, unresolved for {now - first:.0f}s")
            if not consistent:
                self.inconclusive.append(at)
                if final:
                    self._violate("final_read", "no consistent read of broker and ledger", at)
        return len(self.violations) == before

    def _settle_pending(self, clean: bool, at: str) -> None:
        for point in self._pending:
            point.survived = clean
            point.checked_at = at
        self._pending.clear()

    # -- one cycle ------------------------------------------------------------------------------
    def _pick_kind(self) -> str:
        kinds, weights = zip(*KILL_KINDS.items(), strict=True)
        return self.rng.choices(kinds, weights)[0]

    def _tws_view(self) -> dict[str, bool] | None:
        """Every orderRef the simulated TWS was sent, and whether it went on to the market
        (False: held there with ``transmit=False``, or refused): read from the in-process
        server's order desk on its own loop. None if the server's internals are not there."""
        hub, call = getattr(self._server, "_hub", None), getattr(self._server, "_call", None)
        desk = getattr(hub, "desk", None)
        if desk is None or call is None:
            return None

        def read() -> dict[str, bool]:
            return {o.spec.order_ref: bool(o.transmitted) for o in desk._orders.values()}

        try:
            view: dict[str, bool] = call(read)
        except Exception:  # diagnostics only: the server's internals may change
            return None
        return view

    def _kill(self, engine: EngineProcess, kind: str, trigger: str, rowid: int) -> KillPoint:
        engine.kill()
        orders, execs = self.probe.counts()
        point = KillPoint(
            number=len(self.kill_points) + 1,
            kind=kind,
            trigger=trigger,
            wall_s=round(self._elapsed(), 2),
            engine_uptime_s=round(engine.uptime_s, 2),
            sim_time=self._sim_now(),
            orders_in_ledger=orders,
            executions_in_ledger=execs,
        )
        if kind == "order" and trigger == "order":
            point.stored_orders = self.probe.orders_after(rowid)
            time.sleep(0.05)  # the TWS reads what the engine wrote before it died
            view = self._tws_view()
            if view is not None:
                point.classified = True
                point.received = [o for o in point.stored_orders if o in view]
                point.at_market = [o for o in point.stored_orders if view.get(o)]
        self.kill_points.append(point)
        self._pending.append(point)
        return point

    def _cycle(self, number: int, kind: str, graceful: bool) -> None:
        at = f"restart {self._runs + 1}"
        before = self.probe.max_risk_event_id()
        engine = self._spawn()
        mark = len(self.violations)  # kill points before this restart survive if none is added
        if kind == "start" and not graceful:
            time.sleep(self.rng.uniform(0.05, 1.5))
            point = self._kill(engine, kind, "start", 0)
            self._progress(point)
            return
        if not self._wait_reconciled(engine, before, at):
            self._kill(engine, kind, "no-reconcile", 0)
            return
        if kind == "reconciled" and not graceful:
            time.sleep(self.rng.uniform(0.0, 0.05))
            point = self._kill(engine, kind, "reconciled", 0)
            self._progress(point)
            return
        self.restart_checks += 1
        # Completed orders (thousands after a while) are read at every fifth check and at the
        # end: an order doubled at the broker stays there, so it is found either way.
        clean = self._check(at, CONVERGE_S, completed=self.restart_checks % 5 == 1)
        self.checks_passed += clean
        self._settle_pending(len(self.violations) == mark, at)
        if not engine.alive():
            self._violate(
                "engine_exited",
                f"run {engine.number} exited with {engine.process.returncode}:\n{engine.tail()}",
                at,
            )
            return
        if graceful:
            time.sleep(self.rng.uniform(0.5, 2.0))
            self._graceful_stop(engine, at)
            return
        rowid = self.probe.max_order_rowid()
        if kind in ("order", "fill"):
            trigger = self._wait_for(engine, kind, TRIGGER_WAIT_S)
            delay = self.rng.uniform(0.0, 0.05 if kind == "order" else 0.02)
            if self.rng.random() < 0.5:
                delay = 0.0  # at once: as close to the write as the poll gets
            if delay:
                time.sleep(delay)
        else:
            time.sleep(self.rng.uniform(0.3, 4.0))
            trigger = "trading"
        if not engine.alive():
            self._violate(
                "engine_exited",
                f"run {engine.number} exited with {engine.process.returncode}:\n{engine.tail()}",
                at,
            )
        point = self._kill(engine, kind, trigger, rowid)
        self._progress(point)

    def _graceful_stop(self, engine: EngineProcess, at: str) -> None:
        code, took = engine.terminate(SHUTDOWN_LIMIT_S)
        self.graceful.append(
            {"run": engine.number, "exit_code": code, "seconds": round(took, 2), "at": at}
        )
        _say(f"  graceful stop of run {engine.number}: exit {code} in {took:.2f}s")
        if code != 0 or took > SHUTDOWN_LIMIT_S:
            tail = engine.tail(80)
            self._violate(
                "shutdown",
                f"SIGTERM: exit code {code} after {took:.2f}s (expected 0 within "
                f"{SHUTDOWN_LIMIT_S:.0f}s):\n{engine.tail()}",
                at,
                subject=f"run {engine.number}",
                cause=STOP_ORDER if "is not running" in tail or "did not stop" in tail else "",
            )

    def _progress(self, point: KillPoint) -> None:
        extra = ""
        if point.stored_orders:
            extra = (
                f"; stored {len(point.stored_orders)}, TWS had {len(point.received)}, market "
                f"{len(point.at_market)}"
            )
        _say(
            f"kill {point.number:3d} {point.kind:<10} ({point.trigger}) at {point.sim_time} "
            f"after {point.engine_uptime_s:5.2f}s: {point.orders_in_ledger} orders, "
            f"{point.executions_in_ledger} fills in the ledger{extra}"
        )

    # -- the end --------------------------------------------------------------------------------
    def _freeze_market(self) -> bool:
        """No more quotes and no more matching: the market's timers stop (the simulator keeps
        its orders and account, so reads and cancels still work)."""
        sim = getattr(self._server, "_broker", None)  # the server's SimBroker (in-process)
        if sim is None or not hasattr(sim, "stop"):
            self._server.stop_quotes()
            self.anomalies.append("market could not be frozen (only its quotes were stopped)")
            return False
        sim.stop()
        return True

    def _wait_quiet(self, engine: EngineProcess, quiet_s: float, limit_s: float) -> None:
        """Until nothing new is stored for ``quiet_s`` (bounded by ``limit_s``)."""
        deadline = time.monotonic() + limit_s
        last, since = self.probe.counts(), time.monotonic()
        while time.monotonic() < deadline and engine.alive():
            now = self.probe.counts()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.05)

    def _finish(self) -> None:
        at = "final"
        before = self.probe.max_risk_event_id()
        engine = self._spawn()
        mark = len(self.violations)
        if not self._wait_reconciled(engine, before, f"{at} restart"):
            engine.kill()
            self._settle_pending(False, f"{at} restart")
            return
        self.restart_checks += 1
        clean = self._check(f"{at} restart", CONVERGE_S)
        self.checks_passed += clean
        self._settle_pending(len(self.violations) == mark, f"{at} restart")
        time.sleep(2.0)  # trade a little more after the last restart
        frozen = self._freeze_market()
        frozen_at = self._sim_now()
        self._wait_quiet(engine, 1.5, 10.0)
        self._check(at + " (frozen, engine running)", FINAL_CONVERGE_S)
        self._wait_quiet(engine, 1.0, 5.0)
        self._graceful_stop(engine, at)
        time.sleep(0.5)  # the simulated TWS handles what the engine sent last
        self._check(at, 3.0 if frozen else FINAL_CONVERGE_S, final=True)
        pair = self._read_both()
        if pair is None:
            self._violate("unreadable", "the final read of broker and ledger failed", at)
            return
        broker, ledger = pair
        result = compare(
            broker, ledger, max_trades_per_day=self.max_trades, trading_day=self._trading_day
        )
        for problem in order_findings(broker, ledger):
            if problem.check == "ended_but_working":  # lost by the engine, it can still fill
                self._violate_problem(problem, at)
            else:
                self._finding(problem.check, problem.detail, problem.subject)
        start = datetime.fromisoformat(self.options.start)
        start = start.replace(tzinfo=self.config.tz) if start.tzinfo is None else start
        slack = timedelta(minutes=10)
        for column, (count, example) in self.probe.times_outside(
            start - slack, self._server.now() + slack
        ).items():
            self._finding(
                "time_not_broker_time",
                f"{count} {column} values lie outside the simulated run "
                f"{start:%Y-%m-%d %H:%M} .. {self._server.now():%Y-%m-%d %H:%M} "
                f"(e.g. {example} UTC): stamped by another clock than the engine's",
            )
        self.final = {
            "market_frozen": frozen,
            "frozen_at_sim_time": frozen_at,
            "broker_orders": len(broker.orders),
            "broker_orders_with_our_ref": sum(
                1 for o in broker.orders.values() if o.order_ref in ledger.orders
            ),
            "broker_executions": len(broker.executions),
            "ledger_orders": len(ledger.orders),
            "ledger_orders_by_status": dict(
                Counter(o.status.value for o in ledger.orders.values())
            ),
            "ledger_orders_by_purpose": dict(Counter(o.purpose for o in ledger.orders.values())),
            "ledger_executions": len(ledger.executions),
            "open_positions": [
                {"va": p.va_id, "contract": p.contract.key, "qty": p.quantity}
                for p in ledger.positions
            ],
            "broker_positions": broker.positions,
            "entries_per_day": {
                str(day): n
                for day, n in sorted(
                    Counter(
                        self._trading_day(o.created_at)
                        for o in ledger.orders.values()
                        if o.purpose == "entry" and o.status.value != "rejected"
                    ).items()
                )
            },
            "risk_events_by_kind": dict(Counter(e.kind for e in ledger.risk_events)),
            "last_trading_state": ledger.risk_events[-1].state if ledger.risk_events else None,
            "halted_at": next(
                (
                    e.time.isoformat(timespec="seconds")
                    for e in ledger.risk_events
                    if e.kind == "state" and e.state == "HALTED"
                ),
                None,
            ),
            "orders_checked": result.orders_checked,
            "fills_checked": result.fills_checked,
        }
        crashes = Counter(
            re.sub(r"\(#\d+\)$", "", e.reason).strip()
            for e in ledger.risk_events
            if e.kind == "actor_crash"
        )
        for reason, count in sorted(crashes.items()):
            self.anomalies.append(f"actor_crash risk event x{count}: {reason}")

    def _scan_logs(self) -> None:
        """Tracebacks in the engine runs' stderr, counted by the exception they end with."""
        runs = self.workdir / "runs"
        found: Counter[str] = Counter()
        where: dict[str, str] = {}
        for log in sorted(runs.glob("*.stderr")) if runs.exists() else []:
            lines = log.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                if not line.startswith("Traceback"):
                    continue
                tail = [x for x in lines[i + 1 : i + 400] if x and not x[0].isspace()]
                ending = next((x for x in tail if _EXCEPTION_LINE.match(x)), "(unknown)")
                found[ending] += 1
                where.setdefault(ending, log.name)
        for ending, count in sorted(found.items()):
            self.anomalies.append(
                f"traceback x{count} in engine stderr (first in {where[ending]}): {ending}"
            )

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = datetime.now().astimezone()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        _configure_logging(self.workdir)
        completed = False
        try:
            self._start_market()
            _say(
                f"crash harness: {self.options.kills} kills, seed {self.options.seed}, speed "
                f"{self.options.speed:g}x, market on 127.0.0.1:{self._server.port} from "
                f"{self._sim_now()}, work dir {self.workdir}"
            )
            cycle = 0
            while len(self.kill_points) < self.options.kills:
                if self._left() < FINAL_RESERVE_S:
                    self.errors.append(
                        f"out of time after {len(self.kill_points)} of {self.options.kills} kills"
                    )
                    break
                cycle += 1
                self._cycle(cycle, self._pick_kind(), graceful=cycle % GRACEFUL_EVERY == 0)
            self._finish()
            completed = not self.errors
        except HarnessError as err:
            self.errors.append(str(err))
        except Exception as err:  # the harness's own failure: reported, never hidden
            self.errors.append(f"harness failed: {err!r}\n{traceback.format_exc()[-3000:]}")
        finally:
            if self._engine is not None:
                self._engine.kill()
            if self._server is not None:
                self._server.stop()
            self.probe.close()
            self.ledger.close()
        self._scan_logs()
        return self._summary(started, completed)

    def _summary(self, started: datetime, completed: bool) -> dict[str, Any]:
        survived = sum(1 for p in self.kill_points if p.survived)
        order_kills = [p for p in self.kill_points if p.kind == "order" and p.trigger == "order"]
        ok = completed and not self.violations and not self.errors
        summary: dict[str, Any] = {
            "ok": ok,
            "clean": ok and not self.findings,
            "violations": [asdict(v) for v in self.violations],
            "violations_by_check": dict(Counter(v.check for v in self.violations)),
            # Violations the harness traced to another one (e.g. two symbols in a VA because an
            # entry the ledger had written off filled): listed, never dropped.
            "violations_without_cause": [asdict(v) for v in self.violations if not v.cause],
            "errors": self.errors,
            "findings": self.findings,
            "findings_by_check": dict(Counter(f["check"] for f in self.findings)),
            "anomalies": self.anomalies,
            "kill_points": {
                "total": len(self.kill_points),
                "survived": survived,
                "not_survived": [p.number for p in self.kill_points if p.survived is False],
                "by_kind": dict(Counter(p.kind for p in self.kill_points)),
                "by_trigger": dict(Counter(p.trigger for p in self.kill_points)),
                "order_kills": len(order_kills),
                "order_kills_before_the_tws_received_an_order": sum(
                    1
                    for p in order_kills
                    if p.classified and len(p.received) < len(p.stored_orders)
                ),
                "order_kills_before_an_order_reached_the_market": sum(
                    1
                    for p in order_kills
                    if p.classified and len(p.at_market) < len(p.stored_orders)
                ),
            },
            "graceful_stops": self.graceful,
            "checks": {
                "restart_checks": self.restart_checks,
                "passed": self.checks_passed,
                "inconclusive": len(self.inconclusive),
                "converge_retries": self.converge_retries,
                "differences_reported_by_startup_reconciliations": self.reconciled_differences,
                "orders_checked": self.final.get("orders_checked", 0),
                "fills_checked": self.final.get("fills_checked", 0),
            },
            "final": self.final,
            "run": {
                "started_at": started.isoformat(timespec="seconds"),
                "wall_s": round(self._elapsed(), 1),
                "engine_runs": self._runs,
                "seed": self.options.seed,
                "speed": self.options.speed,
                "sim_start": self.options.start,
                "sim_end": self.final.get("frozen_at_sim_time", ""),
                "requested_kills": self.options.kills,
                "config_overrides": self.overrides,
                "workdir": str(self.workdir),
                "machine": _machine(),
            },
            "timeline": [asdict(p) for p in self.kill_points],
        }
        return summary

    def cleanup(self, summary: dict[str, Any]) -> None:
        """Remove a temporary work dir unless asked to keep it or something went wrong."""
        if self._own_workdir and not self.options.keep and summary["ok"]:
            shutil.rmtree(self.workdir, ignore_errors=True)
            summary["run"]["workdir"] = "(removed)"


def _configure_logging(workdir: Path) -> None:
    from loguru import logger

    logger.remove()  # the simulated TWS logs to a file, not to this process's output
    logger.add(workdir / "tws-sim.log", level="INFO", enqueue=False)
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)


def _machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
    }


def format_summary(summary: dict[str, Any]) -> str:
    kills, checks, final = summary["kill_points"], summary["checks"], summary["final"]
    findings = summary["findings"]
    note = f" (no violation; {len(findings)} findings below)" if summary["ok"] and findings else ""
    lines = [
        "",
        "crash harness summary",
        f"  result:          {'OK' if summary['ok'] else 'FAILED'}{note}",
        f"  kill points:     {kills['survived']} survived of {kills['total']} "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kills['by_kind'].items()))})",
        f"  order kills:     {kills['order_kills']} right after an order was stored: "
        f"{kills['order_kills_before_the_tws_received_an_order']} before the TWS received "
        f"it, {kills['order_kills_before_an_order_reached_the_market']} before it reached "
        "the market",
        f"  graceful stops:  {len(summary['graceful_stops'])} "
        f"(slowest {max((g['seconds'] for g in summary['graceful_stops']), default=0):.2f}s)",
        f"  checks:          {checks['restart_checks']} after restarts, {checks['passed']} "
        f"without a violation ({checks['inconclusive']} never got a consistent read: only "
        "executions and orders judged)",
        f"  orders checked:  {checks['orders_checked']} at the broker (once each), "
        f"{final.get('ledger_orders', 0)} in the ledger",
        f"  fills checked:   {checks['fills_checked']} broker executions, each in the ledger "
        f"once ({final.get('ledger_executions', 0)} in the ledger)",
        f"  entries per day: {final.get('entries_per_day', {})}",
        f"  trading state:   {final.get('last_trading_state')} at the end"
        + (f" (halted since {final['halted_at']} UTC)" if final.get("halted_at") else ""),
        f"  engine runs:     {summary['run']['engine_runs']} in {summary['run']['wall_s']}s, "
        f"simulated {summary['run']['sim_start']} -> {summary['run']['sim_end']}",
    ]
    for v in summary["violations"]:
        cause = f"\n      <- follows from {v['cause']}" if v["cause"] else ""
        lines.append(f"  VIOLATION [{v['check']}] at {v['at']}: {v['detail']}{cause}")
    by_check: dict[str, list[str]] = defaultdict(list)
    for f in summary["findings"]:
        by_check[f["check"]].append(f["detail"])
    for check, details in sorted(by_check.items()):
        lines.append(f"  FINDING [{check}] x{len(details)}, e.g. {details[0]}")
        lines.extend(f"      {d}" for d in details[1:4])
    for e in summary["errors"]:
        lines.append(f"  ERROR {e}")
    for a in summary["anomalies"]:
        lines.append(f"  anomaly: {a[:500]}")
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.crash_harness", description=(__doc__ or "").split("\n")[0]
    )
    defaults = HarnessOptions()
    parser.add_argument("--kills", type=int, default=defaults.kills, help="SIGKILLs (>= 1)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the kill plan")
    parser.add_argument("--speed", type=float, default=defaults.speed, help="x real time")
    parser.add_argument("--report", type=Path, help="write the summary here as JSON")
    parser.add_argument("--start", default=defaults.start, help="simulated start (ISO-8601)")
    parser.add_argument("--workdir", type=Path, help="work here (kept) instead of a temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    parser.add_argument("--timeout", type=float, help="seconds for the whole run")
    parser.add_argument(
        "--max-trades-per-day",
        type=int,
        default=defaults.max_trades_per_day,
        help="risk.max_trades_per_day for the run (0: keep the config's)",
    )
    parser.add_argument(
        "--default-bars", action="store_true", help="keep the shipped MA-cross bar lengths"
    )
    parser.add_argument(
        "--on-mismatch",
        choices=["halt", "trade"],
        help="engine.on_mismatch for the run (default: the config's, halt): with trade the "
        "engine keeps trading after a startup position mismatch (still a violation here)",
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config to copy")
    return parser


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: the engine is killed and the server stopped."""

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.kills < 1 or not 0 < args.speed <= 1000:
        sys.stderr.write("crash_harness: --kills must be >= 1 and --speed in (0, 1000]\n")
        return EXIT_USAGE
    try:
        datetime.fromisoformat(args.start)
    except ValueError:
        sys.stderr.write(f"crash_harness: --start: not ISO-8601: {args.start!r}\n")
        return EXIT_USAGE
    options = HarnessOptions(
        kills=args.kills,
        seed=args.seed,
        speed=args.speed,
        start=args.start,
        report=args.report,
        workdir=args.workdir,
        keep=args.keep,
        timeout_s=args.timeout,
        max_trades_per_day=args.max_trades_per_day or None,
        fast_bars=not args.default_bars,
        on_mismatch=args.on_mismatch,
        config=args.config,
    )
    harness = CrashHarness(options)
    with _signals_raise():
        try:
            summary = harness.run()
        except KeyboardInterrupt:
            sys.stderr.write("crash_harness: interrupted; engine killed, market stopped\n")
            return EXIT_VIOLATION
    harness.cleanup(summary)
    text = format_summary(summary)
    _say(text)
    if options.report is not None:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return EXIT_OK if summary["clean"] else EXIT_VIOLATION


if __name__ == "__main__":
    sys.exit(main())
