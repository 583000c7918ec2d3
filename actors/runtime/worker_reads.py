"""Blocking reads made off an actor's thread: a broker read takes seconds over IB, and the
actor must keep handling fills and order updates meanwhile.

``WorkerReads`` belongs to one actor. ``submit`` and ``close`` run on that actor's thread; each
read runs on the one worker thread (created at the first read, so an actor that never reads has
none), which tells the actor the message ``answer`` builds from the result or the exception. A
read counts as a message in flight until its answer is told, so a max-speed virtual clock waits
for it as it waits for any handler. A stopping engine starts no read.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from actors.runtime.base import AddressBook

__all__ = ["WorkerReads"]

R = TypeVar("R")


class WorkerReads(Generic[R]):
    """One worker thread making an actor's blocking reads; each result is told back to
    ``address`` as the message ``answer(result, error)`` returns (``error`` set, ``result``
    ``None``, when the read raised)."""

    def __init__(self, *, book: AddressBook, address: str, thread_name: str) -> None:
        self._book = book
        self._address = address
        self._thread_name = thread_name
        self._executor: ThreadPoolExecutor | None = None

    def submit(
        self,
        read: Callable[[], R],
        answer: Callable[[R | None, Exception | None], object],
    ) -> bool:
        """Start ``read`` on the worker (actor thread); False when the engine is stopping."""
        if self._book.closing:
            return False
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._thread_name)
        self._book.inflight.inc()
        try:
            self._executor.submit(self._read, read, answer)
        except RuntimeError:  # shut down: the actor is stopping
            self._book.inflight.dec()
            return False
        return True

    def _read(
        self, read: Callable[[], R], answer: Callable[[R | None, Exception | None], object]
    ) -> None:
        """Worker thread: make the read and tell its answer."""
        try:
            if self._book.closing:
                return  # stopping: no read is started
            try:
                result: R | None = read()
                error: Exception | None = None
            except Exception as exc:
                result, error = None, exc
            self._book.tell(self._address, answer(result, error))
        finally:
            self._book.inflight.dec()

    def close(self) -> None:
        """Wait for a read under way to end (actor thread, ``on_stop``); no read starts after."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
