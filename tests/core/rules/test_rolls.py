"""Rolls: when a short option is rolled (days to expiry, profit earned, the chain's roll count),
which later option it is rolled into, the combo's legs and its net-credit limit, and the
settings that ask for it (off by default, one clear line on a bad value)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.config import parse_config
from core.config_errors import ConfigError
from core.domain import Contract, Quote, Side
from core.rules.rolls import (
    RollSettings,
    roll_chain,
    roll_due,
    roll_legs,
    roll_limit,
    select_roll,
)
from core.strategies.naked_put import NakedPutStrategy

NY = ZoneInfo("America/New_York")
TODAY = date(2026, 1, 5)
AT = datetime(2026, 1, 5, 10, 0, tzinfo=NY)
HELD = Contract.option("SPY", date(2026, 1, 9), Decimal(550), "P")
ROLL = RollSettings(
    at_dte=5,
    at_profit_pct=60,
    min_credit=Decimal("0.20"),
    max_rolls=2,
    dte=30,
    max_dte=45,
    delta=0.30,
)


def put(expiry: date, strike: int, delta: float, mid: float = 1.0, right: str = "P") -> Quote:
    contract = Contract.option("SPY", expiry, Decimal(strike), right)
    return Quote(
        contract, mid - 0.05, mid + 0.05, 10, 10, mid, AT, 0.2, delta, 0.01, -0.05, 0.3, 500
    )


def due(**kw: object) -> str | None:
    args: dict[str, object] = {
        "quantity": -1,
        "credit": Decimal(2),
        "mark": Decimal("1.5"),
        "dte": 10,
        "rolls_so_far": 0,
    }
    args.update(kw)
    return roll_due(ROLL, **args)  # type: ignore[arg-type]


def test_a_short_option_is_rolled_at_roll_at_dte_or_its_profit_and_not_past_max_rolls() -> None:
    assert due() is None
    assert due(dte=5) == "time"
    assert due(mark=Decimal("0.80")) == "profit_target"  # 60 % of 2.00 earned
    assert due(mark=Decimal("0.81")) is None
    assert due(dte=5, rolls_so_far=2) is None  # the chain has had its max_rolls
    assert due(dte=5, quantity=1) is None  # a long option is never rolled


def test_rolls_are_off_unless_a_trigger_and_max_rolls_are_set() -> None:
    assert NakedPutStrategy().roll_settings() is None
    assert NakedPutStrategy(roll_at_dte=5, max_rolls=0).roll_settings() is None
    settings = NakedPutStrategy(roll_at_dte=5, roll_min_credit=Decimal("0.3")).roll_settings()
    assert settings is not None and settings.enabled and settings.bound == Decimal("-0.3")
    off = RollSettings(0, 0, Decimal(0), 3, 30, 45, 0.3)
    assert (
        roll_due(off, quantity=-1, credit=Decimal(1), mark=Decimal(0), dte=0, rolls_so_far=0)
        is None
    )


def test_bad_roll_settings_are_one_clear_line() -> None:
    with pytest.raises((ConfigError, ValueError), match="roll_max_dte"):
        NakedPutStrategy(roll_dte=40, roll_max_dte=30)
    with pytest.raises((ConfigError, ValueError), match="roll_dte"):
        NakedPutStrategy(roll_at_dte=30, roll_dte=20)
    with pytest.raises((ConfigError, ValueError), match="roll_at_profit_pct"):
        NakedPutStrategy(roll_at_profit_pct=120)


def test_the_new_option_is_later_in_the_window_and_nearest_the_roll_delta() -> None:
    near, far, too_far = date(2026, 2, 6), date(2026, 2, 13), date(2026, 4, 17)
    chain = [
        put(HELD.expiry, 545, -0.30),  # type: ignore[arg-type]  # not later
        put(near, 540, -0.20),
        put(near, 545, -0.31),
        put(far, 545, -0.30),
        put(too_far, 545, -0.30),
        put(near, 545, 0.31, right="C"),
    ]
    picked = select_roll(chain, HELD, ROLL, TODAY)
    assert not isinstance(picked, str)
    assert (picked.contract.expiry, picked.contract.strike) == (near, 545)
    assert "no P beyond 2026-01-09" in str(select_roll(chain[:1], HELD, ROLL, TODAY))


def test_the_combo_buys_the_held_option_and_sells_the_new_one_for_at_least_the_credit() -> None:
    new = Contract.option("SPY", date(2026, 2, 6), Decimal(545), "P")
    legs = roll_legs(HELD, new)
    assert [(leg.contract, leg.ratio, leg.side) for leg in legs] == [
        (HELD, 1, Side.BUY),
        (new, 1, Side.SELL),
    ]
    # Net bid -1.10 (a credit of 1.10 selling the roll) / ask -0.90: the mid is a 1.00 credit.
    assert roll_limit(ROLL, bid=Decimal("-1.10"), ask=Decimal("-0.90")) == Decimal("-1.00")
    # The walk toward the ask never asks less than the minimum credit.
    assert roll_limit(ROLL, bid=Decimal("-0.30"), ask=Decimal("0.10"), step=4) == Decimal("-0.20")
    refused = roll_limit(ROLL, bid=Decimal("-0.25"), ask=Decimal("-0.05"))
    assert isinstance(refused, str) and "credit < minimum 0.20" in refused


def test_a_chain_is_followed_back_through_rolled_from_to_its_entry() -> None:
    links = {"roll-2": "roll-1", "roll-1": "entry", "entry": None, "other": None}
    assert roll_chain("roll-2", links) == ["entry", "roll-1", "roll-2"]
    assert roll_chain("entry", links) == ["entry"]  # no roll yet: 0 rolls
    assert roll_chain("a", {"a": "b", "b": "a"}) == ["b", "a"]  # a loop ends, never hangs


def test_a_bad_roll_value_in_a_config_file_is_one_line_naming_the_key() -> None:
    shipped = (Path(__file__).resolve().parents[3] / "config.toml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse_config(shipped.replace("roll_at_dte = 0\n", "roll_at_dte = 40\n", 1), source="c.toml")
    line = str(caught.value)
    assert line.startswith("c.toml: accounts[") and "\n" not in line
    assert line.endswith(
        "].strategy.roll_dte: must be > roll_at_dte (got roll_dte = 30, roll_at_dte = 40)"
    )
