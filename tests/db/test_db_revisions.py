"""The ledger's execution revisions: IB's corrections replace a stored execution, late
commissions update it; the positions derived from the executions follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.domain import OrderType, Side
from db import ExecutionRecord, Ledger, LedgerError, OrderRecord

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def _order(order_id: str = "o1") -> OrderRecord:
    return OrderRecord(
        id=order_id,
        va_id="va1",
        contract_key="SPY",
        symbol="SPY",
        side=Side.BUY,
        order_type=OrderType.LMT,
        quantity=100,
        purpose="entry",
        created_at=T0,
        limit_price=Decimal("500.25"),
    )


def _execution(exec_id: str, quantity: int = 100, price: str = "500.20") -> ExecutionRecord:
    return ExecutionRecord(
        exec_id=exec_id,
        order_id="o1",
        va_id="va1",
        contract_key="SPY",
        side=Side.BUY,
        quantity=quantity,
        price=Decimal(price),
        commission=Decimal("1"),
        time=T0 + timedelta(seconds=1),
    )


def test_a_correction_replaces_the_stored_execution_and_the_position_follows(
    ledger: Ledger,
) -> None:
    ledger.insert_order(_order())
    assert ledger.insert_execution(_execution("0000e0d5.6543.01.01"))
    fixed = _execution("0000e0d5.6543.01.02", quantity=60, price="500.10")

    replaced = ledger.correct_execution(fixed)

    assert replaced is not None and replaced.exec_id == "0000e0d5.6543.01.01"
    assert [e.exec_id for e in ledger.executions()] == ["0000e0d5.6543.01.02"]
    [position] = ledger.open_positions()
    assert (position.quantity, position.avg_price) == (60, Decimal("500.1"))
    # The original again (a replay) is not stored beside its correction.
    assert not ledger.insert_execution(_execution("0000e0d5.6543.01.01"))
    assert ledger.correct_execution(_execution("0000e0d5.6543.01.02")) is None
    assert len(ledger.executions()) == 1


def test_an_execution_with_no_earlier_revision_is_not_a_correction(ledger: Ledger) -> None:
    ledger.insert_order(_order())
    ledger.insert_execution(_execution("aa.01.01"))
    assert ledger.correct_execution(_execution("bb.01.02")) is None
    assert ledger.correct_execution(_execution("plain-id")) is None
    assert [e.exec_id for e in ledger.executions()] == ["aa.01.01"]


def test_a_correction_naming_another_order_is_refused(ledger: Ledger) -> None:
    ledger.insert_order(_order())
    ledger.insert_order(_order("o2"))
    ledger.insert_execution(_execution("aa.01.01"))
    with pytest.raises(LedgerError, match="corrects"):
        ledger.correct_execution(
            ExecutionRecord(**_other("aa.01.02"))  # type: ignore[arg-type]
        )


def _other(exec_id: str) -> dict[str, object]:
    record = _execution(exec_id)
    return {name: getattr(record, name) for name in record.__slots__} | {"order_id": "o2"}


def test_a_late_commission_updates_the_stored_execution(ledger: Ledger) -> None:
    ledger.insert_order(_order())
    ledger.insert_execution(_execution("aa.01.01"))

    before = ledger.set_commission("aa.01.01", Decimal("1.75"))

    assert before is not None and before.commission == Decimal("1")
    [stored] = ledger.executions()
    assert stored.commission == Decimal("1.75")
    assert ledger.set_commission("unknown", Decimal("1")) is None
