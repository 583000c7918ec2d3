"""The ledger: write-ahead orders, order events, executions once, signals, risk events."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from core.events import ExecutionEvent
from db import (
    AccountRecord,
    DuplicateOrderError,
    ExecutionRecord,
    Ledger,
    LedgerError,
    OrderRecord,
    RiskEventRecord,
    SignalRecord,
    UnknownOrderError,
)

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def _order(order_id: str = "o1", **changes: object) -> OrderRecord:
    fields: dict[str, object] = {
        "id": order_id,
        "va_id": "va1",
        "contract_key": "SPY",
        "symbol": "SPY",
        "side": Side.BUY,
        "order_type": OrderType.LMT,
        "quantity": 10,
        "purpose": "entry",
        "created_at": T0,
        "limit_price": Decimal("500.25"),
    }
    fields.update(changes)
    return OrderRecord(**fields)  # type: ignore[arg-type]


def _execution(exec_id: str = "x1", order_id: str = "o1", **changes: object) -> ExecutionRecord:
    fields: dict[str, object] = {
        "exec_id": exec_id,
        "order_id": order_id,
        "va_id": "va1",
        "contract_key": "SPY",
        "side": Side.BUY,
        "quantity": 10,
        "price": Decimal("500.2"),
        "commission": Decimal("1.0"),
        "time": T0 + timedelta(seconds=1),
    }
    fields.update(changes)
    return ExecutionRecord(**fields)  # type: ignore[arg-type]


def test_an_order_is_stored_write_ahead_with_its_first_event(ledger: Ledger) -> None:
    put = Contract(
        symbol="SPY",
        sec_type="OPT",
        expiry=date(2024, 3, 15),
        strike=Decimal("450"),
        right="P",
        multiplier=100,
    )
    request = OrderRequest("o1", put, Side.SELL, OrderType.LMT, 2, limit_price=Decimal("1.35"))
    record = OrderRecord.from_request(
        request, va_id="va1", purpose="entry", created_at=T0, signal_id="s1"
    )

    ledger.insert_order(record)

    stored = ledger.order("o1")
    assert stored == replace(record, updated_at=T0)
    assert stored is not None
    assert stored.contract == put
    assert stored.contract.key == put.key
    assert stored.to_request() == request
    events = ledger.order_events("o1")
    assert [(e.status, e.filled, e.time) for e in events] == [(OrderStatus.PENDING_SUBMIT, 0, T0)]


def test_a_duplicate_order_id_raises_and_changes_nothing(ledger: Ledger) -> None:
    ledger.insert_order(_order())

    with pytest.raises(DuplicateOrderError, match="o1"):
        ledger.insert_order(_order(quantity=99))

    stored = ledger.order("o1")
    assert stored is not None
    assert stored.quantity == 10
    assert len(ledger.order_events("o1")) == 1


def test_an_entry_and_its_attached_stop_are_stored_together_parent_first(ledger: Ledger) -> None:
    stop = _order(
        "o1-stop",
        side=Side.SELL,
        order_type=OrderType.STP,
        purpose="stop",
        parent_id="o1",
        reduce_only=True,
        limit_price=None,
        stop_price=Decimal("495"),
    )

    ledger.insert_orders([stop, _order("o1")])

    child = ledger.order("o1-stop")
    assert child is not None
    assert child.parent_id == "o1"
    assert child.stop_price == Decimal("495")
    assert [o.id for o in ledger.orders()] == ["o1", "o1-stop"]


def test_a_child_of_an_unknown_parent_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="refused") as raised:
        ledger.insert_order(_order("orphan", parent_id="missing"))

    assert not isinstance(raised.value, DuplicateOrderError)
    assert ledger.orders() == []


def test_a_batch_with_one_stored_id_stores_none_of_it(ledger: Ledger) -> None:
    ledger.insert_order(_order("o1"))

    with pytest.raises(DuplicateOrderError):
        ledger.insert_orders([_order("o2"), _order("o1")])

    assert [o.id for o in ledger.orders()] == ["o1"]


def test_each_update_changes_the_order_and_appends_an_event(ledger: Ledger) -> None:
    ledger.insert_order(_order())
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)

    ledger.update_order(
        "o1",
        status=OrderStatus.SUBMITTED,
        filled=0,
        avg_fill_price=None,
        time=t1,
        broker_order_id=42,
    )
    ledger.update_order(
        "o1",
        status=OrderStatus.PARTIALLY_FILLED,
        filled=4,
        avg_fill_price=Decimal("500.2"),
        time=t2,
        detail="fill x1",
    )
    ledger.update_order(
        "o1",
        status=OrderStatus.CANCELLED,
        filled=4,
        avg_fill_price=None,
        time=t2,
        reason="stale",
        quantity=4,
    )

    order = ledger.order("o1")
    assert order is not None
    assert (order.status, order.filled, order.quantity) == (OrderStatus.CANCELLED, 4, 4)
    assert order.avg_fill_price == Decimal("500.2")  # None kept the stored price
    assert (order.broker_order_id, order.reason, order.updated_at) == (42, "stale", t2)
    assert [(e.status, e.filled, e.time, e.detail) for e in ledger.order_events("o1")] == [
        (OrderStatus.PENDING_SUBMIT, 0, T0, "stored"),
        (OrderStatus.SUBMITTED, 0, t1, ""),
        (OrderStatus.PARTIALLY_FILLED, 4, t2, "fill x1"),
        (OrderStatus.CANCELLED, 4, t2, ""),
    ]
    assert ledger.orders(working_only=True) == []


def test_updating_an_unknown_order_raises_and_writes_nothing(ledger: Ledger) -> None:
    with pytest.raises(UnknownOrderError):
        ledger.update_order(
            "nope", status=OrderStatus.FILLED, filled=1, avg_fill_price=None, time=T0
        )
    assert ledger.order_events("nope") == []


def test_orders_filter_by_working_state_and_virtual_account(ledger: Ledger) -> None:
    ledger.insert_orders(
        [
            _order("a", created_at=T0),
            _order("b", va_id="va2", created_at=T0 + timedelta(seconds=1)),
            _order("c", status=OrderStatus.FILLED, created_at=T0 + timedelta(seconds=2)),
        ]
    )

    assert [o.id for o in ledger.orders()] == ["a", "b", "c"]
    assert [o.id for o in ledger.orders(working_only=True)] == ["a", "b"]
    assert [o.id for o in ledger.orders(va_id="va1")] == ["a", "c"]
    assert [o.id for o in ledger.orders(working_only=True, va_id="va1")] == ["a"]
    assert ledger.order("zzz") is None


def test_an_execution_is_stored_exactly_once(ledger: Ledger) -> None:
    ledger.insert_order(_order())

    assert ledger.insert_execution(_execution()) is True
    assert ledger.insert_execution(_execution(price=Decimal("1"))) is False

    assert ledger.executions() == [_execution()]


def test_an_execution_of_an_unknown_order_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError):
        ledger.insert_execution(_execution(order_id="nope"))
    assert ledger.executions() == []


def test_executions_come_back_in_time_order_with_their_multiplier(ledger: Ledger) -> None:
    ledger.insert_order(_order())
    ledger.insert_order(_order("o2", va_id="va2"))
    event = ExecutionEvent(
        exec_id="late",
        client_order_id="o1",
        contract=Contract("SPY", "OPT", date(2024, 3, 15), Decimal("450"), "P", 100),
        side=Side.SELL,
        quantity=1,
        price=Decimal("1.234567"),
        commission=Decimal("0.65"),
        time=T0 + timedelta(minutes=5),
    )
    ledger.insert_execution(ExecutionRecord.from_event(event, va_id="va1"))
    ledger.insert_execution(_execution("early", time=T0))
    ledger.insert_execution(_execution("other", "o2", va_id="va2"))

    assert [e.exec_id for e in ledger.executions()] == ["early", "other", "late"]
    assert [e.exec_id for e in ledger.executions(va_id="va1")] == ["early", "late"]
    late = ledger.executions()[-1]
    assert (late.multiplier, late.price, late.contract_key) == (
        100,
        Decimal("1.234567"),
        "SPY 20240315 P 450",
    )


def test_prices_are_exact_to_six_places_and_rounded_beyond(ledger: Ledger) -> None:
    ledger.insert_order(
        _order(limit_price=Decimal("123456.123456"), stop_price=Decimal("0.1234565"))
    )

    stored = ledger.order("o1")
    assert stored is not None
    assert stored.limit_price == Decimal("123456.123456")
    assert stored.stop_price == Decimal("0.123456")  # half-even


def test_a_naive_time_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="naive"):
        ledger.insert_order(_order(created_at=datetime(2024, 3, 1, 9, 30)))


def test_accounts_are_upserted_and_keep_their_creation_time(ledger: Ledger) -> None:
    ledger.upsert_accounts([AccountRecord("va1", "demo", Decimal("10000"), T0)])
    ledger.upsert_accounts(
        [
            AccountRecord("va1", "naked_put", Decimal("25000.50"), T0 + timedelta(days=1)),
            AccountRecord("va0", "inbox", Decimal("5000"), T0),
        ]
    )

    assert ledger.accounts() == [
        AccountRecord("va0", "inbox", Decimal("5000"), T0),
        AccountRecord("va1", "naked_put", Decimal("25000.50"), T0),
    ]


def test_signals_roundtrip_in_time_order(ledger: Ledger) -> None:
    later = SignalRecord(
        "s2", T0 + timedelta(seconds=5), "va1", "SPY", Side.BUY, "demo", True, "va", "", ""
    )
    earlier = SignalRecord(
        "s1",
        T0,
        "va2",
        "QQQ",
        Side.SELL,
        "inbox",
        False,
        "governor",
        "daily_loss",
        "-510 < -500",
        3,
    )
    ledger.insert_signal(later)
    ledger.insert_signal(earlier)

    assert ledger.signals() == [earlier, later]
    assert ledger.signals(va_id="va1") == [later]
    with pytest.raises(LedgerError):
        ledger.insert_signal(later)


def test_risk_events_roundtrip_as_aware_utc_times(ledger: Ledger) -> None:
    local = datetime(2024, 3, 1, 9, 45, tzinfo=NEW_YORK)
    halt = RiskEventRecord.with_details(
        time=local, kind="halt", state="HALTED", reason="kill switch", details={"by": "tui"}
    )
    breaker = RiskEventRecord(
        time=local + timedelta(minutes=1), kind="daily_loss", state="REDUCING", reason="-2%"
    )
    first_id = ledger.insert_risk_event(halt)
    ledger.insert_risk_event(breaker)

    events = ledger.risk_events()
    assert [e.kind for e in events] == ["halt", "daily_loss"]
    assert events[0].time == local
    assert events[0].time.tzinfo is UTC
    assert events[0].time.hour == 14
    assert events[0].id == first_id
    assert events[0].details == {"by": "tui"}
    assert events[1].details == {}
    latest = ledger.latest_risk_event()
    assert latest is not None
    assert latest.kind == "daily_loss"
    latest_halt = ledger.latest_risk_event("halt")
    assert latest_halt is not None
    assert latest_halt.reason == "kill switch"
    assert ledger.latest_risk_event("flatten") is None


def test_calls_inside_a_transaction_commit_or_roll_back_together(ledger: Ledger) -> None:
    ledger.insert_order(_order())

    with pytest.raises(RuntimeError), ledger.transaction():
        ledger.insert_execution(_execution())
        ledger.update_order(
            "o1", status=OrderStatus.FILLED, filled=10, avg_fill_price=Decimal("500.2"), time=T0
        )
        raise RuntimeError("crash between the two writes")

    assert ledger.executions() == []
    order = ledger.order("o1")
    assert order is not None
    assert order.status is OrderStatus.PENDING_SUBMIT


def test_four_writer_threads_never_see_database_is_locked(ledger: Ledger) -> None:
    threads_n, per_thread = 4, 50
    ledger.insert_orders([_order(f"o{n}") for n in range(threads_n)])
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                # read, then write in the same transaction: the upgrade that fails when deferred
                with ledger.transaction():
                    order = ledger.order(f"o{n}")
                    assert order is not None
                    ledger.insert_execution(_execution(f"x{n}-{i}", f"o{n}", quantity=1))
                    ledger.update_order(
                        f"o{n}",
                        status=OrderStatus.PARTIALLY_FILLED,
                        filled=order.filled + 1,
                        avg_fill_price=Decimal("500.2"),
                        time=T0,
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            ledger.close()

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert len(ledger.executions()) == threads_n * per_thread
    assert {o.filled for o in ledger.orders()} == {per_thread}
