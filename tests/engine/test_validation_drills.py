"""The validation's drills: when the halt may be pressed, the one connection it polls IB
through, and how deep the breaker drill's gap goes."""

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
from engine.validation.drills import (
    GAP_CAP_PCT,
    ShortPut,
    acknowledged_entries,
    gap_to_trip,
    loss_at_drop,
)

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


JPM = ShortPut("JPM", Decimal("197.5"), contracts=7, multiplier=100, credit=Decimal("1.98"))
TSLA = ShortPut("TSLA", Decimal("240"), contracts=1, multiplier=100, credit=Decimal("3.10"))
MIDS = {"JPM": Decimal("205.00"), "TSLA": Decimal("260.00")}


def test_a_put_loses_its_intrinsic_value_at_the_lower_price_less_its_credit() -> None:
    # JPM 205 down 10 % is 184.50: the 197.5 put is worth 13.00, 11.02 over the credit.
    assert loss_at_drop([JPM], MIDS, 10) == Decimal("11.02") * 7 * 100
    # Out of the money after the drop: it loses nothing more than the credit given back.
    assert loss_at_drop([JPM], MIDS, 2) == Decimal("-1.98") * 7 * 100
    assert loss_at_drop([JPM], {}, 30) == 0  # no mid: nothing known, nothing counted


def test_the_gap_is_the_smallest_whole_drop_that_loses_what_is_needed() -> None:
    needed = Decimal("15000")
    drop = gap_to_trip([JPM, TSLA], MIDS, needed, least_pct=4)
    assert loss_at_drop([JPM, TSLA], MIDS, drop) >= needed
    assert loss_at_drop([JPM, TSLA], MIDS, drop - 1) < needed
    # The stop-bounded sell-off this replaces moved 4 % at a time; one such move loses nothing.
    assert loss_at_drop([JPM, TSLA], MIDS, 4) < 0


def test_the_gap_is_never_below_the_least_drop_nor_beyond_the_cap() -> None:
    assert gap_to_trip([JPM], MIDS, Decimal("-5000"), least_pct=4) == 4
    assert gap_to_trip([TSLA], MIDS, Decimal("10000000"), least_pct=4) == GAP_CAP_PCT
