"""The ledger lists rows in one order on every backend: by time, ties and ids in code-point order
(SQLite's), whatever order the database's collation would sort text in (the PostgreSQL test
databases sort as ICU ``en-US``, where "a" < "B")."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from core.domain import OrderType, Side
from db import AccountRecord, Ledger, OrderRecord, SignalRecord

T0 = datetime(2026, 11, 16, 14, 35, tzinfo=UTC)
IDS = ["b-1", "B-2", "a-3", "A-4"]
CODE_POINT_ORDER = ["A-4", "B-2", "a-3", "b-1"]  # English order: a-3, A-4, b-1, B-2


def test_accounts_come_in_code_point_order_of_their_ids(ledger: Ledger) -> None:
    ledger.upsert_accounts([AccountRecord(i, "demo", Decimal(1000), T0) for i in IDS])
    assert [a.id for a in ledger.accounts()] == CODE_POINT_ORDER


def test_orders_of_one_moment_come_in_code_point_order_of_their_ids(ledger: Ledger) -> None:
    for order_id in IDS:
        ledger.insert_order(
            OrderRecord(
                id=order_id,
                va_id="va1",
                contract_key="SPY",
                symbol="SPY",
                side=Side.BUY,
                order_type=OrderType.MKT,
                quantity=1,
                purpose="entry",
                created_at=T0,
            )
        )
    assert [o.id for o in ledger.orders()] == CODE_POINT_ORDER
    assert [o.id for o in ledger.orders(va_id="va1", working_only=True)] == CODE_POINT_ORDER


def test_decisions_of_one_moment_come_in_code_point_order_of_their_ids(ledger: Ledger) -> None:
    for signal_id in IDS:
        ledger.insert_signal(
            SignalRecord(signal_id, T0, "va1", "SPY", Side.BUY, "demo", True, "va", "", "")
        )
    assert [s.id for s in ledger.signals()] == CODE_POINT_ORDER
