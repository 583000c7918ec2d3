"""Delivery through Apprise (one URL scheme for Telegram, Discord, Slack, e-mail, ntfy and
generic JSON/form webhooks), and the secrets in those URLs kept out of every log and screen.

* ``read_urls`` takes the service URLs from the environment variable ``notify.urls_env`` names
  (comma-separated); they never live in ``config.toml``, the ledger, the logs or the TUI.
* ``mask_url`` is how a URL is ever shown: its scheme and the length of the rest.
* ``SecretRedactor`` is a ``logging.Filter`` on Apprise's own logger that blanks every part of a
  configured URL in what Apprise logs (the engine routes standard logging into loguru).
* ``AppriseSender`` sends a ``Message`` to every service; a failure is logged once (then
  counted, and the recovery logged), never raised.

``AppriseSender.send`` blocks (HTTP): the notifier's worker thread calls it, nothing else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

import apprise
from loguru import logger

from engine.notify.outbox import Message

__all__ = ["AppriseSender", "SecretRedactor", "mask_url", "read_urls", "secrets_of"]

_SPLIT = re.compile(r"[/:@?&=#,;]+")
#: Parts of a URL shorter than this are not masked in Apprise's log lines (a port, "json").
_MIN_SECRET = 4


def read_urls(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """The comma-separated URLs in ``environ[name]`` (none when it is unset or blank)."""
    return tuple(part.strip() for part in environ.get(name, "").split(",") if part.strip())


def mask_url(url: str) -> str:
    """``json://**** (38 chars)``: the service's scheme, never its host, path or token."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return f"**** ({len(url)} chars)"
    return f"{scheme}://**** ({len(rest)} chars)"


def secrets_of(urls: Iterable[str]) -> tuple[str, ...]:
    """Every part of ``urls`` that could be a token (longest first, so that a token is blanked
    whole before a part of it): the URLs themselves and each piece between separators."""
    found: set[str] = set()
    for url in urls:
        found.add(url)
        rest = url.partition("://")[2] or url
        found.add(rest)
        found.update(p for p in _SPLIT.split(rest) if len(p) >= _MIN_SECRET)
    return tuple(sorted(found, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "****")
    return text


class SecretRedactor(logging.Filter):
    """Blanks the configured URLs' parts in every record of the logger it is attached to (runs
    on whichever thread logs)."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message, self.secrets), ()
        return True


class AppriseSender:
    """Sends to every URL of ``urls`` (Apprise); ``timeout_s`` bounds each connect and each
    read. Counters: ``sent``, ``failed``."""

    def __init__(self, urls: tuple[str, ...], *, timeout_s: float) -> None:
        self._apprise = apprise.Apprise()
        self.services = len(urls)
        self.refused: list[str] = []  # masked: URLs Apprise does not understand
        for url in urls:
            server = apprise.Apprise.instantiate(url, suppress_exceptions=True)
            if server is None:
                self.refused.append(mask_url(url))
                continue
            server.socket_connect_timeout = timeout_s
            server.socket_read_timeout = timeout_s
            self._apprise.add(server)
        self.sent = 0
        self.failed = 0
        self._failing = False

    def __len__(self) -> int:
        return len(self._apprise)

    def send(self, message: Message) -> bool:
        """Send ``message`` to every service: True when all took it. A failure is logged the
        first time (then only counted) and the recovery when one works again."""
        try:
            ok = bool(self._apprise.notify(body=message.body, title=message.title))
        except Exception as exc:  # a service plugin's bug must not end the worker
            ok = False
            logger.debug("notify: a service raised {}", type(exc).__name__)
        if ok:
            self.sent += 1
            if self._failing:
                logger.info("notify: delivery works again after {} failed message(s)", self.failed)
            self._failing = False
            return True
        self.failed += 1
        if not self._failing:
            logger.warning(
                "notify: a message could not be delivered to every service ({} configured); "
                "further failures are counted, not logged",
                len(self._apprise),
            )
        self._failing = True
        return False
