"""The external strategy: the VA makes no signals of its own; they arrive through the inbox
(``actors/inbox.py``) or from a test, and the VA applies its rules to them.
"""

from __future__ import annotations

from typing import Literal

from core.domain import Quote
from core.strategies.protocol import Intent, OptionSelling
from core.strategies.registry import StrategySettings, register_strategy

__all__ = ["External", "ExternalStrategy"]


class ExternalStrategy(StrategySettings):
    """``kind = "external"``: signals arrive through the external inbox."""

    kind: Literal["external"] = "external"
    note: str = ""


class External:
    """A strategy that never signals (the signals come from outside)."""

    kind = "external"

    def __init__(self, settings: ExternalStrategy) -> None:
        self.settings = settings

    def on_quote(self, quote: Quote, position: int) -> Intent | None:
        return None

    def option_selling(self) -> OptionSelling | None:
        return None


register_strategy(ExternalStrategy, External)
