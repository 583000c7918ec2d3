"""Figure 8: orders and executions stored per second through the ledger, as the OrderManager
stores them: ``Ledger.insert_orders([entry, stop])`` (one transaction: both orders and their
first events) and ``Ledger.insert_execution`` (one transaction, stored once by exec id), on one
thread (the OrderManager's), on an SQLite file opened by ``db.open_database`` (WAL,
``synchronous=NORMAL``, ``BEGIN IMMEDIATE``).

Beside it, in the same run and file: plain ``sqlite3`` on the same pragmas, first with the same
transactions and rows (one commit per ``insert_orders``, one per execution) — what the ORM
layer costs on top — then every row in one ``executemany`` transaction (SQLite's own ceiling).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.stats import Row, median_of_runs, ratio
from core.domain import Contract, OrderRequest, OrderType, Side
from db import Ledger, close_database, open_database
from db.connection import SQLITE_PRAGMAS
from db.records import AccountRecord, ExecutionRecord, OrderRecord

__all__ = ["FIGURE", "TARGET", "describe", "run"]

TARGET_PER_S = 1000
FIGURE = "8 Ledger: orders + executions stored per second (the OrderManager's calls)"
TARGET = f">= {TARGET_PER_S:,}/s"
_SIZES = {"tiny": (1, 100), "full": (3, 1500)}  # runs, entries (2 orders + 1 execution) per run
_START = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
_ORDER_SQL = (
    'INSERT INTO "order" (id, va_id, contract_key, symbol, sec_type, expiry, strike, "right", '
    "multiplier, side, order_type, quantity, limit_price, stop_price, parent_id, reduce_only, "
    "purpose, reason, status, filled, avg_fill_price, broker_order_id, signal_id, dry_run, "
    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?)"
)
_EVENT_SQL = (
    "INSERT INTO order_event (order_id, time, status, filled, detail) VALUES (?, ?, ?, ?, ?)"
)
_EXEC_SQL = (
    "INSERT INTO execution (exec_id, order_id, va_id, contract_key, side, quantity, price, "
    "commission, multiplier, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _records(i: int, now: datetime) -> list[OrderRecord]:
    """An entry and its protective stop, built as the OrderManager builds them."""
    contract = Contract.stock("AAPL")
    entry = OrderRequest(f"e{i}", contract, Side.BUY, OrderType.MKT, 10)
    stop = OrderRequest(
        f"e{i}.stop",
        contract,
        Side.SELL,
        OrderType.STP,
        10,
        stop_price=Decimal("98.00"),
        parent_id=f"e{i}",
        reduce_only=True,
        tif="GTC",
    )
    return [
        OrderRecord.from_request(entry, va_id="va1", purpose="entry", created_at=now, reason="b"),
        OrderRecord.from_request(stop, va_id="va1", purpose="stop", created_at=now, reason="stop"),
    ]


def _execution(i: int, now: datetime) -> ExecutionRecord:
    return ExecutionRecord(
        exec_id=f"x{i}",
        order_id=f"e{i}",
        va_id="va1",
        contract_key="AAPL",
        side=Side.BUY,
        quantity=10,
        price=Decimal("100.01"),
        commission=Decimal("0.35"),
        time=now,
        multiplier=1,
    )


def _through_ledger(ledger: Ledger, entries: int) -> float:
    """Rows (orders + executions) per second through the real ledger calls."""
    started = time.perf_counter()
    for i in range(entries):
        now = _START + timedelta(milliseconds=i)
        ledger.insert_orders(_records(i, now))
        ledger.insert_execution(_execution(i, now))
    return 3 * entries / (time.perf_counter() - started)


def _rows(
    prefix: str, i: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], tuple[Any, ...]]:
    now = (_START + timedelta(milliseconds=i)).replace(tzinfo=None).isoformat(" ")
    entry, stop = f"{prefix}{i}", f"{prefix}{i}.stop"
    common = ("va1", "AAPL", "AAPL", "STK", None, None, None, 1)
    orders = [
        (entry, *common, "BUY", "MKT", 10, None, None, None, False, "entry", "b",
         "pending_submit", 0, None, None, None, False, now, now),
        (stop, *common, "SELL", "STP", 10, None, "98.000000", entry, True, "stop", "stop",
         "pending_submit", 0, None, None, None, False, now, now),
    ]  # fmt: skip
    events = [(entry, now, "pending_submit", 0, "b"), (stop, now, "pending_submit", 0, "stop")]
    execution = (f"{prefix}x{i}", entry, "va1", "AAPL", "BUY", 10, "100.010000", "0.350000", 1, now)
    return orders, events, execution


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    for name, value in SQLITE_PRAGMAS.items():
        connection.execute(f"PRAGMA {name} = {value}")
    return connection


def _raw_same_transactions(path: Path, entries: int, prefix: str = "r") -> float:
    connection = _connect(path)
    try:
        started = time.perf_counter()
        for i in range(entries):
            orders, events, execution = _rows(prefix, i)
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(_ORDER_SQL, orders)
            connection.executemany(_EVENT_SQL, events)
            connection.execute("COMMIT")
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(_EXEC_SQL, execution)
            connection.execute("COMMIT")
        return 3 * entries / (time.perf_counter() - started)
    finally:
        connection.close()


def _raw_one_transaction(path: Path, entries: int) -> float:
    connection = _connect(path)
    try:
        started = time.perf_counter()
        rows = [_rows("b", i) for i in range(entries)]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(_ORDER_SQL, [o for orders, _, _ in rows for o in orders])
        connection.executemany(_EVENT_SQL, [e for _, events, _ in rows for e in events])
        connection.executemany(_EXEC_SQL, [x for _, _, x in rows])
        connection.execute("COMMIT")
        return 3 * entries / (time.perf_counter() - started)
    finally:
        connection.close()


def one_run(entries: int) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    path = directory / "ledger.db"
    database = open_database(f"sqlite:///{path}")
    try:
        ledger = Ledger(database)
        ledger.upsert_accounts([AccountRecord("va1", "external", Decimal(1000), _START)])
        # Warm up both paths (first statements compile, the file grows), then measure.
        _raw_same_transactions(path, 20, prefix="w")
        ledger_per_s = _through_ledger(ledger, entries)
        raw_per_s = _raw_same_transactions(path, entries)
        batch_per_s = _raw_one_transaction(path, entries)
    finally:
        close_database(database)
        shutil.rmtree(directory, ignore_errors=True)
    return {
        "per_s": round(ledger_per_s),
        "raw_same_transactions_per_s": round(raw_per_s),
        "raw_one_transaction_per_s": round(batch_per_s),
    }


def run(*, size: str = "full") -> dict[str, Any]:
    runs, entries = _SIZES[size]
    result = median_of_runs([one_run(entries) for _ in range(runs)])
    result["rows_per_entry"] = 3
    return result


def describe(result: dict[str, Any]) -> Row:
    per_s, raw = result["per_s"], result["raw_same_transactions_per_s"]
    return Row(
        figure=FIGURE,
        result=f"{per_s:,.0f}/s",
        target=TARGET,
        limit=(
            f"raw sqlite3, same transactions {raw:,.0f}/s; "
            f"one transaction {result['raw_one_transaction_per_s']:,.0f}/s"
        ),
        ratio=ratio(raw, per_s).replace("x", "x slower") if per_s else "-",
        met=per_s >= TARGET_PER_S,
    )
