"""The ledger's last record time, which the engine's timeline starts after, on SQLite and on
PostgreSQL (``ledger_url``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.domain import OrderStatus, OrderType, Side
from db import (
    AccountRecord,
    ExecutionRecord,
    Ledger,
    OrderRecord,
    RiskEventRecord,
    SignalRecord,
)
from db.greeks_samples import insert_greeks_sample
from db.records import GreeksSampleRecord

T0 = datetime(2026, 11, 16, 14, 30, tzinfo=UTC)
LATEST = T0 + timedelta(hours=1, microseconds=500_000)


def _order(order_id: str, at: datetime) -> OrderRecord:
    return OrderRecord(
        id=order_id,
        va_id="va1",
        contract_key="SPY",
        symbol="SPY",
        side=Side.BUY,
        order_type=OrderType.MKT,
        quantity=10,
        purpose="entry",
        created_at=at,
    )


def _execution(exec_id: str, at: datetime) -> ExecutionRecord:
    return ExecutionRecord(
        exec_id=exec_id,
        order_id="o1",
        va_id="va1",
        contract_key="SPY",
        side=Side.BUY,
        quantity=10,
        price=Decimal("500.2"),
        commission=Decimal("1"),
        time=at,
    )


def _signal(signal_id: str, at: datetime) -> SignalRecord:
    return SignalRecord(signal_id, at, "va1", "SPY", Side.BUY, "test", True, "va", "")


def _every_kind_at(ledger: Ledger, at: datetime) -> None:
    """One record of each kind, at ``at`` or up to 3 s after it (the risk event last)."""
    ledger.upsert_accounts([AccountRecord("va1", "external", Decimal(100_000), at)])
    ledger.insert_order(_order("o1", at))
    ledger.update_order("o1", status=OrderStatus.SUBMITTED, filled=0, avg_fill_price=None, time=at)
    ledger.insert_execution(_execution("x1", at + timedelta(seconds=1)))
    ledger.insert_signal(_signal("s1", at + timedelta(seconds=2)))
    ledger.insert_risk_event(RiskEventRecord(at + timedelta(seconds=3), "halt", "HALTED", "x"))


LATER: dict[str, Callable[[Ledger], None]] = {
    "account": lambda ledger: ledger.upsert_accounts(
        [AccountRecord("va2", "external", Decimal(100_000), LATEST)]
    ),
    "order": lambda ledger: ledger.insert_order(_order("o2", LATEST)),
    "order update": lambda ledger: ledger.update_order(
        "o1", status=OrderStatus.FILLED, filled=10, avg_fill_price=None, time=LATEST
    ),
    "execution": lambda ledger: ledger.insert_execution(_execution("x2", LATEST)),
    "signal": lambda ledger: ledger.insert_signal(_signal("s2", LATEST)),
    "risk event": lambda ledger: ledger.insert_risk_event(
        RiskEventRecord(LATEST, "resume", "ACTIVE", "x")
    ),
    "greeks sample": lambda ledger: insert_greeks_sample(
        ledger, GreeksSampleRecord(LATEST, "va1", -10.0, 0.5, Decimal(100), 1)
    ),
}


def test_an_empty_ledger_has_no_last_record(ledger: Ledger) -> None:
    assert ledger.last_record_time() is None


def test_an_account_alone_is_a_record(ledger: Ledger) -> None:
    ledger.upsert_accounts([AccountRecord("va1", "external", Decimal(1), T0)])
    assert ledger.last_record_time() == T0


@pytest.mark.parametrize("kind", list(LATER))
def test_the_last_record_is_the_latest_time_of_any_table(ledger: Ledger, kind: str) -> None:
    """Whichever table holds the newest time, to the microsecond (on SQLite a stored time
    with a fraction sorts after the same second without one)."""
    _every_kind_at(ledger, T0)
    assert ledger.last_record_time() == T0 + timedelta(seconds=3)  # the risk event
    LATER[kind](ledger)
    assert ledger.last_record_time() == LATEST


def test_the_last_record_time_is_aware_utc_whatever_zone_it_was_written_in(
    ledger: Ledger,
) -> None:
    written = datetime(2026, 11, 16, 12, 26, 3, 250_000, tzinfo=ZoneInfo("America/New_York"))
    ledger.insert_risk_event(RiskEventRecord(written, "halt", "HALTED", "x"))
    last = ledger.last_record_time()
    assert last == written and last is not None and last.tzinfo == UTC
