"""The validation's halt drill: when it may be pressed, and the one connection it polls IB
through."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from actors.messages.snapshots import OrderSnapshot
from broker.sim import SimSymbol
from broker.tws.server import TwsSimServer
from core.domain import Contract, OrderStatus, OrderType, Purpose, Side
from engine.validation.broker_view import BrokerViewSession
from engine.validation.drills import acknowledged_entries

TZ = ZoneInfo("America/New_York")
NOW = datetime(2024, 3, 13, 10, 0, tzinfo=TZ)


def _order(order_id: str, status: OrderStatus, purpose: Purpose = Purpose.ENTRY) -> OrderSnapshot:
    return OrderSnapshot(
        order_id=order_id,
        va_id="va-1",
        contract=Contract("AAPL"),
        side=Side.BUY,
        order_type=OrderType.LMT,
        purpose=purpose,
        quantity=10,
        filled=0,
        status=status,
        limit_price=Decimal("190.00"),
        stop_price=None,
        created_at=NOW,
        updated_at=NOW,
    )


def test_the_halt_drill_waits_while_a_working_entry_is_not_yet_acknowledged_by_ib() -> None:
    orders = [_order("e-1", OrderStatus.SUBMITTED), _order("e-2", OrderStatus.PENDING_SUBMIT)]
    assert acknowledged_entries(orders) is None


def test_the_halt_drill_runs_once_every_working_entry_is_acknowledged() -> None:
    orders = [
        _order("e-1", OrderStatus.SUBMITTED),
        _order("e-2", OrderStatus.PARTIALLY_FILLED),
        _order("s-1", OrderStatus.PENDING_SUBMIT, Purpose.STOP),
        _order("e-3", OrderStatus.FILLED),
    ]
    assert acknowledged_entries(orders) == frozenset({"e-1", "e-2"})


def test_the_halt_drill_does_not_run_without_a_working_entry() -> None:
    assert acknowledged_entries([_order("s-1", OrderStatus.SUBMITTED, Purpose.STOP)]) is None


@pytest.fixture
def server() -> Iterator[TwsSimServer]:
    tws = TwsSimServer(
        "127.0.0.1",
        0,
        symbols={"AAPL": SimSymbol("AAPL", price=190.0, volatility=0.25, spread_bps=1.0)},
        seed=7,
        start=NOW,
        speed=20.0,
        tick_interval_s=1.0,
    )
    tws.start()
    yield tws
    tws.stop()


def test_a_broker_view_session_reads_working_orders_again_and_again_over_one_connection(
    server: TwsSimServer,
) -> None:
    with BrokerViewSession(server.port, 901) as view:
        assert view.working_order_refs() == frozenset()
        assert server.connected_client_ids() == [901]
        assert view.working_order_refs() == frozenset()
        assert server.connected_client_ids() == [901]
