"""Option entries in the ledger: the 0002 migration upgrades an older database in place, and
the report gives option trades their days to expiry, delta and credit at entry."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import db.connection
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from db import Ledger, close_database, open_database, run_migrations
from db.records import ExecutionRecord, OrderRecord
from db.report import build_report

NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
PUT = Contract.option("SPY", date(2026, 2, 6), Decimal(560), "P")


def test_a_database_made_before_the_option_columns_upgrades_in_place(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = ledger_url
    older = tmp_path / "migrations"
    older.mkdir()
    shutil.copy(db.connection.MIGRATIONS_DIR / "0001_initial.py", older)
    monkeypatch.setattr(db.connection, "MIGRATIONS_DIR", older)
    first = open_database(url)
    first.execute_sql(
        'INSERT INTO "order" (id, va_id, contract_key, symbol, sec_type, multiplier, side, '
        "order_type, quantity, reduce_only, purpose, reason, status, filled, dry_run, "
        "created_at, updated_at) VALUES ('o1', 'va1', 'SPY', 'SPY', 'STK', 1, 'BUY', 'MKT', 1, "
        f"{first.param}, 'entry', '', 'filled', 1, {first.param}, "
        "'2026-01-05 15:00:00', '2026-01-05 15:00:00')",
        (False, False),  # booleans: PostgreSQL refuses an integer for a boolean column
    )
    close_database(first)
    monkeypatch.undo()

    upgraded = open_database(url, migrate=False)
    try:
        assert run_migrations(upgraded) == [
            "0002_option_entry_fields",
            "0003_ledger_meta",
            "0004_greeks_sample",
            "0005_rolled_from",
        ]
        [order] = Ledger(upgraded).orders()
        assert (order.id, order.delta_at_entry, order.dte_at_entry) == ("o1", None, None)
    finally:
        close_database(upgraded)


def _record(order_id: str, side: Side, purpose: str, minutes: float, **more: object) -> OrderRecord:
    request = OrderRequest(order_id, PUT, side, OrderType.LMT, 3, limit_price=Decimal("2.15"))
    return OrderRecord.from_request(
        request,
        va_id="puts",
        purpose=purpose,
        created_at=T0 + timedelta(minutes=minutes),
        **more,  # type: ignore[arg-type]
    )


def _fill(ledger: Ledger, order: OrderRecord, price: str, minutes: float) -> None:
    ledger.insert_execution(
        ExecutionRecord(
            exec_id=f"x-{order.id}",
            order_id=order.id,
            va_id="puts",
            contract_key=PUT.key,
            side=order.side,
            quantity=3,
            price=Decimal(price),
            commission=Decimal("1.95"),
            time=T0 + timedelta(minutes=minutes),
            multiplier=100,
        )
    )
    ledger.update_order(
        order.id,
        status=OrderStatus.FILLED,
        filled=3,
        avg_fill_price=Decimal(price),
        time=T0 + timedelta(minutes=minutes),
    )


def test_an_option_trade_reports_its_dte_delta_and_credit_at_entry(ledger: Ledger) -> None:
    entry = _record(
        "e1", Side.SELL, "entry", 0, reason="naked_put", delta_at_entry=-0.3012, dte_at_entry=32
    )
    exit_order = _record("x1", Side.BUY, "exit", 60, reason="profit_target")
    ledger.insert_orders([entry, exit_order])
    _fill(ledger, entry, "2.15", 1)
    _fill(ledger, exit_order, "1.05", 61)

    report = build_report(ledger, tz=NEW_YORK)

    [trade] = report["trades"]
    assert trade["contract"] == "SPY 20260206 P 560" and trade["side"] == "SHORT"
    assert (trade["exit_reason"], trade["dte_at_entry"], trade["delta_at_entry"]) == (
        "profit_target",
        32,
        -0.3012,
    )
    assert trade["credit"] == 645.0
    assert trade["pnl"] == pytest.approx((2.15 - 1.05) * 300 - 3.90)
    assert [o["purpose"] for o in report["orders"]] == ["entry", "exit"]
