"""A plain moving-average crossover on time bars built from quote mids.

Pure: fed quotes, returns intents. A fast SMA crossing above the slow SMA asks to go long (or
to close a short); crossing below asks to close a long (or to go short when allowed). Its config
model is ``MaCrossStrategy`` (``[accounts.strategy] kind = "ma_cross"``), registered below.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from core.config_errors import problems_error
from core.domain import Quote, Side
from core.numbers_text import distinct_pair
from core.strategies.protocol import Intent, OptionSelling
from core.strategies.registry import StrategySettings, register_strategy

__all__ = ["MACross", "MaCrossStrategy"]


class MaCrossStrategy(StrategySettings):
    """``kind = "ma_cross"``: moving-average crossover on time bars built from quotes."""

    kind: Literal["ma_cross"] = "ma_cross"
    fast_bars: int = Field(default=5, ge=1, le=1000)
    slow_bars: int = Field(default=20, ge=2, le=1000)
    bar_seconds: int = Field(default=60, ge=5, le=3600)
    order_type: Literal["LMT", "MKT"] = "LMT"
    allow_short: bool = False

    @model_validator(mode="after")
    def _check_periods(self) -> MaCrossStrategy:
        if self.fast_bars >= self.slow_bars:
            got = f"fast_bars = {self.fast_bars}, slow_bars = {self.slow_bars}"
            raise problems_error((("fast_bars",), f"must be < slow_bars (got {got})"))
        return self

    def entry_order_type(self) -> str:
        return self.order_type


class MACross:
    """The crossover state per contract; one per VA (owned by its actor thread)."""

    kind = "ma_cross"

    @classmethod
    def from_settings(cls, settings: MaCrossStrategy) -> MACross:
        return cls(
            fast_bars=settings.fast_bars,
            slow_bars=settings.slow_bars,
            bar_seconds=settings.bar_seconds,
            allow_short=settings.allow_short,
        )

    def __init__(
        self, *, fast_bars: int, slow_bars: int, bar_seconds: int, allow_short: bool
    ) -> None:
        if not 0 < fast_bars < slow_bars:
            raise ValueError(f"fast_bars must be < slow_bars (got {fast_bars}, {slow_bars})")
        self.fast_bars = fast_bars
        self.slow_bars = slow_bars
        self.bar_seconds = bar_seconds
        self.allow_short = allow_short
        self._closes: dict[str, deque[float]] = {}
        self._bar: dict[str, tuple[int, float]] = {}  # key -> (bar index, last mid)
        self._prev_diff: dict[str, float] = {}

    def _bar_index(self, when: datetime) -> int:
        return int(when.timestamp()) // self.bar_seconds

    def on_quote(self, quote: Quote, position: int) -> Intent | None:
        """Feed one quote; ``position`` is the VA's signed quantity in this contract."""
        key = quote.contract.key
        index = self._bar_index(quote.time)
        current = self._bar.get(key)
        self._bar[key] = (index, quote.mid)
        if current is None or current[0] == index:
            return None
        # The previous bar just closed at its last mid.
        closes = self._closes.setdefault(key, deque(maxlen=self.slow_bars))
        closes.append(current[1])
        if len(closes) < self.slow_bars:
            return None
        fast = sum(list(closes)[-self.fast_bars :]) / self.fast_bars
        slow = sum(closes) / self.slow_bars
        diff = fast - slow
        prev = self._prev_diff.get(key)
        self._prev_diff[key] = diff
        if prev is None:
            return None
        if prev <= 0 < diff:
            if position < 0:
                return Intent(Side.BUY, True, "ma_cross up: close short")
            if position == 0:
                up_fast, up_slow = distinct_pair(fast, slow)
                return Intent(Side.BUY, False, f"ma_cross up {up_fast}>{up_slow}")
        elif prev >= 0 > diff:
            if position > 0:
                return Intent(Side.SELL, True, "ma_cross down: close long")
            if position == 0 and self.allow_short:
                down_fast, down_slow = distinct_pair(fast, slow)
                return Intent(Side.SELL, False, f"ma_cross down {down_fast}<{down_slow}")
        return None

    def option_selling(self) -> OptionSelling | None:
        return None


register_strategy(MaCrossStrategy, MACross.from_settings)
