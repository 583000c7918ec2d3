"""A new strategy is one module and one config model: this test module defines a small one
(its own config model, registered with the strategy registry) and runs it through config
loading and a VirtualAccount, with no other file changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from core.config import ConfigError, parse_config
from core.domain import OrderStatus, Purpose, Quote, Side
from core.strategies.protocol import Intent, OptionSelling
from core.strategies.registry import StrategySettings, register_strategy, unregister_strategy
from tests.support.engine import BASE_TOML, start_engine


class BreakoutSettings(StrategySettings):
    """``kind = "breakout_example"``: buy once the mid crosses above ``level``."""

    kind: Literal["breakout_example"] = "breakout_example"
    level: float = Field(gt=0, le=1_000_000)


class Breakout:
    """Buys a contract whose mid crosses above the level while the VA is flat in it."""

    kind = "breakout_example"

    def __init__(self, settings: BreakoutSettings) -> None:
        self.level = settings.level
        self._last: dict[str, float] = {}

    def on_quote(self, quote: Quote, position: int) -> Intent | None:
        before = self._last.get(quote.contract.key)
        self._last[quote.contract.key] = quote.mid
        if before is not None and before <= self.level < quote.mid and position == 0:
            return Intent(Side.BUY, False, f"breakout_example above {self.level}")
        return None

    def option_selling(self) -> OptionSelling | None:
        return None


@pytest.fixture(autouse=True)
def breakout_registered() -> Iterator[None]:
    register_strategy(BreakoutSettings, Breakout)
    yield
    unregister_strategy("breakout_example")


def config_text(strategy: str) -> str:
    text = BASE_TOML.format(risk="", filters="", exits="", limits="", orders="")
    return text.replace('kind = "external"', strategy, 1)


def test_the_example_strategys_table_is_validated_by_its_own_model() -> None:
    config = parse_config(config_text('kind = "breakout_example"\nlevel = 100.5'))
    strategy = config.account("va1").strategy
    assert isinstance(strategy, BreakoutSettings) and strategy.level == 100.5
    assert config.model_dump()["accounts"][0]["strategy"] == {
        "kind": "breakout_example",
        "level": 100.5,
    }


def test_a_mistake_in_the_example_strategys_table_is_one_line_naming_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text('kind = "breakout_example"\nlevel = "high"'))
    assert caught.value.problems == [
        'config.toml: accounts[0].strategy.level: expected a number (got "high")'
    ]


def test_an_unknown_kind_lists_the_registered_example_among_the_kinds() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text('kind = "breakout"'))
    assert caught.value.problems == [
        "config.toml: accounts[0].strategy.kind: must be one of "
        '"breakout_example", "external", "ma_cross", "naked_put" (got "breakout")'
    ]


def test_a_virtual_account_runs_the_example_strategy_from_quote_to_fill(tmp_path: Path) -> None:
    config = parse_config(config_text('kind = "breakout_example"\nlevel = 101.0'))
    sim = start_engine(tmp_path, config)  # stopped by the conftest's teardown
    assert sim.snapshot("va:va1").strategy == "breakout_example"
    assert sim.ledger.orders(va_id="va1") == []
    sim.engine.broker.set_mid("AAPL", 102.0)
    sim.advance(5)  # the next market step quotes AAPL above the level
    [entry] = [o for o in sim.ledger.orders(va_id="va1") if o.purpose == Purpose.ENTRY]
    assert entry.contract.key == "AAPL" and entry.side is Side.BUY
    assert entry.status is OrderStatus.FILLED
    decision = sim.decisions()[entry.id]
    assert decision.accepted and decision.source == "breakout_example"
    assert sim.snapshot("va:va1").open_positions == 1
