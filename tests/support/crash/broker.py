"""The broker as the harness reads it: a separate ib_async client id, connect, read,
disconnect (stateless; on the harness's thread, one ``asyncio.run`` per read)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.support.crash.options import BROKER_TIMEOUT_S, CHECKER_CLIENT_ID

_WORKING_AT_IB = ("PendingSubmit", "ApiPending", "PreSubmitted", "Submitted")


@dataclass(frozen=True)
class BrokerExec:
    exec_id: str
    order_ref: str
    perm_id: int
    side: str  # BUY / SELL
    shares: int
    price: Decimal
    key: str  # contract key as the engine spells it
    time: datetime  # UTC, the broker's clock


@dataclass(frozen=True)
class BrokerOrder:
    perm_id: int
    order_ref: str
    client_id: int
    status: str
    action: str
    order_type: str
    total: int
    filled: int
    key: str

    @property
    def working(self) -> bool:
        return self.status in _WORKING_AT_IB

    @property
    def remaining(self) -> int:
        return max(self.total - self.filled, 0)


@dataclass
class BrokerSnapshot:
    executions: list[BrokerExec]  # broker order (the second read)
    positions: dict[str, int]  # contract key -> quantity (non-zero)
    orders: dict[int, BrokerOrder]  # permId -> order (open ones win over completed)
    stable: bool  # the executions did not change while the positions and orders were read
    time: datetime | None = None  # the broker's clock after the reads (UTC)


def _contract_key(contract: Any) -> str:
    if contract.secType == "STK":
        return str(contract.symbol)
    if contract.secType == "BAG":  # a combo order (its fills are its legs')
        return f"{contract.symbol} BAG"
    right = {"P": "P", "PUT": "P", "C": "C", "CALL": "C"}.get(str(contract.right).upper(), "?")
    strike = Decimal(repr(float(contract.strike)))
    text = format(
        strike.quantize(Decimal(1)) if strike == strike.to_integral_value() else strike.normalize(),
        "f",
    )
    return f"{contract.symbol} {contract.lastTradeDateOrContractMonth[:8]} {right} {text}"


def _whole(value: Any) -> int:
    number = float(value or 0)
    return 0 if number >= 1e300 else round(number)


class BrokerReader:
    """Reads the broker with its own client id (connect, read, disconnect: stateless)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._client_id = CHECKER_CLIENT_ID

    def snapshot(self, *, completed: bool = True) -> BrokerSnapshot:
        """Executions, positions, open orders and (``completed``) the completed orders.

        Raises:
            ConnectionError | TimeoutError | OSError: the broker cannot be read.
        """
        for attempt in range(3):
            try:
                return asyncio.run(asyncio.wait_for(self._read(completed), BROKER_TIMEOUT_S * 2))
            except (ConnectionError, OSError, TimeoutError):
                if attempt == 2:
                    raise
                self._client_id += 1  # e.g. 326: the previous session is not closed yet
                time.sleep(0.2)
        raise AssertionError("unreachable")

    async def _read(self, with_completed: bool) -> BrokerSnapshot:
        from ib_async import IB
        from ib_async.ib import StartupFetchNONE

        ib = IB()
        ib.RaiseRequestErrors = True
        await ib.connectAsync(
            "127.0.0.1",
            self.port,
            clientId=self._client_id,
            timeout=BROKER_TIMEOUT_S,
            readonly=True,
            fetchFields=StartupFetchNONE,
        )
        try:
            first = await ib.reqExecutionsAsync()
            positions = await ib.reqPositionsAsync()
            completed = await ib.reqCompletedOrdersAsync(False) if with_completed else []
            open_trades = await ib.reqAllOpenOrdersAsync()
            second = await ib.reqExecutionsAsync()
            now = await ib.reqCurrentTimeAsync()  # after the executions: their day or later
        finally:
            ib.disconnect()
        orders: dict[int, BrokerOrder] = {}
        for trade in [*completed, *open_trades]:  # open ones win
            order, status = trade.order, trade.orderStatus
            filled = _whole(status.filled) or _whole(order.filledQuantity)
            orders[order.permId] = BrokerOrder(
                perm_id=order.permId,
                order_ref=order.orderRef or "",
                client_id=order.clientId,
                status=status.status,
                action=order.action,
                order_type=order.orderType,
                total=_whole(order.totalQuantity),
                filled=filled,
                key=_contract_key(trade.contract),
            )
        executions = [
            BrokerExec(
                exec_id=f.execution.execId,
                order_ref=f.execution.orderRef or "",
                perm_id=f.execution.permId,
                side="BUY" if f.execution.side in ("BOT", "BUY") else "SELL",
                shares=_whole(f.execution.shares),
                price=Decimal(repr(f.execution.price)),
                key=_contract_key(f.contract),
                time=f.execution.time.astimezone(UTC),
            )
            for f in second
            if f.contract.secType != "BAG"  # a combo's own execution: its legs carry the fill
        ]
        held: dict[str, int] = defaultdict(int)
        for p in positions:
            held[_contract_key(p.contract)] += _whole(p.position)
        return BrokerSnapshot(
            executions=executions,
            positions={k: q for k, q in held.items() if q},
            orders=orders,
            stable={f.execution.execId for f in first} == {e.exec_id for e in executions},
            time=now.astimezone(UTC),
        )
