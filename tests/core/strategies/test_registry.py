"""The strategy registry: the modules of core/strategies are discovered and registered by kind,
each kind builds its strategy, and a kind belongs to one config model."""

from __future__ import annotations

from typing import Literal

import pytest

from core.rules.repricing import RepricePlan
from core.strategies.external import External, ExternalStrategy
from core.strategies.ma_cross import MACross, MaCrossStrategy
from core.strategies.naked_put import NakedPut, NakedPutStrategy
from core.strategies.registry import (
    StrategySettings,
    build_strategy,
    register_strategy,
    settings_model,
    strategy_kinds,
)


def test_every_module_of_the_package_is_discovered_and_registered_by_its_kind() -> None:
    assert strategy_kinds() == ("external", "ma_cross", "naked_put")
    assert settings_model("naked_put") is NakedPutStrategy
    assert settings_model("ma_cross") is MaCrossStrategy
    with pytest.raises(KeyError):
        settings_model("rsi")


def test_each_kind_builds_its_strategy_which_says_what_it_can_do() -> None:
    puts = build_strategy(NakedPutStrategy())
    assert isinstance(puts, NakedPut) and puts.option_selling() is puts
    trend = build_strategy(MaCrossStrategy(fast_bars=2, slow_bars=3, allow_short=True))
    assert isinstance(trend, MACross) and trend.option_selling() is None
    assert (trend.fast_bars, trend.slow_bars, trend.allow_short) == (2, 3, True)
    assert isinstance(build_strategy(ExternalStrategy()), External)
    assert {s.kind for s in (puts, trend)} == {"naked_put", "ma_cross"}


def test_a_strategy_built_twice_starts_cold_each_time() -> None:
    settings = NakedPutStrategy()
    assert build_strategy(settings) is not build_strategy(settings)


def test_the_config_models_say_how_entries_are_ordered_and_re_priced() -> None:
    plan = NakedPutStrategy(reprice_interval_s=7.0, reprice_steps=3).entry_reprice_plan()
    assert plan == RepricePlan(interval_s=7.0, steps=3, max_reprices=3)
    assert MaCrossStrategy().entry_reprice_plan() is None
    assert MaCrossStrategy(order_type="MKT").entry_order_type() == "MKT"
    assert ExternalStrategy().entry_order_type() is None


def test_the_naked_put_closes_assigned_stock_unless_told_to_keep_it() -> None:
    assert NakedPut(NakedPutStrategy()).closes_assigned_stock
    assert not NakedPut(NakedPutStrategy(on_assignment="keep")).closes_assigned_stock


def test_a_kind_taken_by_another_model_is_refused() -> None:
    class Impostor(StrategySettings):
        kind: Literal["naked_put"] = "naked_put"

    with pytest.raises(ValueError, match="already registered by NakedPutStrategy"):
        register_strategy(Impostor, lambda settings: NakedPut(NakedPutStrategy()))
    assert settings_model("naked_put") is NakedPutStrategy


def test_a_model_without_a_default_kind_is_refused() -> None:
    class Nameless(StrategySettings):
        pass

    with pytest.raises(ValueError, match="needs a default kind"):
        register_strategy(Nameless, lambda settings: NakedPut(NakedPutStrategy()))
