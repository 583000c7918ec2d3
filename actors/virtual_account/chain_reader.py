"""Option chains read off a VirtualAccount's thread: a chain read takes seconds over IB, and the
VA must keep handling fills and order updates meanwhile.

``ChainReader`` is a part of ``VirtualAccount``. ``read`` and ``close`` run on the VA's actor
thread; the broker read runs on the reader's one worker thread (created at the first read, so a
VA that sells no options has none), which tells the result to the VA as a ``ChainScanned``. A
read counts as a message in flight until its result is told, so a max-speed virtual clock waits
for it as it waits for any handler. A stopping engine starts no read.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from loguru import logger

from actors.messages.events import ChainScanned
from actors.runtime.base import AddressBook
from broker.base import Broker
from core.strategies.protocol import ChainRequest

__all__ = ["ChainReader"]


class ChainReader:
    """One worker thread reading the chains a VA's strategy asks for."""

    def __init__(self, *, broker: Broker, book: AddressBook, address: str, va_id: str) -> None:
        self._broker = broker
        self._book = book
        self._address = address
        self._va_id = va_id
        self._executor: ThreadPoolExecutor | None = None

    def read(self, scan_id: int, request: ChainRequest) -> bool:
        """Start reading ``request`` (VA thread); False when the engine is stopping."""
        if self._book.closing:
            return False
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"{self._address}-chains")
        self._book.inflight.inc()
        try:
            self._executor.submit(self._read, scan_id, request)
        except RuntimeError:  # shut down: the VA is stopping
            self._book.inflight.dec()
            return False
        return True

    def _read(self, scan_id: int, request: ChainRequest) -> None:
        """Worker thread: read the chain and tell it to the VA."""
        try:
            if self._book.closing:
                return  # stopping: no broker read is started
            error = ""
            try:
                chain = tuple(
                    self._broker.option_chain(
                        request.symbol,
                        right=request.right,
                        min_expiry=request.min_expiry,
                        max_expiry=request.max_expiry,
                    )
                )
            except Exception as exc:
                logger.info("{}: option chain of {} failed: {}", self._address, request.symbol, exc)
                chain, error = (), f"{type(exc).__name__}: {exc}"
            result = ChainScanned(self._va_id, scan_id, request.symbol, chain, error)
            self._book.tell(self._address, result)
        finally:
            self._book.inflight.dec()

    def close(self) -> None:
        """Wait for a read under way to end (VA thread, ``on_stop``); no read starts after."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
