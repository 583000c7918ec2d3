"""OrderFlow: executions once each with their commission, statuses never ahead of the
executions they count, one terminal status per order (pure; times passed in)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from broker.ib.flow import OrderFlow
from core.domain import Contract, OrderStatus, Side
from core.events import CommissionReported, ExecutionCorrected, ExecutionEvent, OrderStatusEvent

T = datetime(2026, 1, 6, 10, 0, tzinfo=ZoneInfo("America/New_York"))


def execution(exec_id: str, quantity: int = 100, cid: str = "e1") -> ExecutionEvent:
    return ExecutionEvent(
        exec_id, cid, Contract.stock("AAPL"), Side.BUY, quantity, Decimal("190"), Decimal(0), T
    )


def status(kind: OrderStatus, filled: int, cid: str = "e1") -> OrderStatusEvent:
    return OrderStatusEvent(cid, kind, filled, 100 - filled, Decimal("190") if filled else None, T)


def test_an_execution_waits_for_its_commission_and_leaves_with_it() -> None:
    flow = OrderFlow()
    assert flow.execution(execution("x1"), 0.0) == []
    [out] = flow.commission("x1", Decimal("0.35"), 0.1)
    assert isinstance(out, ExecutionEvent) and out.commission == Decimal("0.35")


def test_an_execution_seen_again_after_a_reconnect_is_not_delivered_twice() -> None:
    flow = OrderFlow()
    assert len(flow.execution(execution("x1"), 0.0, commission=Decimal("0.35"))) == 1
    assert flow.execution(execution("x1"), 1.0, commission=Decimal("0.35")) == []
    assert flow.commission("x1", Decimal("0.35"), 1.0) == []


def test_a_commission_report_that_never_comes_releases_the_execution_with_zero() -> None:
    flow = OrderFlow(commission_wait_s=5.0)
    flow.execution(execution("x1"), 0.0)
    assert flow.expire(4.9) == []
    [out] = flow.expire(5.0)
    assert isinstance(out, ExecutionEvent) and out.commission == 0
    assert flow.late_commissions == 1
    # Late, but kept: the execution is not delivered again, its commission follows it.
    assert flow.commission("x1", Decimal("0.35"), 6.0) == [
        CommissionReported("x1", "e1", Decimal("0.35"), T)
    ]
    assert flow.commission("x1", Decimal("0.35"), 7.0) == []  # once


def test_a_late_commission_replayed_with_its_execution_is_reported_once() -> None:
    flow = OrderFlow(commission_wait_s=5.0)
    flow.execution(execution("x1"), 0.0)
    flow.expire(5.0)
    out = flow.execution(execution("x1"), 9.0, commission=Decimal("1.00"))
    assert out == [CommissionReported("x1", "e1", Decimal("1.00"), T)]
    assert flow.execution(execution("x1"), 9.5, commission=Decimal("1.00")) == []


def test_a_correction_replaces_the_delivered_execution_and_is_not_a_second_fill() -> None:
    flow = OrderFlow()
    [first] = flow.execution(execution("0000e0d5.6543.01.01"), 0.0, commission=Decimal("1"))
    fixed = execution("0000e0d5.6543.01.02", quantity=60)
    assert flow.execution(fixed, 1.0) == []  # waits for its own commission
    [out] = flow.commission("0000e0d5.6543.01.02", Decimal("0.60"), 1.1)
    assert out == ExecutionCorrected(first, replace(fixed, commission=Decimal("0.60")))
    assert flow.executed("e1") == 60
    assert flow.corrections == 1
    # A status counting the corrected quantity is not held back for a fill that never comes.
    assert flow.status(status(OrderStatus.PARTIALLY_FILLED, 60), 1.2) != []
    # The original replayed after its correction is dropped.
    assert flow.execution(execution("0000e0d5.6543.01.01"), 2.0, commission=Decimal("1")) == []


def test_a_correction_of_an_execution_still_waiting_for_its_commission_takes_its_place() -> None:
    flow = OrderFlow()
    assert flow.execution(execution("ab.01.01"), 0.0) == []
    fixed = execution("ab.01.02", quantity=50)
    assert flow.execution(fixed, 0.5, commission=Decimal("0.50")) == [
        replace(fixed, commission=Decimal("0.50"))
    ]
    assert flow.commission("ab.01.01", Decimal("1"), 0.6) == []  # the replaced one's report
    assert flow.expire(100.0) == []
    assert flow.executed("e1") == 50


def test_filled_waits_for_the_executions_it_counts() -> None:
    """IB sends execDetails, orderStatus Filled, then the commission report: the status must
    not reach the engine before the execution (a stop would be refit to an empty position)."""
    flow = OrderFlow()
    assert flow.status(status(OrderStatus.SUBMITTED, 0), 0.0) == [status(OrderStatus.SUBMITTED, 0)]
    flow.execution(execution("x1"), 0.1)
    assert flow.status(status(OrderStatus.FILLED, 100), 0.1) == []
    out = flow.commission("x1", Decimal("0.35"), 0.2)
    assert [type(e).__name__ for e in out] == ["ExecutionEvent", "OrderStatusEvent"]
    assert out[1] == status(OrderStatus.FILLED, 100)


def test_partial_fills_release_each_status_as_its_executions_arrive_in_order() -> None:
    flow = OrderFlow()
    flow.status(status(OrderStatus.PARTIALLY_FILLED, 40), 0.0)
    flow.status(status(OrderStatus.FILLED, 100), 0.0)
    out = flow.execution(execution("a", 40), 0.1, commission=Decimal(1))
    assert [getattr(e, "status", None) for e in out] == [None, OrderStatus.PARTIALLY_FILLED]
    out = flow.execution(execution("b", 60), 0.2, commission=Decimal(1))
    assert [getattr(e, "status", None) for e in out] == [None, OrderStatus.FILLED]


def test_a_held_status_is_released_when_its_executions_never_come() -> None:
    flow = OrderFlow(status_wait_s=5.0)
    flow.status(status(OrderStatus.FILLED, 100), 0.0)
    assert flow.expire(4.0) == []
    assert flow.expire(5.0) == [status(OrderStatus.FILLED, 100)]
    assert flow.released_statuses == 1


def test_one_terminal_status_per_order_and_no_repeated_status() -> None:
    flow = OrderFlow()
    assert len(flow.status(status(OrderStatus.SUBMITTED, 0), 0.0)) == 1
    assert flow.status(status(OrderStatus.SUBMITTED, 0), 0.1) == []
    assert len(flow.status(status(OrderStatus.CANCELLED, 0), 0.2)) == 1
    assert flow.status(status(OrderStatus.CANCELLED, 0), 0.3) == []
    assert flow.status(status(OrderStatus.SUBMITTED, 0), 0.4) == []
    assert flow.is_terminal("e1") and not flow.is_terminal("other")


def test_orders_do_not_hold_each_other_back() -> None:
    flow = OrderFlow()
    flow.status(status(OrderStatus.FILLED, 100, cid="a"), 0.0)
    assert flow.status(status(OrderStatus.SUBMITTED, 0, cid="b"), 0.0) == [
        status(OrderStatus.SUBMITTED, 0, cid="b")
    ]
    assert flow.waiting() == 1
