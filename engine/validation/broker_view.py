"""What the broker says, read through a second API client (ib_async, its own event loop in the
calling thread), for the validation's final comparison and its halt drill.

A second client sees the account's positions, every client's open and completed orders
(``reqAllOpenOrders``, ``reqCompletedOrders``) and the executions TWS still lists (the current
day only at a real TWS). Orders are ours when their ``orderRef`` is a client order id of the
ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from ib_async import IB

from broker.ib.parsing.contracts import from_ib_contract

__all__ = ["BrokerView", "BrokerViewSession", "read_broker_view"]

T = TypeVar("T")
_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class BrokerView:
    """The account at the broker: positions by our contract key (non-zero only), the orderRefs
    of working and of completed orders, and execution ids with their orderRef."""

    positions: dict[str, int]
    working_refs: frozenset[str]
    completed_refs: frozenset[str]
    executions: dict[str, str]  # exec_id -> orderRef


def _with_client(port: int, client_id: int, work: Callable[[IB], Awaitable[T]]) -> T:
    async def run() -> T:
        ib = IB()
        await asyncio.wait_for(
            ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=_TIMEOUT_S),
            _TIMEOUT_S,
        )
        try:
            return await asyncio.wait_for(work(ib), _TIMEOUT_S)
        finally:
            ib.disconnect()

    return asyncio.run(run())


def read_broker_view(port: int, client_id: int) -> BrokerView:
    """Everything the comparison needs, in one connection (blocks the calling thread, bounded).

    Raises:
        TimeoutError, ConnectionError, OSError: the broker did not answer.
    """

    async def read(ib: IB) -> BrokerView:
        positions: dict[str, int] = {}
        for row in await ib.reqPositionsAsync():
            contract = from_ib_contract(row.contract)
            if contract is not None and int(row.position):
                positions[contract.key] = positions.get(contract.key, 0) + int(row.position)
        working = await ib.reqAllOpenOrdersAsync()
        completed = await ib.reqCompletedOrdersAsync(False)
        fills = await ib.reqExecutionsAsync()
        return BrokerView(
            positions={key: qty for key, qty in positions.items() if qty},
            working_refs=frozenset(t.order.orderRef for t in working if t.order.orderRef),
            completed_refs=frozenset(t.order.orderRef for t in completed if t.order.orderRef),
            executions={f.execution.execId: f.execution.orderRef for f in fills},
        )

    return _with_client(port, client_id, read)


async def _working_refs(ib: IB) -> frozenset[str]:
    trades: list[Any] = await ib.reqAllOpenOrdersAsync()
    return frozenset(t.order.orderRef for t in trades if t.order.orderRef)


class BrokerViewSession:
    """One API connection kept open for repeated reads (the halt drill polls every 20 ms).

    A context manager: entering connects (blocks, bounded by ``_TIMEOUT_S``), leaving
    disconnects. Threads: the thread that enters runs every read and the exit; the connection's
    event loop runs only inside those calls (``asyncio.Runner``), so IB's messages that arrive
    between reads wait in the socket until the next one.

    Raises (on entering and on each read):
        TimeoutError, ConnectionError, OSError: the broker did not answer.
    """

    def __init__(self, port: int, client_id: int) -> None:
        self._port = port
        self._client_id = client_id
        self._runner = asyncio.Runner()
        self._ib = IB()

    def __enter__(self) -> BrokerViewSession:
        try:
            self._runner.run(
                asyncio.wait_for(
                    self._ib.connectAsync(
                        "127.0.0.1", self._port, clientId=self._client_id, timeout=_TIMEOUT_S
                    ),
                    _TIMEOUT_S,
                )
            )
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close()

    def working_order_refs(self) -> frozenset[str]:
        """The orderRefs of every order working at the broker now (any client)."""
        return self._runner.run(asyncio.wait_for(_working_refs(self._ib), _TIMEOUT_S))

    def _close(self) -> None:
        async def disconnect() -> None:
            self._ib.disconnect()

        try:
            self._runner.run(disconnect())
        finally:
            self._runner.close()
