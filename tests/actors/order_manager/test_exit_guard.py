"""The OrderManager's exit guard, built without an actor on an ``OrderBook``: an exit may only
shrink the VA's position, and never goes into the OCA group of a stop the broker said filled."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import cast

from actors.messages.commands import OrderProposal
from actors.order_manager.exits import OCA_ALREADY_FILLED, ExitGuard
from actors.order_manager.state import HeldPosition, OrderBook, WorkingOrder
from actors.runtime.context import EngineContext
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Purpose, Side
from db.records import OrderRecord

T0 = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
AAPL = Contract("AAPL")


class _NoClose:
    def close_at_market(
        self, va_id: str, position: HeldPosition, *, reason: str, now: datetime, tag: str
    ) -> None:
        raise AssertionError("nothing to close here")


def _working(order_id: str, side: Side, purpose: Purpose, quantity: int) -> WorkingOrder:
    request = OrderRequest(order_id, AAPL, side, OrderType.STP, quantity)
    record = OrderRecord.from_request(request, va_id="va1", purpose=purpose.value, created_at=T0)
    return WorkingOrder(record, OrderStatus.SUBMITTED)


def _exit(quantity: int, side: Side = Side.SELL) -> OrderProposal:
    return OrderProposal(
        "x1", "va1", AAPL, side, quantity, OrderType.MKT, Purpose.EXIT, "exit", T0, Decimal(100)
    )


def _guard(held: int, *orders: WorkingOrder) -> ExitGuard:
    state = OrderBook(
        orders={o.id: o for o in orders},
        positions={("va1", AAPL.key): HeldPosition(AAPL, held, Decimal(100))},
    )
    return ExitGuard(cast(EngineContext, SimpleNamespace()), state, closer=_NoClose())


def test_an_exit_is_clipped_to_what_is_held_less_the_exits_already_working() -> None:
    guard = _guard(100, _working("x0", Side.SELL, Purpose.EXIT, 30))
    decision, clipped = guard.clip_reduce_only(_exit(200))
    assert decision and clipped.quantity == 70
    decision, _ = guard.clip_reduce_only(_exit(10, side=Side.BUY))  # would grow the position
    assert (decision.accepted, decision.rule) == (False, "reduce_only")


def test_an_exit_is_refused_once_its_stops_oca_group_is_reported_filled() -> None:
    stop = _working("e1.stop", Side.SELL, Purpose.STOP, 100)
    refused = _working("x0", Side.SELL, Purpose.EXIT, 100)
    guard = _guard(100, stop)
    assert guard.oca_group(refused.record) == "oca-e1.stop"
    refused.status = OrderStatus.REJECTED
    reason = f"Order rejected - reason:{OCA_ALREADY_FILLED}."
    guard.order_ended(refused, OrderStatus.REJECTED, T0, reason)
    decision, _ = guard.clip_reduce_only(_exit(50))
    assert (decision.accepted, decision.rule) == (False, "stop_filled")
    guard.order_ended(stop, OrderStatus.FILLED, T0, "")  # the stop's fill arrived: cleared
    assert guard.clip_reduce_only(_exit(50))[0]
