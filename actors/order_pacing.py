"""Pacing for the OrderManager: exits, cancels and modifies wait for a slot in the engine-wide
message window instead of being refused (entries are refused at the governor instead)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from actors.messages.timers import PaceDue
from actors.runtime.base import AddressBook
from actors.runtime.context import EngineContext
from core.clock import Timer

__all__ = ["PacingMixin"]


class PacingMixin:
    """Mixed into the OrderManager; runs on its actor thread (``_pace_tick`` on the clock's)."""

    ctx: EngineContext
    book: AddressBook
    address: str

    def _init_pacing(self) -> None:
        self._outbox: deque[Callable[[], None]] = deque()
        self._drain_timer: Timer | None = None

    def _paced(self, send: Callable[[], None]) -> None:
        """Send now if the window has a slot and nothing is queued, else queue in order."""
        if self._outbox:
            self._outbox.append(send)
            return
        if self.ctx.pacer.delay_for(self.ctx.clock.now().timestamp()) == 0:
            send()
            return
        self._outbox.append(send)
        self._schedule_drain()

    def _drain(self) -> None:
        self._drain_timer = None
        while self._outbox:
            if self.ctx.pacer.delay_for(self.ctx.clock.now().timestamp()) > 0:
                self._schedule_drain()
                return
            self._outbox.popleft()()

    def _schedule_drain(self) -> None:
        if self._drain_timer is not None:
            return
        delay = max(0.02, self.ctx.pacer.delay_for_peek(self.ctx.clock.now().timestamp()))
        self._drain_timer = self.ctx.clock.call_later(delay, self._pace_tick, name="pace")

    def _pace_tick(self) -> None:
        """Clock thread: wake the actor to drain its paced outbox."""
        self.book.tell(self.address, PaceDue(self.ctx.clock.now()))
