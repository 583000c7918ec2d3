"""Reconciliation work in steps, each broker read answered by an event, so the OrderManager keeps
handling fills while the broker is read (a read takes seconds over IB).

A job (a startup or reconnect pass, a reconcile tick) is a generator: where it needs the broker it
yields a ``Read`` (``yield from open_orders()``, ...) and gets the answer back as the value of the
``yield``, or the exception the read raised (``ConnectionError``, ``TimeoutError``, ...) raised
at that point. ``ReadJobs`` runs one job at a time: it hands each ``Read`` to its worker thread
(``actors/runtime/worker_reads.py``, thread ``order_manager-reads``), which tells the answer to the
OrderManager as a ``BrokerReadDone``; the OrderManager hands that back here (``on_answer``) and
the job runs on to its next read. Between two steps the OrderManager handles whatever else it is
told (fills, order updates), so a job must not keep a view of the OrderManager's state across a
``yield`` without checking it again.

``ReadJobs`` is a part of the OrderManager: every method runs on its actor thread except the
read itself (worker thread). A read counts as a message in flight until its answer is told.
On a max-speed simulator run (``EngineContext.inline_reads``) the reads are made on the actor
thread instead: there a read is a function call and the clock waits for every message anyway,
so the worker would only cost two thread hand-offs a market step.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from enum import Enum
from typing import TypeVar, assert_never, cast

from actors.messages.events import BrokerReadDone
from actors.runtime.context import EngineContext
from actors.runtime.worker_reads import WorkerReads
from broker.base import Broker
from core.events import BrokerOrderState, BrokerPosition, CompletedOrder, ExecutionEvent

__all__ = [
    "Read",
    "ReadJobs",
    "Steps",
    "completed_orders",
    "executions",
    "open_orders",
    "positions",
]

T = TypeVar("T")


class Read(Enum):
    """The broker reads a reconciliation makes."""

    OPEN_ORDERS = "open_orders"
    EXECUTIONS = "executions"
    POSITIONS = "positions"
    COMPLETED_ORDERS = "completed_orders"


#: A job, or a step of one, that yields broker reads and returns ``T``.
Steps = Generator[Read, object, T]


def open_orders() -> Steps[tuple[BrokerOrderState, ...]]:
    """The broker's open orders."""
    return cast("tuple[BrokerOrderState, ...]", (yield Read.OPEN_ORDERS))


def executions() -> Steps[tuple[ExecutionEvent, ...]]:
    """The executions the broker lists (IB: today's)."""
    return cast("tuple[ExecutionEvent, ...]", (yield Read.EXECUTIONS))


def positions() -> Steps[tuple[BrokerPosition, ...]]:
    """The broker's positions."""
    return cast("tuple[BrokerPosition, ...]", (yield Read.POSITIONS))


def completed_orders() -> Steps[tuple[CompletedOrder, ...]]:
    """The orders the broker lists as done."""
    return cast("tuple[CompletedOrder, ...]", (yield Read.COMPLETED_ORDERS))


class ReadJobs:
    """Runs the OrderManager's reconciliation jobs one at a time, their reads on a worker."""

    def __init__(self, ctx: EngineContext, *, address: str) -> None:
        self.ctx = ctx
        self._worker: WorkerReads[tuple[object, ...]] = WorkerReads(
            book=ctx.book, address=address, thread_name=f"{address}-reads"
        )
        self._job: Steps[None] | None = None
        self._on_link_error: Callable[[Exception], None] = lambda err: None
        self._read_id = 0  # the read the running job waits for

    @property
    def busy(self) -> bool:
        """Whether a job is running (waiting for a read's answer)."""
        return self._job is not None

    def start(self, job: Steps[None], *, on_link_error: Callable[[Exception], None]) -> None:
        """Run ``job`` up to its first read (or to its end). A read that raises
        ``ConnectionError`` or ``TimeoutError`` ends the job there and goes to ``on_link_error``
        (the link is gone, or the broker did not answer in time: a state, not a crash); any
        other error is raised here or from ``on_answer`` (the actor crashes and recovers)."""
        if self._job is not None:
            raise RuntimeError("a reconciliation job is already running")
        self._job, self._on_link_error = job, on_link_error
        self._step(None, None)

    def on_answer(self, answer: BrokerReadDone) -> None:
        """A read's answer: the running job takes it and runs on to its next read. An answer
        to an abandoned read is dropped."""
        if self._job is None or answer.read_id != self._read_id:
            return
        self._step(answer.result, answer.error)

    def abandon(self) -> None:
        """Drop the running job (after a crash the actor rebuilds its state: a job's view of
        the old state is worth nothing); the answer to its read is dropped when it comes."""
        job, self._job = self._job, None
        self._read_id += 1
        if job is not None:
            job.close()

    def close(self) -> None:
        """Wait for a read under way to end (``on_stop``); no read starts after."""
        self.abandon()
        self._worker.close()

    def _step(self, result: object, error: Exception | None) -> None:
        while True:
            read = self._next_read(result, error)
            if read is None:
                return
            if not self.ctx.inline_reads:
                self._submit(read)
                return
            if self.ctx.book.closing:
                self.abandon()  # the engine is stopping: the job ends here
                return
            try:  # a max-speed simulator: the read is a call, made here
                result, error = tuple(_reader(self.ctx.broker, read)()), None
            except Exception as exc:
                result, error = None, exc

    def _next_read(self, result: object, error: Exception | None) -> Read | None:
        """The running job's next read after it takes ``result`` (or ``error``); None when
        the job ended (a link error goes to ``on_link_error``)."""
        job = self._job
        assert job is not None
        try:
            return job.send(result) if error is None else job.throw(error)
        except StopIteration:
            self._job = None
        except (ConnectionError, TimeoutError) as err:
            self._job = None
            self._on_link_error(err)
        except BaseException:
            self._job = None
            raise
        return None

    def _submit(self, read: Read) -> None:
        """Make ``read`` on the worker; its answer comes back as a ``BrokerReadDone``."""
        self._read_id += 1
        read_id = self._read_id
        reader = _reader(self.ctx.broker, read)

        def read_broker() -> tuple[object, ...]:  # worker thread
            return tuple(reader())

        def answer(found: tuple[object, ...] | None, exc: Exception | None) -> BrokerReadDone:
            return BrokerReadDone(read_id, found or (), exc)

        if not self._worker.submit(read_broker, answer):
            self.abandon()  # the engine is stopping: the job ends here


def _reader(broker: Broker, read: Read) -> Callable[[], Iterable[object]]:
    """The broker call that makes ``read``."""
    match read:
        case Read.OPEN_ORDERS:
            return broker.open_orders
        case Read.EXECUTIONS:
            return broker.executions
        case Read.POSITIONS:
            return broker.positions
        case Read.COMPLETED_ORDERS:
            return broker.completed_orders
        case _:
            assert_never(read)
