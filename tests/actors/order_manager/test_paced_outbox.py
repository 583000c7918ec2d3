"""The OrderManager's paced outbox, built without an actor: broker calls go at once while the
window has room, wait in order while it is full, and the clock wakes the actor to send them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

from actors.messages.timers import PaceDue
from actors.order_manager.pacing import PacedOutbox
from actors.runtime.context import EngineContext

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


class _Window:
    """A pacer whose room the test sets: ``delay_s`` 0 means a slot is free."""

    def __init__(self) -> None:
        self.delay_s = 0.0

    def delay_for(self, now_s: float, messages: int = 1) -> float:
        return self.delay_s

    def delay_for_peek(self, now_s: float) -> float:
        return self.delay_s


class _Clock:
    def __init__(self) -> None:
        self.wakes: list[tuple[float, Callable[[], None]]] = []

    def now(self) -> datetime:
        return NOW

    def call_later(self, delay_s: float, fn: Callable[[], None], *, name: str) -> object:
        self.wakes.append((delay_s, fn))
        return object()


def _outbox() -> tuple[PacedOutbox, _Window, _Clock, list[tuple[str, object]]]:
    window, clock, told = _Window(), _Clock(), []
    book = SimpleNamespace(tell=lambda name, message: told.append((name, message)) or True)
    ctx = cast(EngineContext, SimpleNamespace(pacer=window, clock=clock, book=book))
    return PacedOutbox(ctx, address="order_manager"), window, clock, told


def test_a_call_goes_at_once_while_the_window_has_room() -> None:
    outbox, _window, clock, _told = _outbox()
    sent: list[str] = []
    outbox.send(lambda: sent.append("cancel e1"))
    assert sent == ["cancel e1"] and len(outbox) == 0 and clock.wakes == []


def test_calls_wait_in_order_while_the_window_is_full_and_go_when_the_actor_drains() -> None:
    outbox, window, clock, told = _outbox()
    sent: list[str] = []
    window.delay_s = 0.4
    outbox.send(lambda: sent.append("a"))
    outbox.send(lambda: sent.append("b"))
    assert sent == [] and len(outbox) == 2
    assert [delay for delay, _ in clock.wakes] == [0.4]  # one wake for the whole queue
    clock.wakes[0][1]()  # the clock thread wakes the actor
    assert told == [("order_manager", PaceDue(NOW))]
    window.delay_s = 0.0
    outbox.drain()  # the actor's PaceDue handler
    assert sent == ["a", "b"] and len(outbox) == 0


def test_a_call_asked_behind_queued_ones_waits_its_turn_even_with_room() -> None:
    outbox, window, _clock, _told = _outbox()
    sent: list[str] = []
    window.delay_s = 0.1
    outbox.send(lambda: sent.append("first"))
    window.delay_s = 0.0
    outbox.send(lambda: sent.append("second"))
    assert sent == []
    outbox.drain()
    assert sent == ["first", "second"]
