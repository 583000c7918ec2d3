"""The crash harness reads the engine's ledger by URL, on SQLite and on PostgreSQL alike: its
counters, the orders stored after a mark, the first reconciliation after an event, times
outside the run and a consistent snapshot, all without being able to write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import peewee
import pytest

from core.domain import OrderStatus, OrderType, Side
from db import (
    ExecutionRecord,
    Ledger,
    OrderRecord,
    RiskEventRecord,
    close_database,
    open_database,
)
from tests.support.crash.ledger import LedgerProbe, LedgerReader, read_only_database

T0 = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)


def _order(order_id: str, minutes: int) -> OrderRecord:
    return OrderRecord(
        id=order_id,
        va_id="va1",
        contract_key="AAPL",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.MKT,
        quantity=10,
        purpose="entry",
        created_at=T0 + timedelta(minutes=minutes),
    )


def _store(url: str, *orders: OrderRecord, reconciled: str | None = None) -> None:
    """Write as the engine does (its own connection, closed after)."""
    database = open_database(url)
    try:
        ledger = Ledger(database)
        ledger.insert_orders(orders)
        for order in orders:
            ledger.insert_execution(
                ExecutionRecord(
                    exec_id=f"x-{order.id}",
                    order_id=order.id,
                    va_id="va1",
                    contract_key="AAPL",
                    side=Side.BUY,
                    quantity=10,
                    price=Decimal("100.5"),
                    commission=Decimal("1"),
                    time=order.created_at,
                )
            )
            ledger.update_order(
                order.id,
                status=OrderStatus.FILLED,
                filled=10,
                avg_fill_price=Decimal("100.5"),
                time=order.created_at,
            )
        if reconciled is not None:
            event = RiskEventRecord(
                time=T0 + timedelta(hours=2),
                kind="reconciled",
                state="ACTIVE",
                reason="",
                detail=reconciled,
            )
            ledger.insert_risk_event(event)
    finally:
        close_database(database)


@pytest.fixture
def probe(ledger_url: str) -> Iterator[LedgerProbe]:
    probe = LedgerProbe(ledger_url)
    yield probe
    probe.close()


def test_the_probe_counts_and_finds_what_was_stored_after_a_mark(
    ledger_url: str, probe: LedgerProbe
) -> None:
    assert probe.counts() == (0, 0)  # no tables yet: nothing, no error
    _store(ledger_url, _order("b", 1), _order("a", 2))
    assert probe.counts() == (2, 2)
    known = probe.order_ids()
    assert known == {"a", "b"}
    before = probe.max_risk_event_id()
    assert probe.reconciled_after(before) is None
    _store(ledger_url, _order("d", 4), _order("c", 3), reconciled='{"mismatch": false}')
    assert probe.counts() == (4, 4)
    assert probe.orders_after(known) == ["c", "d"]  # by creation time
    found = probe.reconciled_after(before)
    assert found is not None
    event_id, detail, when = found
    assert event_id > before and detail == '{"mismatch": false}'
    assert when == T0 + timedelta(hours=2)
    assert probe.times_outside(T0, T0 + timedelta(hours=3)) == {}
    outside = probe.times_outside(T0 + timedelta(minutes=2), T0 + timedelta(hours=3))
    assert outside["execution.time"][0] == 1  # "b", at 14:31
    assert outside["order.created_at"][1].startswith("2026-11-17 14:31:00")


def test_a_snapshot_reads_the_ledger_through_the_models(ledger_url: str) -> None:
    _store(ledger_url, _order("a", 1))
    reader = LedgerReader(ledger_url)
    try:
        snapshot = reader.snapshot()
        assert snapshot is not None
        assert list(snapshot.orders) == ["a"]
        assert [e.exec_id for e in snapshot.executions] == ["x-a"]
        assert [(p.contract.key, p.quantity) for p in snapshot.positions] == [("AAPL", 10)]
    finally:
        reader.close()


def test_the_harness_cannot_write_the_ledger(ledger_url: str) -> None:
    _store(ledger_url, _order("a", 1))
    database = read_only_database(ledger_url, timeout_s=2.0)
    assert database is not None
    try:
        with pytest.raises(peewee.PeeweeException, match=r"(?i)read.?only"):
            database.execute_sql("DELETE FROM execution")
    finally:
        database.close()


def test_a_ledger_of_another_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL ledger, not 'mysql://h/db'"):
        read_only_database("mysql://h/db", timeout_s=1.0)
