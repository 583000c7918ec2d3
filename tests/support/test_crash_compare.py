"""The crash harness's broker comparison across a trading day: the broker (IB, and tws-sim with
``executions_today_only``) lists today's executions only, so yesterday's in the ledger are not
"missing at the broker" (a slow run that crosses the close found hundreds of them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from core.domain import OrderStatus, OrderType, Side
from db.records import ExecutionRecord, OrderRecord
from tests.support.crash.broker import BrokerExec, BrokerReader, BrokerSnapshot
from tests.support.crash.checks import Checker
from tests.support.crash.compare import compare
from tests.support.crash.ledger import LedgerProbe, LedgerReader, LedgerSnapshot
from tests.support.crash.record import RunRecord

NY = ZoneInfo("America/New_York")
TUESDAY = datetime(2026, 11, 17, 10, 0, tzinfo=NY)
WEDNESDAY = TUESDAY + timedelta(days=1)


def _round_trip(
    va: str, symbol: str, at: datetime
) -> tuple[list[OrderRecord], list[ExecutionRecord]]:
    """An entry and its exit, filled a minute apart (the position is flat again)."""
    orders, executions = [], []
    for n, (side, purpose) in enumerate(((Side.BUY, "entry"), (Side.SELL, "exit"))):
        when = at + timedelta(minutes=n)
        order_id = f"{va}-{symbol}-{purpose}-{at:%d}"
        orders.append(
            OrderRecord(
                id=order_id, va_id=va, contract_key=symbol, symbol=symbol, side=side,
                order_type=OrderType.MKT, quantity=10, purpose=purpose, created_at=when,
                status=OrderStatus.FILLED, filled=10,
            )
        )  # fmt: skip
        executions.append(
            ExecutionRecord(
                exec_id=f"x-{order_id}", order_id=order_id, va_id=va, contract_key=symbol,
                side=side, quantity=10, price=Decimal(100), commission=Decimal(1), time=when,
            )
        )  # fmt: skip
    return orders, executions


def _at_broker(execution: ExecutionRecord) -> BrokerExec:
    return BrokerExec(
        exec_id=execution.exec_id,
        order_ref=execution.order_id,
        perm_id=1,
        side=execution.side.value,
        shares=execution.quantity,
        price=execution.price,
        key=execution.contract_key,
        time=execution.time,
    )


def test_yesterdays_executions_are_not_missing_at_a_broker_that_lists_today_only() -> None:
    old_orders, yesterday = _round_trip("va1", "AAPL", TUESDAY)
    new_orders, today = _round_trip("va1", "MSFT", WEDNESDAY)
    ledger = LedgerSnapshot(
        orders={o.id: o for o in old_orders + new_orders},
        executions=yesterday + today,
        positions=[],
        risk_events=[],
    )
    broker = BrokerSnapshot(
        executions=[_at_broker(e) for e in today],
        positions={},
        orders={},
        stable=True,
        time=WEDNESDAY + timedelta(minutes=5),
    )
    result = compare(
        broker, ledger, max_trades_per_day=10, trading_day=lambda t: t.astimezone(NY).date()
    )
    assert result.executions == []
    assert result.consistent and result.ok
    assert result.fills_checked == 2
    assert result.fills == {e.exec_id for e in today}


def test_the_fills_checked_are_every_days_found_at_that_days_checks(tmp_path: Path) -> None:
    """What the report counts: each broker execution found in the ledger by any comparison."""
    old_orders, yesterday = _round_trip("va1", "AAPL", TUESDAY)
    new_orders, today = _round_trip("va1", "MSFT", WEDNESDAY)
    record = RunRecord(tmp_path, deadline_s=60)
    checker = Checker(
        record=record,
        probe=LedgerProbe("sqlite:///unused.db"),
        ledger=LedgerReader("sqlite:///unused.db"),
        broker=BrokerReader(0),
        max_trades=10,
        trading_day=lambda t: t.astimezone(NY).date(),
    )
    orders = {o.id: o for o in old_orders + new_orders}
    for day, executions in ((TUESDAY, yesterday), (WEDNESDAY, yesterday + today)):
        listed = [e for e in executions if e.time.date() == day.date()]
        broker = BrokerSnapshot(
            [_at_broker(e) for e in listed], {}, {}, True, day + timedelta(hours=1)
        )
        checker.compare(broker, LedgerSnapshot(orders, executions, [], []))
    assert record.fills_seen == {e.exec_id for e in yesterday + today}


def test_an_execution_of_today_the_broker_lacks_is_still_found() -> None:
    orders, today = _round_trip("va1", "MSFT", WEDNESDAY)
    ledger = LedgerSnapshot({o.id: o for o in orders}, today, [], [])
    broker = BrokerSnapshot(
        executions=[_at_broker(today[1])],  # the entry is gone
        positions={},
        orders={},
        stable=True,
        time=WEDNESDAY + timedelta(minutes=5),
    )
    result = compare(
        broker, ledger, max_trades_per_day=10, trading_day=lambda t: t.astimezone(NY).date()
    )
    assert [p.check for p in result.executions] == ["execution_not_at_broker"]
    assert not result.consistent
