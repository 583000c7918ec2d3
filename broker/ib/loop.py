"""``LoopThread``: the one asyncio event loop every ib_async call runs on (thread ``ib-loop``).

ib_async is single-threaded: its ``IB`` object, sockets and events belong to one loop, and its
synchronous calls (``placeOrder``, ``cancelOrder``) write to that loop's transport. Other threads
reach the loop through ``call`` (run a function there and wait for its result, bounded),
``run`` (run a coroutine there, bounded, cancelled on timeout) and ``post`` (fire and forget).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from loguru import logger

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """A daemon thread running one event loop until ``stop``."""

    def __init__(self, name: str = "ib-loop") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def in_loop(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> None:
        """Start the thread (idempotent); returns once the loop runs."""
        if self.running:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:  # the ib-loop thread
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                _cancel_all(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(5.0):
            raise RuntimeError(f"{self.name} did not start")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel every task, stop the loop and join the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout_s)
            if thread.is_alive():
                logger.error("ib: {} did not stop within {:.1f}s", self.name, timeout_s)
        self._loop = None
        self._thread = None

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop soon (any thread; never waits). Dropped, with a debug
        line, when the loop is gone."""
        loop = self._loop
        if loop is None or loop.is_closed():
            logger.debug("ib: {} not running, dropped {}", self.name, getattr(fn, "__name__", fn))
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # closed between the check and the call
            logger.debug("ib: {} closed, dropped {}", self.name, getattr(fn, "__name__", fn))

    def call(self, fn: Callable[[], T], timeout_s: float) -> T:
        """Run ``fn()`` on the loop and return its result (from the loop thread: directly).

        Raises:
            TimeoutError: no result within ``timeout_s``.
            Whatever ``fn`` raises.
        """
        if self.in_loop():
            return fn()

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout_s)

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run ``coro`` on the loop and wait for it (never from the loop thread itself).

        Raises:
            TimeoutError: no result within ``timeout_s`` (the coroutine is cancelled), or the
                coroutine's own timeout; either message gives the wall seconds waited.
            RuntimeError: called on the loop thread, or the loop is not running.
            Whatever ``coro`` raises.
        """
        if self.in_loop():
            coro.close()
            raise RuntimeError("LoopThread.run would block its own loop")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        started = time.monotonic()
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError as err:
            # Since 3.11 the wait's timeout and one the coroutine raised itself (a connect
            # timeout) are the same class: only a future still pending timed out here.
            waited = time.monotonic() - started
            if future.done() and not future.cancelled() and future.exception() is err:
                reason = str(err) or "timed out"
                raise TimeoutError(f"{self.name}: {reason} after {waited:.1f}s") from err
            future.cancel()
            raise TimeoutError(f"no answer from {self.name} within {waited:.1f}s") from None


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
