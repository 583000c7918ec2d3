"""The open set of strategies: each strategy module registers its config model and how to build
the strategy from it, keyed by ``kind``.

A new strategy is one module under ``core/strategies/``: a config model (a ``StrategySettings``
subclass with ``kind: Literal["<kind>"] = "<kind>"``), the strategy (``core.strategies.protocol``),
and a ``register_strategy(Model, build)`` call at the bottom. The modules of this package are
imported the first time the registry is read (``discover``), so nothing else needs editing:
``core.config`` validates ``[accounts.strategy]`` by the model its ``kind`` names, and the
VirtualAccount builds its strategy with ``build_strategy``. Thread-safe (the engine validates on
its main thread, the TUI may re-parse a config on its own).
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from core.config_section import Section
from core.rules.repricing import RepricePlan
from core.rules.rolls import RollSettings
from core.strategies.protocol import Strategy

__all__ = [
    "StrategySettings",
    "build_strategy",
    "discover",
    "register_strategy",
    "settings_model",
    "strategy_kinds",
    "unregister_strategy",
]


class StrategySettings(Section):
    """Base of a strategy's config model, ``[accounts.strategy]``. A subclass declares
    ``kind: Literal["<kind>"] = "<kind>"`` and its own fields (validated as strictly as every
    config section: one problem line per mistake)."""

    kind: str

    def entry_order_type(self) -> str | None:
        """The order type of the strategy's stock entries (``LMT``/``MKT``); None for the
        engine's ``[orders] entry_type``."""
        return None

    def wheels_stock(self) -> bool:
        """True when stock the strategy is assigned is wheeled (``on_assignment = "wheel"``):
        no protective stop and no stock exit rules on it, covered calls instead."""
        return False

    def roll_settings(self) -> RollSettings | None:
        """How the strategy's short options are rolled (``core.rules.rolls``); None: never."""
        return None

    def entry_reprice_plan(self) -> RepricePlan | None:
        """How an option entry of the strategy is re-priced (the OrderManager resumes the walk
        after a restart from this); None when it sells no options."""
        return None


S = TypeVar("S", bound=StrategySettings)


@dataclass(frozen=True, slots=True)
class _Entry:
    settings: type[StrategySettings]
    build: Callable[[Any], Strategy]


_lock = threading.RLock()
_entries: dict[str, _Entry] = {}
_discovered = False


def _kind_of(settings: type[StrategySettings]) -> str:
    field = settings.model_fields.get("kind")
    kind = field.default if field is not None else None
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{settings.__qualname__} needs a default kind (kind: Literal['x'] = 'x')")
    return kind


def register_strategy(settings: type[S], build: Callable[[S], Strategy]) -> None:
    """Make ``settings.kind`` a valid ``[accounts.strategy] kind``, built by ``build``.

    Raises:
        ValueError: the model has no default ``kind``, or another model has that kind.
    """
    kind = _kind_of(settings)
    with _lock:
        known = _entries.get(kind)
        if known is not None and known.settings is not settings:
            taken = known.settings.__qualname__
            raise ValueError(f"strategy kind {kind!r} is already registered by {taken}")
        _entries[kind] = _Entry(settings, build)


def unregister_strategy(kind: str) -> None:
    """Forget ``kind`` (a strategy registered for a while, e.g. by a test); no-op if unknown."""
    with _lock:
        _entries.pop(kind, None)


def discover() -> None:
    """Import every module of ``core/strategies/`` once, so each registers its strategy."""
    global _discovered  # noqa: PLW0603 - the registry is process-wide by design
    with _lock:
        if _discovered:
            return
        _discovered = True
        for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
            importlib.import_module(f"{__package__}.{module.name}")


def strategy_kinds() -> tuple[str, ...]:
    """Every registered kind, sorted."""
    discover()
    with _lock:
        return tuple(sorted(_entries))


def settings_model(kind: str) -> type[StrategySettings]:
    """The config model of ``kind``.

    Raises:
        KeyError: no strategy of that kind is registered.
    """
    discover()
    with _lock:
        return _entries[kind].settings


def build_strategy(settings: StrategySettings) -> Strategy:
    """A new strategy (fresh state) from its validated config model.

    Raises:
        KeyError: no strategy of ``settings.kind`` is registered.
    """
    discover()
    with _lock:
        entry = _entries[settings.kind]
    return entry.build(settings)
