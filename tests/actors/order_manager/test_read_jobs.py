"""The OrderManager's ReadJobs on its own (no actor): a job's reads run on the worker and come
back as ``BrokerReadDone`` answers the job takes up where it yielded; a link error ends the job
and goes to its handler; an answer to an abandoned read is dropped; one job at a time."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from actors.messages.events import BrokerReadDone
from actors.order_manager.read_steps import ReadJobs, Steps, executions, open_orders
from actors.runtime.base import AddressBook
from core.clock import InFlight


class Mailbox:
    """Stands for the OrderManager's ref: keeps the answers told to it."""

    def __init__(self, inflight: InFlight) -> None:
        self.inflight = inflight
        self.told: list[BrokerReadDone] = []
        self.arrived = threading.Semaphore(0)

    def tell(self, message: BrokerReadDone) -> None:
        self.told.append(message)
        self.inflight.dec()
        self.arrived.release()

    def next(self) -> BrokerReadDone:
        assert self.arrived.acquire(timeout=10), "no answer told"
        return self.told[-1]


class Broker:
    """Answers ``open_orders`` and ``executions`` with what the test sets, or raises."""

    def __init__(self) -> None:
        self.orders: list[str] = ["o1"]
        self.executions: Any = lambda: ["x1", "x2"]

    def open_orders(self) -> list[str]:
        return self.orders


def _read_jobs(*, inline_reads: bool) -> Any:
    """ReadJobs on a mailbox and a broker the test holds (``inline_reads``: as a max-speed
    simulator run has them, reads made on the caller's thread)."""
    inflight = InFlight()
    book = AddressBook(inflight)
    mailbox: Any = Mailbox(inflight)
    book.register("order_manager", mailbox)
    broker = Broker()
    ctx: Any = SimpleNamespace(book=book, broker=broker, inline_reads=inline_reads)
    jobs = ReadJobs(ctx, address="order_manager")
    yield jobs, mailbox, broker, book
    jobs.close()


@pytest.fixture
def setup() -> Any:
    yield from _read_jobs(inline_reads=False)


@pytest.fixture
def inline() -> Any:
    yield from _read_jobs(inline_reads=True)


def test_a_job_takes_each_answer_where_it_yielded_and_ends_after_its_last(setup: Any) -> None:
    jobs, mailbox, _broker, book = setup
    seen: list[object] = []

    def job() -> Steps[None]:
        seen.append((yield from open_orders()))
        seen.append((yield from executions()))

    jobs.start(job(), on_link_error=seen.append)
    assert jobs.busy
    jobs.on_answer(mailbox.next())
    assert seen == [("o1",)] and jobs.busy
    jobs.on_answer(mailbox.next())
    assert seen == [("o1",), ("x1", "x2")] and not jobs.busy
    assert book.inflight.wait_idle(10)


def test_a_read_that_finds_the_link_gone_ends_the_job_and_goes_to_its_handler(
    setup: Any,
) -> None:
    jobs, mailbox, broker, _book = setup
    gone = ConnectionError("link down")

    def fail() -> list[str]:
        raise gone

    broker.executions = fail
    errors: list[Exception] = []
    after: list[str] = []

    def job() -> Steps[None]:
        yield from executions()
        after.append("ran on")

    jobs.start(job(), on_link_error=errors.append)
    jobs.on_answer(mailbox.next())
    assert errors == [gone] and after == [] and not jobs.busy


def test_any_other_read_error_is_raised_to_the_actor(setup: Any) -> None:
    jobs, mailbox, broker, _book = setup

    def fail() -> list[str]:
        raise ValueError("garbled")

    broker.executions = fail

    def job() -> Steps[None]:
        yield from executions()

    jobs.start(job(), on_link_error=lambda err: None)
    with pytest.raises(ValueError, match="garbled"):
        jobs.on_answer(mailbox.next())
    assert not jobs.busy


def test_an_answer_to_an_abandoned_read_is_dropped(setup: Any) -> None:
    jobs, mailbox, _broker, _book = setup
    seen: list[object] = []

    def job() -> Steps[None]:
        seen.append((yield from open_orders()))

    jobs.start(job(), on_link_error=lambda err: None)
    jobs.abandon()
    stale = mailbox.next()
    jobs.start(job(), on_link_error=lambda err: None)
    jobs.on_answer(stale)  # the first job's answer
    assert seen == [] and jobs.busy
    jobs.on_answer(mailbox.next())
    assert seen == [("o1",)] and not jobs.busy


def test_a_second_job_is_refused_while_one_runs(setup: Any) -> None:
    jobs, mailbox, _broker, _book = setup

    def job() -> Steps[None]:
        yield from open_orders()

    jobs.start(job(), on_link_error=lambda err: None)
    with pytest.raises(RuntimeError):
        jobs.start(job(), on_link_error=lambda err: None)
    jobs.on_answer(mailbox.next())
    assert not jobs.busy


def test_inline_reads_run_the_whole_job_on_the_callers_thread_and_tell_nothing(
    inline: Any,
) -> None:
    jobs, mailbox, _broker, book = inline
    seen: list[object] = []

    def job() -> Steps[None]:
        seen.append((yield from open_orders()))
        seen.append((yield from executions()))
        seen.append(threading.current_thread().name)

    jobs.start(job(), on_link_error=seen.append)
    assert seen == [("o1",), ("x1", "x2"), threading.current_thread().name]
    assert not jobs.busy and mailbox.told == [], "no answer went through a mailbox"
    assert book.inflight.wait_idle(1)
    assert not [t for t in threading.enumerate() if t.name.startswith("order_manager-reads")]


def test_an_inline_read_that_finds_the_link_gone_ends_the_job_and_goes_to_its_handler(
    inline: Any,
) -> None:
    jobs, _mailbox, broker, _book = inline
    gone = ConnectionError("link down")

    def fail() -> list[str]:
        raise gone

    broker.executions = fail
    errors: list[Exception] = []
    after: list[str] = []

    def job() -> Steps[None]:
        yield from executions()
        after.append("ran on")

    jobs.start(job(), on_link_error=errors.append)
    assert errors == [gone] and after == [] and not jobs.busy


def test_an_inline_read_that_raises_anything_else_reaches_the_job_then_the_actor(
    inline: Any,
) -> None:
    jobs, _mailbox, broker, _book = inline

    def fail() -> list[str]:
        raise ValueError("garbled")

    broker.executions = fail
    caught: list[str] = []

    def job() -> Steps[None]:
        try:
            yield from executions()
        except ValueError as err:
            caught.append(str(err))
            raise

    with pytest.raises(ValueError, match="garbled"):
        jobs.start(job(), on_link_error=lambda err: None)
    assert caught == ["garbled"] and not jobs.busy


def test_a_stopping_engine_makes_no_inline_read(inline: Any) -> None:
    jobs, _mailbox, broker, book = inline
    book.closing = True
    calls: list[str] = []
    broker.open_orders = lambda: calls.append("read") or []

    def job() -> Steps[None]:
        yield from open_orders()

    jobs.start(job(), on_link_error=lambda err: None)
    assert calls == [] and not jobs.busy
