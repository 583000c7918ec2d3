"""The simulated TWS with IB's official Python client (nautilus-ibapi): EClient's reader thread
decodes everything the server sends (no decode errors), contract details, market data, and a
market order that fills with its execution and commission; then positions, account updates,
executions and completed orders."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.tag_value import TagValue
from ibapi.wrapper import EWrapper

from broker.tws.server import TwsSimServer
from broker.tws.settings import DEFAULT_ACCOUNT

WAIT_S = 5.0


class Recorder(EWrapper, EClient):  # type: ignore[misc]
    """EWrapper callbacks recorded by name; ``wait(name)`` blocks (bounded) until one came."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self._lock = threading.Lock()
        self._seen: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self._events: dict[str, threading.Event] = defaultdict(threading.Event)

    def _record(self, name: str, *args: Any) -> None:
        with self._lock:
            self._seen[name].append(args)
            self._events[name].set()

    def calls(self, name: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._seen[name])

    def wait(self, name: str, timeout_s: float = WAIT_S) -> tuple[Any, ...]:
        with self._lock:
            event = self._events[name]
        assert event.wait(timeout_s), f"no {name} within {timeout_s}s"
        return self.calls(name)[-1]

    # -- callbacks (EClient's reader thread) ---------------------------------------------------
    def nextValidId(self, orderId: int) -> None:
        self._record("nextValidId", orderId)

    def managedAccounts(self, accountsList: str) -> None:
        self._record("managedAccounts", accountsList)

    def error(self, reqId: int, errorTime: int, errorCode: int, errorString: str,
              advancedOrderRejectJson: str = "") -> None:  # fmt: skip
        self._record("error", reqId, errorCode, errorString)

    def currentTime(self, time: int) -> None:
        self._record("currentTime", time)

    def contractDetails(self, reqId: int, contractDetails: Any) -> None:
        self._record("contractDetails", reqId, contractDetails)

    def contractDetailsEnd(self, reqId: int) -> None:
        self._record("contractDetailsEnd", reqId)

    def tickPrice(self, reqId: int, tickType: int, price: float, attrib: Any) -> None:
        self._record(f"tickPrice{tickType}", reqId, price)

    def openOrder(self, orderId: int, contract: Any, order: Any, orderState: Any) -> None:
        self._record("openOrder", orderId, order.orderRef, orderState.status)

    def orderStatus(self, orderId: int, status: str, filled: Decimal, *args: Any) -> None:
        self._record(f"orderStatus{status}", orderId, filled)

    def execDetails(self, reqId: int, contract: Any, execution: Any) -> None:
        self._record("execDetails", reqId, execution)

    def execDetailsEnd(self, reqId: int) -> None:
        self._record("execDetailsEnd", reqId)

    def commissionAndFeesReport(self, commissionAndFeesReport: Any) -> None:
        self._record("commission", commissionAndFeesReport)

    def position(self, account: str, contract: Any, position: Decimal, avgCost: float) -> None:
        self._record("position", account, contract.conId, position, avgCost)

    def positionEnd(self) -> None:
        self._record("positionEnd")

    def updateAccountValue(self, key: str, val: str, currency: str, accountName: str) -> None:
        self._record(f"value:{key}:{currency}", val)

    def updatePortfolio(self, contract: Any, position: Decimal, *args: Any) -> None:
        self._record("updatePortfolio", contract.conId, position)

    def accountDownloadEnd(self, accountName: str) -> None:
        self._record("accountDownloadEnd", accountName)

    def completedOrder(self, contract: Any, order: Any, orderState: Any) -> None:
        self._record("completedOrder", order.permId, order.orderRef, orderState.status)

    def completedOrdersEnd(self) -> None:
        self._record("completedOrdersEnd")

    def historicalData(self, reqId: int, bar: Any) -> None:
        self._record("historicalData", reqId, bar)

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:
        self._record("historicalDataEnd", reqId, start, end)


@pytest.fixture
def app(tws: TwsSimServer) -> Iterator[Recorder]:
    """An official client connected (clientId 11), its reader on its own thread."""
    client = Recorder()
    client.connect("127.0.0.1", tws.port, 11)
    reader = threading.Thread(target=client.run, name="ibapi-reader", daemon=True)
    reader.start()
    try:
        client.wait("nextValidId")
        yield client
    finally:
        client.disconnect()
        reader.join(WAIT_S)


def stock(symbol: str = "AAPL") -> Contract:
    contract = Contract()
    contract.symbol = symbol
    contract.secType = "STK"
    contract.exchange = "SMART"
    contract.currency = "USD"
    return contract


def test_the_official_client_connects_and_trades(
    tws: TwsSimServer, app: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    assert app.serverVersion() == 178
    assert app.wait("managedAccounts") == (DEFAULT_ACCOUNT,)
    # The farm notices follow nextValidId: wait for them (bounded) rather than race them.
    deadline = time.monotonic() + WAIT_S
    while not {2104, 2106, 2158} <= {call[1] for call in app.calls("error")}:
        assert time.monotonic() < deadline, f"no farm notices within {WAIT_S}s"
        app.wait("error", 0.05)
        time.sleep(0.01)

    before = tws.now().timestamp()
    app.reqCurrentTime()
    (epoch,) = app.wait("currentTime")
    assert before - 1 <= epoch <= tws.now().timestamp()  # whole seconds of simulated time

    app.reqContractDetails(1, stock())
    app.wait("contractDetailsEnd")
    (_, details) = app.calls("contractDetails")[0]
    assert details.contract.conId == tws.con_id("AAPL")
    assert details.minTick == 0.01

    app.reqMktData(2, stock(), "", False, False, [])
    (_, bid) = app.wait("tickPrice1")
    (_, ask) = app.wait("tickPrice2")
    assert 0 < bid < ask

    order = Order()
    order.action, order.orderType, order.totalQuantity = "BUY", "MKT", Decimal(100)
    order.orderRef = "official-1"
    order_id = app.calls("nextValidId")[-1][0]
    app.placeOrder(order_id, stock(), order)
    assert app.wait("orderStatusFilled") == (order_id, Decimal(100))
    (_, execution) = app.wait("execDetails")
    assert (execution.orderId, execution.orderRef, execution.shares) == (
        order_id,
        "official-1",
        Decimal(100),
    )
    (report,) = app.wait("commission")
    assert report.execId == execution.execId and report.commissionAndFees == 0.35

    app.reqPositions()
    app.wait("positionEnd")
    assert app.calls("position")[-1][:3] == (DEFAULT_ACCOUNT, tws.con_id("AAPL"), Decimal(100))

    app.reqAccountUpdates(True, DEFAULT_ACCOUNT)
    app.wait("accountDownloadEnd")
    assert float(app.wait("value:NetLiquidation:USD")[0]) > 0
    assert app.wait("updatePortfolio") == (tws.con_id("AAPL"), Decimal(100))

    app.reqExecutions(3, ExecutionFilter())
    app.wait("execDetailsEnd")
    assert [c[1].execId for c in app.calls("execDetails") if c[0] == 3] == [execution.execId]

    app.reqCompletedOrders(False)
    app.wait("completedOrdersEnd")
    assert app.calls("completedOrder")[-1][1:] == ("official-1", "Filled")

    assert [r.getMessage() for r in caplog.records if r.name.startswith("ibapi")] == []


def test_the_official_client_reads_historical_bars_and_an_adaptive_order_fills(
    tws: TwsSimServer, app: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    app.reqHistoricalData(4, stock(), "", "5 D", "1 hour", "TRADES", 1, 1, False, [])
    assert app.wait("historicalDataEnd")[0] == 4
    bars = [call[1] for call in app.calls("historicalData") if call[0] == 4]
    assert len(bars) >= 29  # four whole sessions of 7 hourly bars and today's first
    assert all(bar.low <= bar.close <= bar.high and bar.volume > 0 for bar in bars)

    order = Order()
    order.action, order.orderType, order.totalQuantity = "SELL", "MKT", Decimal(10)
    order.algoStrategy = "Adaptive"
    order.algoParams = [TagValue("adaptivePriority", "Normal")]
    order.orderRef = "official-adaptive"
    order_id = app.calls("nextValidId")[-1][0]
    app.placeOrder(order_id, stock(), order)
    assert app.wait("orderStatusFilled") == (order_id, Decimal(10))
    assert [r.getMessage() for r in caplog.records if r.name.startswith("ibapi")] == []
