"""``[[accounts]]``: one virtual account's capital, universe, limits and strategy (see
``core.config``). The strategy table is validated by the config model its ``kind`` names in the
strategy registry (``core.strategies.registry``), so a new strategy needs no edit here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PlainValidator, SerializeAsAny, ValidationError

from core.config_errors import (
    ARRAY,
    AccountId,
    Money,
    describe_value,
    invalid_value,
    nested_problems,
    problems_error,
)
from core.config_section import MAX_MONEY, Section
from core.strategies.registry import StrategySettings, settings_model, strategy_kinds

__all__ = ["AccountConfig", "AccountLimits"]


def _strategy_settings(value: object) -> StrategySettings:
    """``[accounts.strategy]`` validated by the registered model of its ``kind``."""
    if isinstance(value, StrategySettings):
        return value  # built in code (tests, a reload keeping the old strategy)
    if not isinstance(value, dict):
        raise invalid_value(f"expected a table (got {describe_value(value)})")
    if "kind" not in value:
        raise problems_error((("kind",), "required key missing"))
    kind, kinds = value["kind"], strategy_kinds()
    if not isinstance(kind, str) or kind not in kinds:
        choices = ", ".join(describe_value(k) for k in kinds)
        raise problems_error((("kind",), f"must be one of {choices} (got {describe_value(kind)})"))
    try:
        return settings_model(kind).model_validate(value)
    except ValidationError as exc:
        raise nested_problems(exc) from None


class AccountLimits(Section):
    """``[accounts.limits]``: one virtual account's own limits."""

    risk_per_trade_pct: float = Field(default=1.0, gt=0, le=10)  # of VA capital at the stop
    max_position_pct: float = Field(default=25.0, gt=0, le=100)  # of VA capital
    max_open_positions: int = Field(default=1, ge=1, le=100)
    max_drawdown_pct: float = Field(default=10.0, gt=0, le=100)
    cooldown_losses: int = Field(default=3, ge=1, le=100)  # consecutive losses
    cooldown_s: float = Field(default=300.0, ge=0, le=86_400)


class AccountConfig(Section):
    """``[[accounts]]``: one virtual account: capital, universe, strategy and limits."""

    id: AccountId
    capital: Money = Field(gt=0, le=MAX_MONEY)
    universe: Annotated[tuple[str, ...], ARRAY] = Field(min_length=1)
    enabled: bool = True
    strategy: Annotated[SerializeAsAny[StrategySettings], PlainValidator(_strategy_settings)]
    limits: AccountLimits = AccountLimits()
