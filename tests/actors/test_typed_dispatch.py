"""EngineActor's typed dispatch: ``handle`` gets only the messages of the actor's union; one
outside it is logged and dropped, never handled, never a crash, and still leaves nothing in
flight."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import assert_never, get_args

import pytest
from loguru import logger

from actors.messages.queries import GetSnapshot
from actors.runtime.base import AddressBook, Bus, EngineActor
from core.clock import InFlight


@dataclass(frozen=True, slots=True)
class Ping:
    n: int


@dataclass(frozen=True, slots=True)
class Pong:
    n: int


@dataclass(frozen=True, slots=True)
class Stranger:
    n: int


EchoMessage = Ping | Pong


class Echo(EngineActor[EchoMessage]):
    address = "echo"
    accepts = get_args(EchoMessage)

    def __init__(self, book: AddressBook, bus: Bus, crashes: list[str]) -> None:
        super().__init__(book=book, bus=bus, on_crash=lambda name, exc: crashes.append(name))
        self.seen: list[object] = []

    def handle(self, message: EchoMessage) -> None:
        match message:
            case Ping():
                self.seen.append(message)
            case Pong():
                self.seen.append(message)
            case _:
                assert_never(message)

    def snapshot(self) -> object:
        return tuple(self.seen)


@pytest.fixture
def echo() -> Iterator[tuple[AddressBook, list[str], list[str]]]:
    book, crashes, warnings = AddressBook(InFlight()), [], []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")
    ref = Echo.start(book, Bus(), crashes)
    book.register(Echo.address, ref)
    try:
        yield book, crashes, warnings
    finally:
        ref.stop()
        logger.remove(sink)


def test_a_message_of_the_union_is_handled(echo: tuple[AddressBook, list[str], list[str]]) -> None:
    book, crashes, _ = echo
    book.tell("echo", Ping(1))
    book.tell("echo", Pong(2))
    assert book.ask("echo", GetSnapshot(), timeout_s=5) == (Ping(1), Pong(2))
    assert crashes == []


def test_a_message_outside_the_union_is_logged_and_dropped(
    echo: tuple[AddressBook, list[str], list[str]],
) -> None:
    book, crashes, warnings = echo
    book.tell("echo", Stranger(1))
    book.tell("echo", Ping(2))
    assert book.ask("echo", GetSnapshot(), timeout_s=5) == (Ping(2),)
    assert crashes == []
    assert any("unhandled message Stranger" in line for line in warnings)
    assert book.inflight.count == 0
