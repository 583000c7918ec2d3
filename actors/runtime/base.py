"""Actor plumbing shared by every engine actor: stable addresses, counted tells, the bus.

* ``AddressBook`` maps stable names (``governor``, ``order_manager``, ``position_monitor``,
  ``journal``, ``va:<id>``) to the current ``ActorRef``. Actors address each other by name, so a
  restarted actor (a new object with a new ref) is reachable at once at the same address.
* Every ``tell`` goes through ``AddressBook.tell``, which counts the message as in flight; the
  receiving ``EngineActor`` un-counts it after handling. The virtual clock in max mode advances
  only when the count is zero.
* ``Bus``: publish/subscribe for snapshots and events. Subscribers' callbacks run on the
  publisher's thread and must return at once (a dict store, a ``post_message``, a ``tell``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

import pykka
from loguru import logger

from actors.messages.commands import ConfigChanged
from actors.messages.events import Crash, QuotesReady
from actors.messages.queries import GetSnapshot, Query
from actors.messages.timers import TimerMessage
from actors.runtime.handling import HandlingLog
from core.clock import InFlight

__all__ = ["AddressBook", "Bus", "EngineActor"]

#: Messages that only start work (a VA's strategy step, a reconcile or inbox tick): dropped once
#: the engine is stopping. Fills, order events and commands are still handled.
_WAKE_UPS = (QuotesReady, TimerMessage)


class AddressBook:
    """Name -> current actor ref. Thread-safe; lookups are lock-free dict reads."""

    def __init__(self, inflight: InFlight) -> None:
        self.inflight = inflight
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()  # set by the engine's stop: actors are leaving

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    @closing.setter
    def closing(self, value: bool) -> None:
        if value:
            self._closing.set()
        else:
            self._closing.clear()

    def wait_closing(self, timeout_s: float | None) -> bool:
        """Wait up to ``timeout_s`` wall seconds (None: until it comes) for the engine's stop
        (a crash backoff is cut short by it); True when stopping."""
        return self._closing.wait(timeout_s)

    def register(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._refs[name] = ref

    def unregister(self, name: str, ref: pykka.ActorRef[Any] | None = None) -> None:
        with self._lock:
            if ref is None or self._refs.get(name) is ref:
                self._refs.pop(name, None)

    def get(self, name: str) -> pykka.ActorRef[Any] | None:
        return self._refs.get(name)

    def names(self) -> list[str]:
        return list(self._refs)

    def tell(self, name: str, message: object) -> bool:
        """Send ``message`` to the actor at ``name``; False (and logged) if nobody is there."""
        ref = self._refs.get(name)
        if ref is None:
            if not self.closing:  # while the engine stops, late broker events have no reader
                logger.warning("address book: no actor at {} for {}", name, type(message).__name__)
            return False
        self.inflight.inc()
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            self.inflight.dec()
            if not self.closing:
                logger.warning("address book: {} is dead; dropped {}", name, type(message).__name__)
            return False
        return True

    def ask(self, name: str, message: Query, *, timeout_s: float) -> Any:
        """Ask (edges only: tests, engine start/stop, UI workers). Never from a handler."""
        ref = self._refs.get(name)
        if ref is None:
            raise LookupError(f"no actor at {name}")
        return ref.ask(message, timeout=timeout_s)


class Bus:
    """Snapshots and events fanned out to subscribers (TUI bridge, headless log, tests)."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[object], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        with self._lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def publish(self, item: object) -> None:
        for callback in self._subscribers:
            try:
                callback(item)
            except Exception:
                logger.exception("bus: subscriber {} raised", callback)


#: The union of told messages an actor handles (its ``handle`` parameter).
M = TypeVar("M")


class EngineActor(pykka.ThreadingActor, Generic[M]):
    """Base for the engine's actors: counted message handling, snapshots on ``GetSnapshot``,
    per-type statistics of handled messages, and supervision in place.

    Subclasses name the union of told messages they handle (``EngineActor[OrderManagerMessage]``
    with ``accepts = typing.get_args(OrderManagerMessage)``) and implement ``handle(message)``
    as a ``match`` over it ending in ``assert_never``, so a message added to the union and not
    handled is a mypy error; a message outside the union is logged and dropped here. They also
    implement ``snapshot()`` and ``recover()``; all run on the actor's own thread.

    Supervision (pykka has none): an exception in ``handle`` does not kill the actor. It is
    logged, reported through ``on_crash`` (the engine stores it as a risk event), and the actor
    is restarted in place: ``recover()`` rebuilds its state from the ledger. The address, the
    ref and every queued message survive, so nothing sent to it is lost while it restarts.
    ``on_crash`` returns how long to wait before the restart (wall seconds, ``None`` or 0 for at
    once: an actor that keeps crashing is backed off, ``actors/supervision.py``); the wait ends
    early when the engine stops. ``math.inf``: no restart, the crash stops the engine (the actor
    waits for that stop; what it is told meanwhile waits in its mailbox).
    """

    #: Stable address of this actor in the AddressBook.
    address: str = ""
    #: The classes of the told messages ``handle`` takes (the members of ``M``).
    accepts: tuple[type, ...] = ()

    def __init__(
        self,
        *,
        book: AddressBook,
        bus: Bus,
        on_crash: Callable[[str, BaseException], float | None] | None = None,
    ) -> None:
        super().__init__()
        self.book = book
        self.bus = bus
        self._on_crash = on_crash
        self.crashes = 0
        self.handling = HandlingLog()  # per message type: counts and handling percentiles

    def engine_time(self) -> datetime | None:
        """The engine time stamped on the messages handled (actor thread; None: this actor
        keeps none). An actor with the engine's clock returns its ``now()``."""
        return None

    # pykka hook: runs on the actor thread for every told or asked message.
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Query):
            if isinstance(message, GetSnapshot):
                return self.snapshot()
            return self.answer(message)
        started = time.perf_counter()
        try:
            if self.book.closing and isinstance(message, _WAKE_UPS):
                return None  # stopping: no new work (a chain scan, a broker read) is started
            if isinstance(message, Crash):
                raise RuntimeError(f"{self.address}: {message.reason}")
            if isinstance(message, ConfigChanged):
                self.on_config_changed()
            elif isinstance(message, self.accepts):
                # ``accepts`` is ``get_args(M)``: the check above is the narrowing to ``M``.
                self.handle(cast("M", message))
            else:
                logger.warning("{}: unhandled message {}", self.address, type(message).__name__)
        except Exception as exc:
            if self.book.closing:  # e.g. the broker went away under a call: nothing to rebuild
                logger.info(
                    "{} raised on {} while stopping (ignored): {}: {}",
                    self.address,
                    type(message).__name__,
                    type(exc).__name__,
                    exc,
                )
            else:
                self._crashed(message, exc)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            name = type(message).__name__
            self.handling.record(name, elapsed_ms, self.engine_time())
            self.book.inflight.dec()
        return None

    def _crashed(self, message: object, exc: Exception) -> None:
        self.crashes += 1
        delay_s = self._on_crash(self.address, exc) if self._on_crash is not None else None
        if delay_s == math.inf:  # the engine stops because of this crash: no restart
            logger.error(
                "{} crashed on {} ({}: {}); not restarted: the engine stops",
                self.address,
                type(message).__name__,
                type(exc).__name__,
                exc,
            )
            self.book.wait_closing(None)
            return
        # A crash in a loop (backed off) repeats the traceback already logged: one line each.
        logger.opt(exception=None if delay_s else exc).error(
            "{} crashed on {} (crash #{}: {}: {}); restarting from the ledger{}",
            self.address,
            type(message).__name__,
            self.crashes,
            type(exc).__name__,
            exc,
            f" in {delay_s:.1f}s" if delay_s else "",
        )
        if delay_s and self.book.wait_closing(delay_s):
            return  # stopping: nothing to rebuild
        try:
            self.recover()
        except Exception:
            logger.exception("{}: recovery failed; the actor keeps its last state", self.address)

    def handle(self, message: M) -> None:
        """Handle a told message of this actor's union. Every engine actor overrides it with a
        ``match`` over its union; an actor that names messages in ``accepts`` without handling
        them logs and drops them, like a message outside its union."""
        logger.warning("{}: unhandled message {}", self.address, type(message).__name__)

    def answer(self, query: Query) -> Any:
        """Answer an asked query other than GetSnapshot (override)."""
        raise TypeError(f"{self.address}: unknown query {type(query).__name__}")

    def snapshot(self) -> object:
        """A frozen view of this actor's state (override)."""
        return None

    def recover(self) -> None:
        """Rebuild state from the ledger after a crash (override)."""

    def on_config_changed(self) -> None:
        """Re-read cached settings from the context's new config (override)."""

    def mailbox_depth(self) -> int:
        qsize = getattr(self.actor_inbox, "qsize", None)
        return int(qsize()) if qsize is not None else 0

    def tell(self, name: str, message: object) -> bool:
        return self.book.tell(name, message)
