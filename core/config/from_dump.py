"""An ``EngineConfig`` back from its JSON dump (``model_dump(mode="json")``, as the control
channel's welcome carries it): the dump writes money as strings, which the config refuses from
a file (TOML is typed), so they are turned back into ``Decimal`` where the model has one.

Pure; safe from any thread.
"""

from __future__ import annotations

import types
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from core.config.engine_config import EngineConfig
from core.config_errors import ConfigError, validation_problems
from core.strategies.registry import StrategySettings, settings_model, strategy_kinds

__all__ = ["config_from_dump"]


def config_from_dump(dump: dict[str, Any], *, source: str = "the engine's config") -> EngineConfig:
    """Validate ``dump`` as the configuration it was dumped from.

    Raises:
        ConfigError: it is not a valid configuration (one line per problem, each starting with
            ``source``).
    """
    try:
        return EngineConfig.model_validate(_revive_model(EngineConfig, dump))
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, source=source)) from None


def _revive_model(model: type[BaseModel], value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    revived = dict(value)
    for name, field in model.model_fields.items():
        if name in revived:
            revived[name] = _revive(field.annotation, revived[name])
    return revived


def _revive(annotation: Any, value: Any) -> Any:
    """``value`` with each string where ``annotation`` has a ``Decimal`` made a ``Decimal``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _revive(get_args(annotation)[0], value)
    if origin in (Union, types.UnionType):
        for member in get_args(annotation):
            if member is not type(None):
                value = _revive(member, value)
        return value
    if annotation is Decimal:
        if isinstance(value, str):
            try:
                return Decimal(value)
            except InvalidOperation:
                return value  # refused by the validation, with its key
        return value
    if origin is tuple and isinstance(value, list | tuple):
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return [_revive(args[0], item) for item in value]
        return [_revive(arg, item) for arg, item in zip(args, value, strict=False)]
    if origin is dict and isinstance(value, dict):
        item_type = get_args(annotation)[1]
        return {key: _revive(item_type, item) for key, item in value.items()}
    if isinstance(annotation, type) and issubclass(annotation, StrategySettings):
        kind = value.get("kind") if isinstance(value, dict) else None
        if isinstance(kind, str) and kind in strategy_kinds():
            return _revive_model(settings_model(kind), value)
        return value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _revive_model(annotation, value)
    return value
