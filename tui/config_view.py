"""Pure formatting for the config screen: the effective config as ``key = value`` lines with
secrets masked, and the outcome of a reload.

No Textual import and no state; tested without an app.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich.text import Text

__all__ = [
    "MASK",
    "NOT_SECRET_KEYS",
    "SECRET_WORDS",
    "config_lines",
    "flatten_config",
    "is_secret",
    "masked",
    "reload_problems_text",
    "reload_result_text",
]

#: A setting whose last key part contains one of these is shown masked.
SECRET_WORDS = ("password", "passwd", "secret", "token", "key")
#: Last key parts that contain a secret word but are known not to be secret.
NOT_SECRET_KEYS: frozenset[str] = frozenset()
#: What a masked value reads as.
MASK = "********"

# user:password@ in a URL (a postgresql:// database_url may carry one).
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]+@", re.IGNORECASE)


def _parts(value: Any, prefix: str, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _parts(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in value):
            out.append((prefix, list(value)))
            return
        for index, item in enumerate(value):
            name = item.get("id", index) if isinstance(item, Mapping) else index
            _parts(item, f"{prefix}[{name}]", out)
    else:
        out.append((prefix, value))


def flatten_config(dump: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``{"risk": {"max_trades_per_day": 10}}`` -> ``[("risk.max_trades_per_day", 10)]``.

    Lists of scalars stay one value; a list of tables is named by each table's ``id``
    (``accounts[trend-tech].capital``), as the reload diff names it, else by index.
    """
    out: list[tuple[str, Any]] = []
    _parts(dump, "", out)
    return out


def is_secret(key: str) -> bool:
    """True when the setting ``key`` (a dotted path) may hold a secret."""
    last = key.rsplit(".", 1)[-1].lower()
    if last in NOT_SECRET_KEYS:
        return False
    return any(word in last for word in SECRET_WORDS)


def _as_text(value: Any) -> str:
    """``json.dumps``'s fallback: other values (times, paths) as their text."""
    return str(value)


def masked(key: str, value: Any) -> str:
    """``value`` as shown on screen: JSON-like (an amount of money, a ``Decimal``, as the
    number it is: ``1000000``, never ``"1000000"``), a secret as ``MASK``, and a password
    inside a URL replaced by ``MASK``."""
    if is_secret(key) and value not in ("", None):
        return MASK
    if isinstance(value, Decimal):
        return format(value, "f")
    text = "(none)" if value is None else json.dumps(value, default=_as_text)
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)


def config_lines(dump: Mapping[str, Any]) -> list[str]:
    """Every setting of ``dump`` (``model_dump()``: Python values, so money is a ``Decimal``
    and shown as a number) as ``key = value``, in file order."""
    return [f"{key} = {masked(key, value)}" for key, value in flatten_config(dump)]


def _section(text: Text, title: str, lines: Iterable[str], style: str) -> None:
    text.append(f"\n\n{title}", style="bold")
    for line in lines:
        text.append(f"\n  {line}", style=style)


def reload_result_text(path: str, applied: Sequence[str], refused: Sequence[str]) -> Text:
    """A valid file was reloaded: what changed live and what waits for a restart."""
    if applied:
        head = Text(f"{path}: {len(applied)} change(s) applied live", style="bold green")
    else:
        head = Text(f"{path}: valid; nothing applied", style="bold")
    if not applied and not refused:
        head.append("\nThe file matches the running configuration.")
    if applied:
        _section(head, "Applied (stored as a risk event):", applied, "green")
    if refused:
        _section(head, "Refused (take a restart):", refused, "yellow")
    return head


def reload_problems_text(path: str, problems: Sequence[str]) -> Text:
    """The file is invalid: nothing was applied; one line per problem."""
    text = Text(f"{path}: invalid; nothing was applied", style="bold red")
    _section(text, f"{len(problems)} problem(s):", problems, "red")
    return text
