"""The base of every config model (``core.config``'s sections and each strategy's own model).

A module of its own so that a strategy module (``core/strategies/*.py``) can define its config
model without importing ``core.config``, which validates accounts through the strategy registry.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

__all__ = ["MAX_MONEY", "Section"]

MAX_MONEY = Decimal(10) ** 12
"""The largest amount of money a config value may hold."""


class Section(BaseModel):
    """Base of every config model: frozen, strict (TOML is typed), no unknown keys, no NaN."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
