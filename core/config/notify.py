"""``[notify]``: messages to the trader's phone or chat (``engine/notify``): which kinds, how
often at most, and the name of the environment variable that holds the service URLs. The URLs
carry tokens, so they never live in this file (pure, frozen values; see ``core.config``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field

from core.config_errors import ARRAY, invalid_value
from core.config_section import Section

__all__ = ["NOTIFY_KINDS", "NotifyKind", "NotifySettings"]

#: The kinds of message a trader can choose in ``notify.events``.
NotifyKind = Literal[
    "fill",  # entry and exit fills (an exit with its realized P&L and reason)
    "trading_state",  # halt, resume, flatten, the daily-loss breaker, reduce-only
    "connection",  # broker disconnected longer than the threshold, reconnected
    "login",  # IB login needed: the reconnect keeps failing
    "data",  # stale data, delayed quotes, market-data entitlement problems
    "reconcile",  # reconcile differences and mismatch halts
    "crash",  # an actor that crashed again
    "margin",  # margin use or excess liquidity near its limit
    "summary",  # the session's summary when the engine stops
]
NOTIFY_KINDS: tuple[str, ...] = get_args(NotifyKind)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    """Accept an environment variable's name (the URLs themselves never go in config.toml)."""
    if not _ENV_NAME.fullmatch(value):
        raise invalid_value(
            f"expected the NAME of an environment variable, e.g. ENGINE_NOTIFY_URLS "
            f"(got {len(value)} characters that are not one; service URLs carry tokens and "
            f"belong in the environment, never in config.toml)"
        )
    return value


def _kinds(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [kind for kind in value if kind not in NOTIFY_KINDS]
    if unknown:
        raise invalid_value(
            f"unknown kind {unknown[0]!r}; expected some of {', '.join(NOTIFY_KINDS)}"
        )
    return value


class NotifySettings(Section):
    """``[notify]``: outbound notifications (``engine/notify``; README "Notifications")."""

    enabled: bool = False
    # The environment variable that holds the service URLs, comma-separated (Apprise's scheme:
    # tgram://, discord://, ntfy://, json://, mailto://, ...).
    urls_env: Annotated[str, AfterValidator(_env_name)] = "ENGINE_NOTIFY_URLS"
    events: Annotated[tuple[str, ...], ARRAY, AfterValidator(_kinds)] = NOTIFY_KINDS
    # Seconds between two messages at least; what comes meanwhile is folded into the next one.
    min_interval_s: float = Field(default=5.0, ge=0, le=3_600)
    min_fill_quantity: int = Field(default=1, ge=1, le=10_000_000)  # smaller fills: no message
    # A disconnect is told once it has lasted this long (engine clock seconds).
    disconnect_after_s: float = Field(default=60.0, ge=0, le=86_400)
    # Margin use at or above this share of risk.max_margin_utilization_pct is "near the limit".
    margin_near_pct: float = Field(default=80.0, gt=0, le=100)
    # Excess liquidity below this percent of net liquidation is "near the limit".
    excess_liquidity_min_pct: float = Field(default=10.0, ge=0, le=100)
    queue_size: int = Field(default=100, ge=1, le=10_000)  # messages waiting to be sent, at most
    send_timeout_s: float = Field(default=10.0, gt=0, le=120)  # one service's answer, at most
