"""``db.integrity``: a ledger broken in each way is caught with a line naming its rows, on
SQLite and PostgreSQL; ``main.py check-ledger`` prints it (exit 1) or ``ok`` (exit 0); the
engine refuses to start on a broken ledger (exit 2); the crash harness uses the same check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import peewee
import pytest

import main
from core.domain import OrderStatus, OrderType, Side
from db import ExecutionRecord, Ledger, OrderRecord, close_database, open_database
from db.integrity import LedgerBroken, ended_then_filled, read_problems, refuse_broken
from db.models import Execution, OrderEvent
from db.rows import execution_row
from tests.support.crash import problems as crash_problems
from tests.support.crash.ledger import LedgerSnapshot
from tests.support.crash.problems import written_off_then_filled

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config.toml"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _order(oid: str, side: Side, at: datetime, *, quantity: int = 10) -> OrderRecord:
    return OrderRecord(
        id=oid,
        va_id="va1",
        contract_key="SPY",
        symbol="SPY",
        side=side,
        order_type=OrderType.MKT,
        quantity=quantity,
        purpose="entry" if side is Side.BUY else "exit",
        created_at=at,
    )


def _fill(
    oid: str, exec_id: str, side: Side, at: datetime, *, quantity: int = 10
) -> ExecutionRecord:
    return ExecutionRecord(
        exec_id=exec_id,
        order_id=oid,
        va_id="va1",
        contract_key="SPY",
        side=side,
        quantity=quantity,
        price=Decimal("500"),
        commission=Decimal("1"),
        time=at,
    )


def _traded(ledger: Ledger, oid: str, side: Side, at: datetime, exec_id: str) -> None:
    """An order stored, filled at ``at`` and its execution stored, as the OrderManager does."""
    ledger.insert_order(_order(oid, side, at))
    ledger.update_order(
        oid, status=OrderStatus.FILLED, filled=10, avg_fill_price=Decimal("500"), time=at
    )
    ledger.insert_execution(_fill(oid, exec_id, side, at))


def _healthy(ledger: Ledger) -> None:
    """A round trip: bought at T0, sold an hour later."""
    _traded(ledger, "o1", Side.BUY, T0, "e1.01")
    _traded(ledger, "o2", Side.SELL, T0 + timedelta(hours=1), "e2.01")


def _raw_execution(rec: ExecutionRecord) -> None:
    """Written as no engine would: past the ledger's own checks."""
    Execution.insert(execution_row(rec)).execute()


def _revision_kept(ledger: Ledger) -> None:
    _raw_execution(_fill("o1", "e1.02", Side.BUY, T0))


def _overfilled(ledger: Ledger) -> None:
    _raw_execution(_fill("o1", "e9.01", Side.BUY, T0, quantity=5))


def _ended_then_filled(ledger: Ledger) -> None:
    ledger.insert_order(_order("o3", Side.BUY, T0 + timedelta(hours=2)))
    ledger.update_order(
        "o3",
        status=OrderStatus.CANCELLED,
        filled=0,
        avg_fill_price=None,
        time=T0 + timedelta(hours=2),
    )
    # Filled, then sold: positions stay flat, only the ended order is wrong.
    _raw_execution(_fill("o3", "e3.01", Side.BUY, T0 + timedelta(hours=2)))
    _traded(ledger, "o4", Side.SELL, T0 + timedelta(hours=3), "e4.01")


def _differs(ledger: Ledger) -> None:
    ledger.insert_order(_order("o3", Side.BUY, T0 + timedelta(hours=2)))
    _raw_execution(replace(_fill("o3", "e3.01", Side.BUY, T0 + timedelta(hours=2)), va_id="va2"))


def _without_order(ledger: Ledger) -> None:
    db = ledger.database
    postgres = isinstance(db, peewee.PostgresqlDatabase)
    if not postgres:
        db.execute_sql("PRAGMA foreign_keys = OFF")  # outside a transaction, or a no-op
    with db.atomic():
        if postgres:
            db.execute_sql("SET LOCAL session_replication_role = replica")  # no FK triggers
        _raw_execution(_fill("gone", "e5.01", Side.BUY, T0 + timedelta(hours=2)))
    if not postgres:
        db.execute_sql("PRAGMA foreign_keys = ON")


def _exit_before_entry(ledger: Ledger) -> None:
    """A later run books an earlier day over the open position (the issue's replay)."""
    _traded(ledger, "o3", Side.BUY, T0 + timedelta(hours=3), "e3.01")
    _traded(ledger, "o4", Side.SELL, T0 + timedelta(hours=2), "e4.01")


def _execution_before_order(ledger: Ledger) -> None:
    ledger.insert_order(_order("o3", Side.BUY, T0 + timedelta(hours=2)))
    _raw_execution(_fill("o3", "e3.01", Side.BUY, T0 + timedelta(hours=1, minutes=59)))
    ledger.update_order(
        "o3",
        status=OrderStatus.FILLED,
        filled=10,
        avg_fill_price=None,
        time=T0 + timedelta(hours=2),
    )
    _traded(ledger, "o4", Side.SELL, T0 + timedelta(hours=3), "e4.01")


def _event_before_order(ledger: Ledger) -> None:
    ledger.insert_order(_order("o3", Side.BUY, T0 + timedelta(hours=2)))
    OrderEvent.insert(order="o3", time=T0, status="submitted", filled=0, detail="").execute()


BROKEN: dict[str, tuple[Callable[[Ledger], None], str, tuple[str, ...]]] = {
    "revision_kept": (_revision_kept, "execution_twice", ("e1.01", "e1.02")),
    "overfilled": (_overfilled, "order_overfilled", ("o1", "e1.01", "e9.01")),
    "ended_then_filled": (_ended_then_filled, "ended_then_filled", ("o3",)),
    "differs": (_differs, "execution_differs_from_order", ("e3.01", "o3")),
    "without_order": (_without_order, "execution_without_order", ("e5.01", "gone")),
    "exit_before_entry": (_exit_before_entry, "trade_exit_before_entry", ("e3.01", "e4.01")),
    "execution_before_order": (_execution_before_order, "before_its_order", ("e3.01", "o3")),
    "event_before_order": (_event_before_order, "before_its_order", ("o3", "order event")),
}


def _ledger_at(url: str, build: Callable[[Ledger], None]) -> None:
    database = open_database(url)
    try:
        ledger = Ledger(database)
        _healthy(ledger)
        build(ledger)
    finally:
        close_database(database)


def test_a_healthy_ledger_has_no_problems(
    ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _ledger_at(ledger_url, lambda ledger: None)
    assert main.main(["check-ledger", "--config", str(CONFIG), "--db", ledger_url]) == 0
    assert capsys.readouterr().out == "ok\n"


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_ledger_broken_in_each_way_is_caught_with_a_line_naming_its_rows(
    ledger_url: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    build, check, rows = BROKEN[kind]
    _ledger_at(ledger_url, build)
    assert main.main(["check-ledger", "--config", str(CONFIG), "--db", ledger_url]) == 1
    lines = capsys.readouterr().out.splitlines()
    [line] = [x for x in lines if x.startswith(f"{check}: ")]  # (a kept revision overfills too)
    assert all(row in line for row in rows), line


def test_the_engine_refuses_to_start_on_a_broken_ledger_with_exit_2(
    ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _ledger_at(ledger_url, _exit_before_entry)
    code = main.main(
        [
            "run",
            "--headless",
            "--config",
            str(CONFIG),
            "--db",
            ledger_url,
            "--speed",
            "max",
            "--start",
            "2026-03-03T09:30",
            "--until",
            "09:31",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    [line] = [x for x in err.splitlines() if x.startswith("main.py run: ")]
    assert "breaks 1 invariant(s), first trade_exit_before_entry:" in line
    assert "e3.01" in line and "main.py check-ledger" in line
    database = open_database(ledger_url, migrate=False)
    try:
        assert len(Ledger(database).orders()) == 4  # nothing written by the refused engine
        with pytest.raises(LedgerBroken):
            refuse_broken(database)
    finally:
        close_database(database)


def test_check_ledger_exits_2_on_a_ledger_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert main.main(["check-ledger", "--config", str(CONFIG), "--db", f"sqlite:///{missing}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"main.py check-ledger: ledger {missing} is not migrated yet (")
    assert not missing.exists()


def test_the_crash_harness_finds_written_off_orders_through_the_same_check(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _ledger_at(url, _ended_then_filled)
    database = open_database(url, migrate=False)
    try:
        ledger = Ledger(database)
        orders = {o.id: o for o in ledger.orders()}
        snapshot = LedgerSnapshot(orders, ledger.executions(), [], [], {"o3": "cancelled by TWS"})
        assert [p.check for p in read_problems(database)] == ["ended_then_filled"]
    finally:
        close_database(database)
    assert list(written_off_then_filled(snapshot)) == ["o3"]
    assert crash_problems.ended_then_filled is ended_then_filled  # one check, not a copy


def _combo(oid: str, *, quantity: int = 2, status: OrderStatus = OrderStatus.FILLED) -> OrderRecord:
    return OrderRecord(
        id=oid,
        va_id="va1",
        contract_key="SPY BAG",
        symbol="SPY",
        side=Side.BUY,
        order_type=OrderType.LMT,
        quantity=quantity,
        purpose="entry",
        created_at=T0,
        sec_type="BAG",
        limit_price=Decimal("-1.10"),
        status=status,
        filled=quantity if status is OrderStatus.FILLED else 0,
    )


def _leg(oid: str, exec_id: str, key: str, side: Side, quantity: int) -> ExecutionRecord:
    return ExecutionRecord(
        exec_id=exec_id,
        order_id=oid,
        va_id="va1",
        contract_key=key,
        side=side,
        quantity=quantity,
        price=Decimal("1.5"),
        commission=Decimal("1.3"),
        time=T0 + timedelta(seconds=1),
        multiplier=100,
    )


NEAR, FAR = "SPY 20260320 P 500", "SPY 20260417 P 500"


def test_a_combos_legs_are_its_executions_counted_in_units() -> None:
    from db.integrity import find_problems

    legs = [_leg("c1", "e1.01", NEAR, Side.BUY, 2), _leg("c1", "e2.01", FAR, Side.SELL, 2)]
    assert find_problems([_combo("c1")], legs, []) == []
    # A combo written off (cancelled, nothing filled) whose legs then filled is caught.
    ended = _combo("c2", status=OrderStatus.CANCELLED)
    filled = [_leg("c2", "f1.01", NEAR, Side.BUY, 2), _leg("c2", "f2.01", FAR, Side.SELL, 2)]
    (problem,) = find_problems([ended], filled, [])
    assert problem.check == "ended_then_filled"
    over = [_leg("c1", "g1.01", NEAR, Side.BUY, 3), _leg("c1", "g2.01", FAR, Side.SELL, 3)]
    (problem,) = find_problems([_combo("c1")], over, [])
    assert problem.check == "order_overfilled"
    other = [_leg("c1", "h1.01", "QQQ 20260320 P 400", Side.BUY, 2)]
    assert [p.check for p in find_problems([_combo("c1")], other, [])] == [
        "execution_differs_from_order"
    ]
