"""Pacing for the OrderManager: exits, cancels and modifies wait for a slot in the engine-wide
message window instead of being refused (entries are refused at the governor instead)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from actors.messages.timers import PaceDue
from actors.runtime.context import EngineContext
from core.clock import Timer

__all__ = ["PacedOutbox"]


class PacedOutbox:
    """Broker calls in the order they were asked, each sent when the pacer has a slot.

    Runs on the OrderManager's actor thread (``_wake`` on the clock's): when the window is
    full it asks the clock to tell ``address`` a ``PaceDue``, whose handler calls ``drain``."""

    def __init__(self, ctx: EngineContext, *, address: str) -> None:
        self.ctx = ctx
        self.address = address
        self._queue: deque[Callable[[], None]] = deque()
        self._drain_timer: Timer | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def send(self, call: Callable[[], None]) -> None:
        """Call now if the window has a slot and nothing is queued, else queue in order."""
        if self._queue:
            self._queue.append(call)
            return
        if self.ctx.pacer.delay_for(self.ctx.clock.now().timestamp()) == 0:
            call()
            return
        self._queue.append(call)
        self._schedule_drain()

    def drain(self) -> None:
        """Send what the window has room for now; wake again later for the rest."""
        self._drain_timer = None
        while self._queue:
            if self.ctx.pacer.delay_for(self.ctx.clock.now().timestamp()) > 0:
                self._schedule_drain()
                return
            self._queue.popleft()()

    def _schedule_drain(self) -> None:
        if self._drain_timer is not None:
            return
        delay = max(0.02, self.ctx.pacer.delay_for_peek(self.ctx.clock.now().timestamp()))
        self._drain_timer = self.ctx.clock.call_later(delay, self._wake, name="pace")

    def _wake(self) -> None:
        """Clock thread: wake the actor to drain its paced outbox."""
        self.ctx.book.tell(self.address, PaceDue(self.ctx.clock.now()))
