"""The engine on ``--broker ib`` against the simulated TWS when IB refuses a protective stop: IB
kills a working stop with 201 then Cancelled (the status ib_async drops), found by the periodic
fresh read of IB's orders; the stop is replaced and the position ends protected, or, when IB
refuses the replacement too (451, no status at all), the position ends closed. Never silently
unprotected. A flatten, a halt and ``cancel_all`` leave the trader's manual order at IB."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ib_async import LimitOrder, Stock
from ib_engine_support import (
    broker_order_refs,
    broker_positions,
    engine_config,
    ledger_positions,
    make_engine,
    positions_agree,
    signal,
    tws_for,
)
from ib_support import all_open_orders, other_client, wait_until
from test_ib_engine import orders_by_id, start

from broker.tws.server import TwsSimServer
from core.domain import OrderStatus, Purpose
from engine.engine import Engine

PRECAUTION = (
    "The following order value estimate exceeds the Total Value Limit of 1000 USD. "
    "Please adjust the Total Value Limit in Precautionary Settings."
)


def bought_with_a_stop(tmp_path: Path, engines: list[Engine], tws: TwsSimServer) -> Engine:
    config = engine_config(tmp_path, trading=False)
    engine = start(
        make_engine(config, tws, f"sqlite:///{tmp_path / 'ib.db'}", orders_refresh_s=0.2),
        engines,
    )
    signal(tmp_path, "in-1", "manual", "AAPL", "BUY", quantity=100)
    wait_until(lambda: ledger_positions(engine) == {"AAPL": 100}, timeout_s=10, what="bought")
    wait_until(
        lambda: orders_by_id(engine)["in-1.stop"].status is OrderStatus.SUBMITTED,
        what="the stop working",
    )
    return engine


def kill_the_stop(engine: Engine, tws: TwsSimServer) -> None:
    order_id = orders_by_id(engine)["in-1.stop"].broker_order_id
    assert order_id is not None
    assert tws.reject_working_order(order_id, reason="MARGIN (TEST)")
    wait_until(
        lambda: orders_by_id(engine)["in-1.stop"].status is OrderStatus.REJECTED,
        timeout_s=10,
        what="the killed stop ended in the ledger by the fresh read",
    )


def working_stops(engine: Engine) -> list[str]:
    return [
        o.id
        for o in engine.ledger.orders(working_only=True)
        if o.purpose == Purpose.STOP and o.status is OrderStatus.SUBMITTED
    ]


def test_a_stop_ib_kills_behind_ib_async_is_replaced_and_the_position_stays_protected(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    tws = tws_for(engine_config(tmp_path, trading=False))
    engine_servers.append(tws)
    engine = bought_with_a_stop(tmp_path, engines, tws)
    kill_the_stop(engine, tws)
    [restop] = wait_until(lambda: working_stops(engine), what="a new stop working")
    opened, _ = broker_order_refs(tws)
    assert restop in opened and "in-1.stop" not in opened
    assert orders_by_id(engine)[restop].stop_price == orders_by_id(engine)["in-1.stop"].stop_price
    positions_agree(engine, tws)
    assert ledger_positions(engine) == {"AAPL": 100}
    assert "stop_refused" in [e.kind for e in engine.ledger.risk_events()]


def test_a_replacement_stop_ib_refuses_without_status_closes_the_position(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    tws = tws_for(engine_config(tmp_path, trading=False))
    engine_servers.append(tws)
    engine = bought_with_a_stop(tmp_path, engines, tws)
    tws.reject_next_order(PRECAUTION, code=451, send_status=False)  # the replacement's fate
    kill_the_stop(engine, tws)
    wait_until(lambda: ledger_positions(engine) == {}, timeout_s=10, what="the position closed")
    wait_until(lambda: broker_positions(tws) == {}, what="closed at IB too")
    refused = [o for o in engine.ledger.orders() if o.purpose == Purpose.STOP]
    assert [o.status for o in refused] == [OrderStatus.REJECTED, OrderStatus.REJECTED]
    assert refused[1].reason == PRECAUTION
    kinds = [e.kind for e in engine.ledger.risk_events()]
    assert kinds.count("stop_refused") == 2
    assert working_stops(engine) == []


def test_a_flatten_and_halt_leave_the_traders_manual_order_at_ib(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    tws = tws_for(engine_config(tmp_path, trading=False))
    engine_servers.append(tws)
    quote = tws.last_quote("JPM")
    assert quote is not None

    async def manual(ib: Any) -> None:  # typed in TWS itself: client 0, no orderRef
        (contract,) = await ib.qualifyContractsAsync(Stock("JPM", "SMART", "USD"))
        trade = ib.placeOrder(contract, LimitOrder("BUY", 10, round(quote.bid - 10, 2)))
        while trade.orderStatus.status != "Submitted":
            await asyncio.sleep(0.02)

    other_client(tws, manual, client_id=0)
    engine = bought_with_a_stop(tmp_path, engines, tws)
    engine.flatten("test flatten")
    wait_until(lambda: ledger_positions(engine) == {}, timeout_s=10, what="flattened")
    engine.halt("test over")
    engine.broker.cancel_all()
    wait_until(lambda: working_stops(engine) == [], what="our stop cancelled")
    left = all_open_orders(tws)
    assert [(t.order.clientId, t.contract.symbol, float(t.order.totalQuantity)) for t in left] == [
        (0, "JPM", 10.0)
    ]
