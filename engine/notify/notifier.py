"""The notifier: a bus subscriber that tells the trader what matters (``engine.notify.notices``)
through the services in ``notify.urls_env`` (``engine.notify.delivery``), and is never in the
way of trading.

Threads: ``__call__`` runs on the publishing thread (an actor's, for every bus item) and only
appends to a bounded deque under a lock and sets an event: an order or a halt never waits on a
service. Everything else (turning items into notices, folding, rate limiting, sending) runs on
the notifier's own worker thread, ``notify``. The intake drops its OLDEST item when full
(counted, and said in the next message): a notifier that fell behind a storm should still tell
the latest state (the halt that ended the storm, the session's summary), not the storm's start.
A ``RiskStatus`` is not queued at all: the latest one waits in a slot (it is only read for
margin). ``close`` waits at most ``timeout_s`` (1 s) for what is queued; a service that hangs
longer is left behind on the daemon worker, which the process's exit ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from loguru import logger

from actors.messages.events import EngineEvent
from actors.messages.snapshots import RiskStatus
from core.config import EngineConfig
from engine.notify.delivery import (
    AppriseSender,
    SecretRedactor,
    mask_url,
    read_urls,
    secrets_of,
)
from engine.notify.notices import Notice, NoticeMaker
from engine.notify.outbox import Message, Outbox

__all__ = ["Notifier", "NotifyStats", "start_notifier"]

#: Wall seconds the worker sleeps at most between looks at the clock (a disconnect's length).
_LOOK_S = 0.5


@dataclass(frozen=True, slots=True)
class NotifyStats:
    """The notifier's counters (any thread may read them)."""

    services: int
    sent: int
    failed: int
    dropped: int
    folded: int


class Notifier:
    """See the module doc. ``send`` delivers one message (True: delivered), ``now`` is the
    engine clock, ``monotonic`` the wall clock the rate limit runs on."""

    def __init__(
        self,
        *,
        maker: NoticeMaker,
        outbox: Outbox,
        send: Callable[[Message], bool],
        now: Callable[[], datetime],
        kinds: tuple[str, ...],
        queue_size: int,
        services: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self._maker = maker
        self._outbox = outbox
        self._send = send
        self._now = now
        self._kinds = frozenset(kinds)
        # The EngineEvent kinds worth queueing: fills only when fills are told.
        self._queued = frozenset({"risk", *(("fill",) if "fill" in kinds else ())})
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._intake: deque[object] = deque(maxlen=queue_size)
        self._status: RiskStatus | None = None
        self._urgent: list[Notice] = []
        self._dropped = 0
        self.dropped = 0  # over the run
        self.sent = 0
        self.failed = 0
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)

    # -- any thread -----------------------------------------------------------------------------
    def __call__(self, item: object) -> None:
        """Bus callback, on the publisher's thread: queue ``item`` if it may matter."""
        if isinstance(item, RiskStatus):
            if "margin" in self._kinds:
                # Latest wins (a reference store is atomic); published after every change, so
                # it does not wake the worker, which looks every _LOOK_S anyway.
                self._status = item
            return
        if not isinstance(item, EngineEvent) or item.kind not in self._queued:
            return
        with self._lock:
            if len(self._intake) == self._intake.maxlen:
                self._dropped += 1
            self._intake.append(item)
        self._wake.set()

    def tell_now(self, text: str, *, kind: str) -> None:
        """Send ``text`` at once (past the rate limit): the test message, the session's
        summary. Any thread."""
        notice = Notice(kind, f"{kind}:{time.monotonic_ns()}", text, self._now())
        with self._lock:
            self._urgent.append(notice)
        self._wake.set()

    def stats(self) -> NotifyStats:
        return NotifyStats(
            services=self.services,
            sent=self.sent,
            failed=self.failed,
            dropped=self.dropped,
            folded=self._outbox.folded,
        )

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout_s: float = 1.0) -> bool:
        """Send what waits (the rate limit no longer applies) and stop, waiting at most
        ``timeout_s`` wall seconds; True when everything left in time."""
        self._closing.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("notify: still sending after {:.1f}s at stop; left behind", timeout_s)
            return False
        return True

    # -- the worker thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait(_LOOK_S)
            self._wake.clear()
            closing = self._closing.is_set()
            try:
                urgent = self._collect()
                if urgent or closing:
                    message = self._outbox.take()
                else:
                    message = self._outbox.due(self._monotonic())
                if message is not None:
                    self._deliver(message)
            except Exception:
                logger.exception("notify: the worker raised; it goes on")
            if closing:
                return

    def _collect(self) -> bool:
        """Turn what came in into notices in the outbox; True when one must go at once."""
        with self._lock:
            items = list(self._intake)
            self._intake.clear()
            dropped, self._dropped = self._dropped, 0
            urgent, self._urgent = self._urgent, []
        status, self._status = self._status, None
        if dropped:
            self.dropped += dropped
            self._outbox.lost(dropped)
        if status is not None:
            items.append(status)
        for item in items:
            for notice in self._maker.from_item(item):
                if notice.kind in self._kinds:
                    self._outbox.add(notice)
        for notice in self._maker.tick(self._now()):
            if notice.kind in self._kinds:
                self._outbox.add(notice)
        for notice in urgent:
            self._outbox.add(notice)
        return bool(urgent)

    def _deliver(self, message: Message) -> None:
        if self._send(message):
            self.sent += 1
        else:
            self.failed += 1


def start_notifier(
    config: EngineConfig, *, now: Callable[[], datetime], environ: Mapping[str, str]
) -> tuple[Notifier, AppriseSender] | None:
    """A started notifier for ``config.notify`` (None: disabled, or no URL in the environment
    variable, which is logged once by its name, never its value). Subscribe it to the bus."""
    settings = config.notify
    if not settings.enabled:
        return None
    urls = read_urls(environ, settings.urls_env)
    if not urls:
        logger.warning(
            "notify: enabled, but the environment variable {} holds no URL: nothing is sent",
            settings.urls_env,
        )
        return None
    _guard_apprise_log(secrets_of(urls))
    sender = AppriseSender(urls, timeout_s=settings.send_timeout_s)
    for masked in sender.refused:
        logger.warning("notify: {} in {} is no URL Apprise knows", masked, settings.urls_env)
    maker = NoticeMaker(
        tz=config.tz,
        min_fill_quantity=settings.min_fill_quantity,
        disconnect_after_s=settings.disconnect_after_s,
        max_margin_pct=config.risk.max_margin_utilization_pct,
        margin_near_pct=settings.margin_near_pct,
        excess_liquidity_min_pct=settings.excess_liquidity_min_pct,
    )
    notifier = Notifier(
        maker=maker,
        outbox=Outbox(name=config.engine.instance, min_interval_s=settings.min_interval_s),
        send=sender.send,
        now=now,
        kinds=settings.events,
        queue_size=settings.queue_size,
        services=len(sender),
    )
    notifier.start()
    logger.info(
        "notify: {} service(s) from {}: {}",
        len(sender),
        settings.urls_env,
        ", ".join(mask_url(url) for url in urls),
    )
    return notifier, sender


def _guard_apprise_log(secrets: tuple[str, ...]) -> None:
    """Apprise and the HTTP libraries under it (urllib3 logs every request's path at DEBUG) log
    through standard logging, which the engine routes into loguru: every handler of the root
    logger blanks the URLs' parts in what passes it, and Apprise's and urllib3's own debug
    lines stay out."""
    redactor = SecretRedactor(secrets)
    for log in (logging.getLogger("apprise"), *logging.getLogger().handlers):
        for old in [f for f in log.filters if isinstance(f, SecretRedactor)]:
            log.removeFilter(old)
        log.addFilter(redactor)
    logging.getLogger("apprise").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.INFO)
