"""Rolls in the ledger, on SQLite and PostgreSQL: migration 0005 adds ``order.rolled_from`` to a
database made before it (older rows have none), a roll's combo order keeps the order it rolled,
and the report follows the chain with the credit of each link and their sum."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import db.connection
from core.domain import ComboLeg, Contract, OrderRequest, OrderType, Side
from db import Ledger, close_database, open_database, run_migrations
from db.records import ExecutionRecord, OrderRecord
from db.report import build_report, format_text_report

NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
NEAR = Contract.option("SPY", date(2026, 1, 9), Decimal(560), "P")
FAR = Contract.option("SPY", date(2026, 2, 6), Decimal(555), "P")


def _fill(ledger: Ledger, order_id: str, contract: Contract, side: Side, price: str) -> None:
    ledger.insert_execution(
        ExecutionRecord(
            f"x-{order_id}-{side.value}", order_id, "puts", contract.key, side, 2,
            Decimal(price), Decimal("1.30"), T0 + timedelta(minutes=5), multiplier=100,
        )
    )  # fmt: skip


def test_an_older_ledger_gains_rolled_from_and_a_roll_chain_is_reported(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = tmp_path / "migrations"
    older.mkdir()
    for name in sorted(db.connection.MIGRATIONS_DIR.glob("000[1-4]_*.py")):
        shutil.copy(name, older)
    with monkeypatch.context() as patched:
        patched.setattr(db.connection, "MIGRATIONS_DIR", older)
        close_database(open_database(ledger_url))
    database = open_database(ledger_url, migrate=False)
    try:
        assert run_migrations(database) == ["0005_rolled_from"]
        ledger = Ledger(database)
        entry = OrderRecord.from_request(
            OrderRequest("entry", NEAR, Side.SELL, OrderType.LMT, 2, limit_price=Decimal("2")),
            va_id="puts",
            purpose="entry",
            created_at=T0,
        )
        roll = OrderRecord.from_request(
            OrderRequest(
                "roll",
                Contract.combo("SPY"),
                Side.BUY,
                OrderType.LMT,
                2,
                limit_price=Decimal("-0.40"),
                legs=(ComboLeg(NEAR, 1, Side.BUY), ComboLeg(FAR, 1, Side.SELL)),
            ),
            va_id="puts",
            purpose="exit",
            created_at=T0 + timedelta(minutes=4),
            reason="roll time",
            rolled_from="entry",
        )
        ledger.insert_orders([entry, roll])
        _fill(ledger, "entry", NEAR, Side.SELL, "2.00")
        _fill(ledger, "roll", NEAR, Side.BUY, "0.80")
        _fill(ledger, "roll", FAR, Side.SELL, "1.25")
        assert [(o.id, o.rolled_from) for o in ledger.orders()] == [
            ("entry", None),
            ("roll", "entry"),
        ]
        report = build_report(ledger, tz=NEW_YORK)
        assert report["rolls"] == [
            {
                "va": "puts",
                "rolls": 1,
                "credit": 490.0,  # 2.00 x 200, then (1.25 - 0.80) x 200
                "links": [
                    {"order_id": "entry", "time": "2026-01-05T10:05:00-05:00",
                     "contract": NEAR.key, "credit": 400.0},
                    {"order_id": "roll", "time": "2026-01-05T10:05:00-05:00",
                     "contract": FAR.key, "credit": 90.0},
                ],
            }
        ]  # fmt: skip
        text = format_text_report(report)
        assert f"  puts             1 roll(s)  credit +490.00: {NEAR.key} (+400.00) -> " in text
    finally:
        close_database(database)
