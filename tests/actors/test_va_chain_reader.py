"""The VirtualAccount's ChainReader on its own (no actor): a read runs on its worker thread, is
counted in flight until its result is told, and a stopping engine starts none."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest

from actors.messages.events import ChainScanned
from actors.runtime.base import AddressBook
from actors.virtual_account.chain_reader import ChainReader
from core.clock import InFlight
from core.domain import Quote
from core.strategies.protocol import ChainRequest

REQUEST = ChainRequest("AAA", "P", date(2026, 12, 16), date(2026, 12, 31))


class Mailbox:
    """Stands for the VA's ref: keeps what it is told and handles it (un-counts it) at once."""

    def __init__(self, inflight: InFlight) -> None:
        self.inflight = inflight
        self.told: list[object] = []
        self.arrived = threading.Event()

    def tell(self, message: object) -> None:
        self.told.append(message)
        self.inflight.dec()
        self.arrived.set()


class SlowBroker:
    """``option_chain`` waits for ``go`` (bounded) and answers ``chain``, or raises ``error``."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.inside = threading.Event()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.chain: list[Quote] = []
        self.error: Exception | None = None

    def option_chain(self, symbol: str, **window: Any) -> list[Quote]:
        self.calls.append((symbol, window))
        self.inside.set()
        self.go.wait(10)
        if self.error is not None:
            raise self.error
        return self.chain


@pytest.fixture
def parts() -> Any:
    inflight = InFlight()
    book = AddressBook(inflight)
    mailbox = Mailbox(inflight)
    book.register("va:v1", mailbox)
    broker = SlowBroker()
    reader = ChainReader(broker=broker, book=book, address="va:v1", va_id="v1")
    yield book, mailbox, broker, reader
    broker.go.set()
    reader.close()


def test_a_chain_read_runs_off_the_callers_thread_and_counts_in_flight_until_told(
    parts: Any,
) -> None:
    book, mailbox, broker, reader = parts
    assert reader.read(7, REQUEST)  # returns while the broker is still reading
    assert broker.inside.wait(10)
    assert book.inflight.count == 1 and mailbox.told == []
    broker.go.set()
    assert mailbox.arrived.wait(10)
    assert book.inflight.wait_idle(10)
    assert mailbox.told == [ChainScanned("v1", 7, "AAA", ())]
    symbol, window = broker.calls[0]
    assert symbol == "AAA" and window == {
        "right": "P",
        "min_expiry": REQUEST.min_expiry,
        "max_expiry": REQUEST.max_expiry,
    }


def test_a_broker_error_comes_back_as_the_results_error(parts: Any) -> None:
    _book, mailbox, broker, reader = parts
    broker.error = RuntimeError("not connected")
    broker.go.set()
    assert reader.read(1, REQUEST)
    assert mailbox.arrived.wait(10)
    [result] = mailbox.told
    assert result.chain == () and result.error == "RuntimeError: not connected"


def test_a_stopping_engine_starts_no_chain_read(parts: Any) -> None:
    book, mailbox, broker, reader = parts
    book.closing = True
    assert not reader.read(1, REQUEST)
    assert broker.calls == [] and book.inflight.count == 0 and mailbox.told == []


def test_a_read_queued_behind_another_when_the_engine_starts_stopping_never_reaches_the_broker(
    parts: Any,
) -> None:
    book, mailbox, broker, reader = parts
    assert reader.read(1, REQUEST)
    assert broker.inside.wait(10)
    assert reader.read(2, REQUEST)  # waits for the worker
    book.closing = True
    broker.go.set()
    reader.close()  # waits for both
    assert [call[0] for call in broker.calls] == ["AAA"]
    assert [r.scan_id for r in mailbox.told] == [1]
    assert book.inflight.count == 0
