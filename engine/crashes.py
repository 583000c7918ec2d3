"""What the engine does when one of its actors crashes (``EngineActor`` calls
``Engine._on_crash`` on the crashed actor's thread): record it, close the gate while the
governor or the OrderManager rebuilds, pause a VA that keeps crashing, apply the crash policy
(``actors/runtime/supervision.py``), and stop the engine when the journal cannot write.

Threads: the crashed actor's thread; the engine's counters are guarded by its crash lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from typing import Protocol

from loguru import logger

from actors.messages.commands import PauseVA
from actors.messages.events import RiskNotice
from actors.runtime.base import AddressBook
from actors.runtime.supervision import CrashPolicy
from core.clock import Clock
from core.gate import GateState, TradingGate
from db.ledger import LedgerUnwritable

__all__ = ["VA_CRASH_LIMIT", "Supervised", "actor_crashed", "journal_cannot_write"]

#: A VA that crashed this many times is paused.
VA_CRASH_LIMIT = 3


class Supervised(Protocol):
    """What of the engine a crash touches (``engine.engine.Engine`` is one; a protocol, so
    that this module does not import the engine that imports it)."""

    crash_lock: threading.Lock
    crashes: Counter[str]
    crash_policy: CrashPolicy
    stopped_because: str | None
    gate: TradingGate
    book: AddressBook
    clock: Clock
    done: threading.Event

    def halt(self, reason: str = ...) -> None: ...


def actor_crashed(engine: Supervised, address: str, exc: BaseException) -> float:
    """Called on the crashed actor's thread: record it, pause a VA that keeps crashing, and
    apply the crash policy (``actors/runtime/supervision.py``). Returns the wall seconds the actor
    waits before its restart; a crash loop halts the engine once, with the reason. A journal
    that cannot write stops the engine instead (``journal_cannot_write``)."""
    if address == "journal" and isinstance(exc, LedgerUnwritable):
        return journal_cannot_write(engine, exc)
    error = f"{type(exc).__name__}: {exc}"
    with engine.crash_lock:
        engine.crashes[address] += 1
        count = engine.crashes[address]
        verdict = engine.crash_policy.record(address, time.monotonic(), error)
    if address in ("governor", "order_manager"):
        # Nothing passes while the risk or order state is being rebuilt; the governor
        # re-applies the gate for its trading state once both are back.
        engine.gate.set(GateState.CLOSED, f"{address} restarting")
    delayed = f" in {verdict.delay_s:.1f}s" if verdict.delay_s else ""
    engine.book.tell(
        "governor",
        RiskNotice(
            "actor_crash",
            f"{address} crashed ({error}); restarted from the ledger{delayed} (#{count})",
            engine.clock.now(),
            extra=(("actor", address), ("crash_count", str(count))),
        ),
    )
    if verdict.halt_reason:
        logger.error("engine: {}", verdict.halt_reason)
        engine.halt(verdict.halt_reason)
    if address.startswith("va:") and count >= VA_CRASH_LIMIT:
        va_id = address[3:]
        engine.book.tell(address, PauseVA(va_id, True, f"crashed {count} times"))
    return verdict.delay_s


def journal_cannot_write(engine: Supervised, exc: LedgerUnwritable) -> float:
    """On the journal's thread: the ledger refused a decision (its table renamed or
    altered under the engine, a read-only disk). A decision that cannot be stored is a
    decision not taken, and restarting the journal would only lose the next one too: the
    gate closes at once, the governor halts trading, and the run ends (``done``; ``main.py
    run`` stops without flattening and exits 1 with ``stopped_because``). The journal waits
    for that stop instead of restarting."""
    reason = (
        f"the journal cannot write to the ledger ({exc}): a decision that cannot be stored "
        "is not taken; trading halted and the engine stopped"
    )
    with engine.crash_lock:
        engine.crashes["journal"] += 1
        first = engine.stopped_because is None
        if first:
            engine.stopped_because = reason
    if first:
        logger.critical("engine: {}", reason)
        engine.halt(reason)
        engine.done.set()
    return math.inf  # not restarted: it waits for the stop (``EngineActor._crashed``)
