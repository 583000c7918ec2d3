"""The engine's notifications over one run: the notifier subscribed to the bus from the start
(before any actor publishes), a test message on request (the dashboard's config screen, over
the control channel), and at the stop the session's summary (``db.run_summary``, the summary
``main.py run`` prints) sent before the notifier closes, within a second.

Called by the engine on the thread that starts and stops it (the main thread); ``send_test``
on the control server's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from loguru import logger

from actors.runtime.base import Bus
from core.config import EngineConfig
from db.ledger import Ledger
from db.run_summary import format_run_summary, read_run_facts
from engine.control.wire import NotifyStatus
from engine.notify.delivery import mask_url, read_urls
from engine.notify.notifier import Notifier, NotifyStats, start_notifier

__all__ = ["SessionNotifications", "notify_settings_view"]

#: Wall seconds the stop waits at most for the last messages.
CLOSE_S = 1.0


def notify_settings_view(config: EngineConfig, environ: Mapping[str, str]) -> dict[str, Any]:
    """``[notify]`` as the config screen shows it: the settings, and the URLs MASKED."""
    settings = config.notify
    view: dict[str, Any] = settings.model_dump(mode="json")
    view["urls"] = [mask_url(url) for url in read_urls(environ, settings.urls_env)]
    return view


class SessionNotifications:
    def __init__(
        self,
        config: EngineConfig,
        *,
        bus: Bus,
        ledger: Ledger,
        now: Callable[[], datetime],
        environ: Mapping[str, str],
    ) -> None:
        self._config = config
        self._bus = bus
        self._ledger = ledger
        self._now = now
        self._environ = environ
        self.notifier: Notifier | None = None
        self._unsubscribe: Callable[[], None] = lambda: None

    def start(self) -> None:
        started = start_notifier(self._config, now=self._now, environ=self._environ)
        if started is not None:
            self.notifier = started[0]
            self._unsubscribe = self._bus.subscribe(self.notifier)

    def settings_view(self) -> dict[str, Any]:
        return notify_settings_view(self._config, self._environ)

    def stats(self) -> NotifyStats | None:
        return self.notifier.stats() if self.notifier is not None else None

    def status(self, note: str = "") -> NotifyStatus:
        """The settings (URLs masked) and the counters, for the config screen. Any thread."""
        settings = self._config.notify
        stats = self.stats()
        return NotifyStatus(
            enabled=settings.enabled,
            urls_env=settings.urls_env,
            urls=tuple(mask_url(url) for url in read_urls(self._environ, settings.urls_env)),
            events=settings.events,
            min_interval_s=settings.min_interval_s,
            running=stats is not None,
            sent=stats.sent if stats else 0,
            failed=stats.failed if stats else 0,
            dropped=stats.dropped if stats else 0,
            folded=stats.folded if stats else 0,
            note=note,
        )

    def send_test(self) -> str:
        """Queue a test message; the line says what was done (never a URL)."""
        notifier = self.notifier
        if notifier is None:
            settings = self._config.notify
            if not settings.enabled:
                return "notifications are off ([notify] enabled = false)"
            return f"no service URL in the environment variable {settings.urls_env}"
        now = self._now()
        notifier.tell_now(
            f"{now.astimezone(self._config.tz):%Y-%m-%d %H:%M:%S %Z} test message from engine "
            f"{self._config.engine.instance}: notifications reach this service",
            kind="test",
        )
        return f"test message queued for {notifier.services} service(s)"

    def close(self, since: datetime | None) -> None:
        """The session's summary (when ``summary`` is chosen and the run started), then the
        notifier's stop, within ``CLOSE_S`` wall seconds."""
        notifier = self.notifier
        if notifier is None:
            return
        self._unsubscribe()
        if since is not None and "summary" in self._config.notify.events:
            try:
                report, decisions = read_run_facts(self._ledger, since=since, tz=self._config.tz)
                text = format_run_summary(
                    report, since=since.astimezone(self._config.tz), decisions=decisions
                )
                notifier.tell_now(f"Session closed.\n{text.rstrip()}", kind="summary")
            except Exception as exc:  # the stop goes on without the summary
                logger.warning("notify: no session summary ({}: {})", type(exc).__name__, exc)
        notifier.close(CLOSE_S)
        self.notifier = None
