"""The session report built from a small ledger: a winner, a loser closed by its stop, an open
position, an accepted and a refused signal, two risk events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
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
    build_report,
    format_text_report,
)

NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)  # 09:30 in New York


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _order(
    order_id: str,
    va: str,
    symbol: str,
    side: Side,
    kind: OrderType,
    *,
    qty: int,
    at: float,
    **more: Any,
) -> OrderRecord:
    purpose = more.pop("purpose", "entry")
    return OrderRecord(
        id=order_id,
        va_id=va,
        contract_key=symbol,
        symbol=symbol,
        side=side,
        order_type=kind,
        quantity=qty,
        purpose=purpose,
        created_at=_at(at),
        **more,
    )


def _fill(ledger: Ledger, order: OrderRecord, price: str, commission: str, minutes: float) -> None:
    ledger.insert_execution(
        ExecutionRecord(
            exec_id=f"x-{order.id}",
            order_id=order.id,
            va_id=order.va_id,
            contract_key=order.contract_key,
            side=order.side,
            quantity=order.quantity,
            price=Decimal(price),
            commission=Decimal(commission),
            time=_at(minutes),
        )
    )
    ledger.update_order(
        order.id,
        status=OrderStatus.FILLED,
        filled=order.quantity,
        avg_fill_price=Decimal(price),
        time=_at(minutes),
    )


@pytest.fixture
def filled_ledger(ledger: Ledger) -> Ledger:
    ledger.upsert_accounts(
        [
            AccountRecord("va1", "demo", Decimal("10000"), T0),
            AccountRecord("va2", "naked_put", Decimal("5000"), T0),
        ]
    )
    buy, sell = Side.BUY, Side.SELL
    lmt, stp, mkt = OrderType.LMT, OrderType.STP, OrderType.MKT
    stop_of = {"purpose": "stop", "reduce_only": True}

    # va1 SPY: entry, its stop (cancelled), an exit at the profit target.
    e1 = _order(
        "e1", "va1", "SPY", buy, lmt, qty=10, at=0, limit_price=Decimal("500"), signal_id="s1"
    )
    e1_stop = _order(
        "e1-stop",
        "va1",
        "SPY",
        sell,
        stp,
        qty=10,
        at=0,
        parent_id="e1",
        stop_price=Decimal("495"),
        **stop_of,
    )
    ledger.insert_orders([e1, e1_stop])
    _fill(ledger, e1, "500.00", "1.00", 0.1)
    x1 = _order(
        "x1",
        "va1",
        "SPY",
        sell,
        mkt,
        qty=10,
        at=30,
        purpose="exit",
        reduce_only=True,
        reason="profit_target",
    )
    ledger.insert_order(x1)
    _fill(ledger, x1, "505.50", "1.00", 30.1)
    ledger.update_order(
        "e1-stop",
        status=OrderStatus.CANCELLED,
        filled=0,
        avg_fill_price=None,
        time=_at(30.2),
        reason="oca",
    )

    # va2 QQQ: entry, then its stop fills (a loss).
    e2 = _order("e2", "va2", "QQQ", buy, lmt, qty=5, at=1, limit_price=Decimal("400"))
    e2_stop = _order(
        "e2-stop",
        "va2",
        "QQQ",
        sell,
        stp,
        qty=5,
        at=1,
        parent_id="e2",
        stop_price=Decimal("390"),
        **stop_of,
    )
    ledger.insert_orders([e2, e2_stop])
    _fill(ledger, e2, "400", "0.50", 1.1)
    _fill(ledger, e2_stop, "389.90", "0.50", 40)

    # va1 AAPL: still open, its stop working.
    e3 = _order("e3", "va1", "AAPL", buy, lmt, qty=3, at=50, limit_price=Decimal("190.2"))
    e3_stop = _order(
        "e3-stop",
        "va1",
        "AAPL",
        sell,
        stp,
        qty=3,
        at=50,
        parent_id="e3",
        stop_price=Decimal("185"),
        **stop_of,
    )
    ledger.insert_orders([e3, e3_stop])
    _fill(ledger, e3, "190.123456", "0.35", 50.1)
    ledger.update_order(
        "e3-stop", status=OrderStatus.SUBMITTED, filled=0, avg_fill_price=None, time=_at(50.1)
    )

    ledger.insert_signal(
        SignalRecord("s1", _at(-0.5), "va1", "SPY", buy, "demo", True, "va", "", "", 10)
    )
    ledger.insert_signal(
        SignalRecord(
            "s2", _at(60), "va2", "QQQ", sell, "inbox", False, "governor", "max_positions", "1 >= 1"
        )
    )
    ledger.insert_risk_event(RiskEventRecord(_at(-30), "state", "ACTIVE", "engine started"))
    ledger.insert_risk_event(RiskEventRecord(_at(70), "daily_loss", "REDUCING", "-1.0% <= -1%"))
    return ledger


def test_the_report_lists_closed_trades_with_prices_pnl_and_exit_reasons(
    filled_ledger: Ledger,
) -> None:
    report = build_report(filled_ledger, tz=NEW_YORK)

    assert report["trades"] == [
        {
            "va": "va1",
            "contract": "SPY",
            "side": "LONG",
            "qty": 10,
            "entry_time": "2024-03-01T09:30:06-05:00",
            "exit_time": "2024-03-01T10:00:06-05:00",
            "entry_price": 500.0,
            "exit_price": 505.5,
            "pnl": 53.0,
            "exit_reason": "profit_target",
            "dte_at_entry": None,
            "delta_at_entry": None,
            "credit": None,
        },
        {
            "va": "va2",
            "contract": "QQQ",
            "side": "LONG",
            "qty": 5,
            "entry_time": "2024-03-01T09:31:06-05:00",
            "exit_time": "2024-03-01T10:10:00-05:00",
            "entry_price": 400.0,
            "exit_price": 389.9,
            "pnl": -51.5,
            "exit_reason": "stop",
            "dte_at_entry": None,
            "delta_at_entry": None,
            "credit": None,
        },
    ]


ORDER_KEYS = ("id", "va", "contract", "action", "type", "qty", "limit_price", "stop_price",
              "status", "parent_id", "created_at", "reason")  # fmt: skip


def test_the_report_lists_every_order_with_its_final_state(filled_ledger: Ledger) -> None:
    report = build_report(filled_ledger, tz=NEW_YORK)
    at_930, at_931, at_10, at_1020 = (
        f"2024-03-01T{hhmm}:00-05:00" for hhmm in ("09:30", "09:31", "10:00", "10:20")
    )

    expected = [
        ("e1", "va1", "SPY", "BUY", "LMT", 10, 500.0, None, "filled", None, at_930, ""),
        ("e1-stop", "va1", "SPY", "SELL", "STP", 10, None, 495.0, "cancelled", "e1", at_930, "oca"),
        ("e2", "va2", "QQQ", "BUY", "LMT", 5, 400.0, None, "filled", None, at_931, ""),
        ("e2-stop", "va2", "QQQ", "SELL", "STP", 5, None, 390.0, "filled", "e2", at_931, ""),
        ("x1", "va1", "SPY", "SELL", "MKT", 10, None, None, "filled", None, at_10, "profit_target"),
        ("e3", "va1", "AAPL", "BUY", "LMT", 3, 190.2, None, "filled", None, at_1020, ""),
        ("e3-stop", "va1", "AAPL", "SELL", "STP", 3, None, 185.0, "submitted", "e3", at_1020, ""),
    ]  # fmt: skip
    assert not any(o["dry_run"] for o in report["orders"])
    orders = [
        {k: v for k, v in o.items() if k not in ("purpose", "dry_run")} for o in report["orders"]
    ]
    assert orders == [dict(zip(ORDER_KEYS, row, strict=True)) for row in expected]
    assert [o["purpose"] for o in report["orders"]] == [
        "entry", "stop", "entry", "stop", "exit", "entry", "stop"
    ]  # fmt: skip


def test_the_report_gives_balances_net_of_commissions_and_open_positions(
    filled_ledger: Ledger,
) -> None:
    report = build_report(filled_ledger, tz=NEW_YORK)

    # va1: +53.00 on SPY, -0.35 commission paid on the open AAPL position.
    assert report["accounts"] == [
        {"id": "va1", "capital": 10000.0, "balance": 10052.65, "realized_pnl": 52.65},
        {"id": "va2", "capital": 5000.0, "balance": 4948.5, "realized_pnl": -51.5},
    ]
    assert report["positions"] == [
        {"va": "va1", "contract": "AAPL", "qty": 3, "avg_price": 190.1235},
    ]


def test_the_report_lists_decisions_and_risk_events_in_exchange_time(
    filled_ledger: Ledger,
) -> None:
    report = build_report(filled_ledger, tz=NEW_YORK)

    assert report["decisions"] == [
        {
            "time": "2024-03-01T09:29:30-05:00",
            "va": "va1",
            "signal": "BUY 10 SPY (demo)",
            "accepted": True,
            "rule": "",
            "detail": "",
        },
        {
            "time": "2024-03-01T10:30:00-05:00",
            "va": "va2",
            "signal": "SELL QQQ (inbox)",
            "accepted": False,
            "rule": "max_positions",
            "detail": "1 >= 1",
        },
    ]
    assert report["risk_events"] == [
        {"time": "2024-03-01T09:00:00-05:00", "kind": "state", "reason": "engine started"},
        {"time": "2024-03-01T10:40:00-05:00", "kind": "daily_loss", "reason": "-1.0% <= -1%"},
    ]


def test_the_report_has_exactly_the_public_keys_and_is_json(filled_ledger: Ledger) -> None:
    report = build_report(filled_ledger, tz=NEW_YORK)

    assert list(report) == [
        "trades",
        "orders",
        "accounts",
        "risk_events",
        "decisions",
        "positions",
        "rolls",
    ]
    assert json.loads(json.dumps(report)) == report


def test_an_empty_ledger_gives_an_empty_report(ledger: Ledger) -> None:
    report = build_report(ledger, tz=NEW_YORK)

    assert all(value == [] for value in report.values())
    assert "none" in format_text_report(report)


def test_the_text_report_summarises_vas_orders_rejections_and_risk_events(
    filled_ledger: Ledger,
) -> None:
    text = format_text_report(build_report(filled_ledger, tz=NEW_YORK))
    lines = [" ".join(line.split()) for line in text.splitlines()]

    assert "va1 trades 1 wins 1 losses 0 realized +52.65 balance 10,052.65" in lines
    assert "va2 trades 1 wins 0 losses 1 realized -51.50 balance 4,948.50" in lines
    assert "TOTAL trades 2 wins 1 losses 1 realized +1.15" in lines
    assert "va1 AAPL +3 @ 190.1235" in lines
    assert "filled 5" in lines
    assert "cancelled 1" in lines
    assert "submitted 1" in lines
    assert "max_positions 1" in lines
    assert "2024-03-01T10:40:00-05:00 daily_loss -1.0% <= -1%" in lines
