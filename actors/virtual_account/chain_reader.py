"""Option chains read off a VirtualAccount's thread: a chain read takes seconds over IB, and the
VA must keep handling fills and order updates meanwhile.

``ChainReader`` is a part of ``VirtualAccount``. ``read`` and ``close`` run on the VA's actor
thread; the broker read runs on the reader's one worker thread (``actors/runtime/worker_reads.py``,
created at the first read, so a VA that sells no options has none), which tells the result to the
VA as a ``ChainScanned``. A read counts as a message in flight until its result is told, so a
max-speed virtual clock waits for it as it waits for any handler. A stopping engine starts no read.
"""

from __future__ import annotations

from loguru import logger

from actors.messages.events import ChainScanned
from actors.runtime.base import AddressBook
from actors.runtime.worker_reads import WorkerReads
from broker.base import Broker
from core.domain import Quote
from core.strategies.protocol import ChainRequest

__all__ = ["ChainReader"]


class ChainReader:
    """One worker thread reading the chains a VA's strategy asks for."""

    def __init__(self, *, broker: Broker, book: AddressBook, address: str, va_id: str) -> None:
        self._broker = broker
        self._address = address
        self._va_id = va_id
        self._worker: WorkerReads[tuple[Quote, ...]] = WorkerReads(
            book=book, address=address, thread_name=f"{address}-chains"
        )

    def read(self, scan_id: int, request: ChainRequest) -> bool:
        """Start reading ``request`` (VA thread); False when the engine is stopping."""

        def read_chain() -> tuple[Quote, ...]:  # worker thread
            return tuple(
                self._broker.option_chain(
                    request.symbol,
                    right=request.right,
                    min_expiry=request.min_expiry,
                    max_expiry=request.max_expiry,
                )
            )

        def answer(chain: tuple[Quote, ...] | None, exc: Exception | None) -> ChainScanned:
            if exc is None:
                return ChainScanned(self._va_id, scan_id, request.symbol, chain or ())
            logger.info("{}: option chain of {} failed: {}", self._address, request.symbol, exc)
            error = f"{type(exc).__name__}: {exc}"
            return ChainScanned(self._va_id, scan_id, request.symbol, (), error)

        return self._worker.submit(read_chain, answer)

    def close(self) -> None:
        """Wait for a read under way to end (VA thread, ``on_stop``); no read starts after."""
        self._worker.close()
