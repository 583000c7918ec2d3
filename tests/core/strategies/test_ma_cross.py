"""The moving-average crossover strategy fed synthetic quotes (one quote per bar unless said)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain import Contract, Quote, Side
from core.strategies.ma_cross import MACross
from core.strategies.protocol import Intent

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 3, 11, 10, 0, tzinfo=NY)  # on a minute boundary
BAR_S = 60
AAA = Contract.stock("AAA")


def quote(mid: float, at: datetime, contract: Contract = AAA) -> Quote:
    return Quote(contract, mid - 0.01, mid + 0.01, 100, 100, mid, at)


def feed(
    strategy: MACross, mids: Sequence[float], *, position: int = 0, track: bool = False
) -> list[tuple[int, Intent]]:
    """One quote per bar, at the start of bar ``i``; returns (i, intent) for every intent.
    With ``track`` the position follows the intents (10 shares per open)."""
    intents: list[tuple[int, Intent]] = []
    for i, mid in enumerate(mids):
        intent = strategy.on_quote(quote(mid, T0 + timedelta(seconds=BAR_S * i)), position)
        if intent is None:
            continue
        intents.append((i, intent))
        if track:
            position = 0 if intent.close else 10 * intent.side.sign
    return intents


def ma(fast: int = 2, slow: int = 4, *, allow_short: bool = False) -> MACross:
    return MACross(fast_bars=fast, slow_bars=slow, bar_seconds=BAR_S, allow_short=allow_short)


FLAT = [100.0] * 6
RISE_THEN_FALL = [*FLAT, 101.0, 102.0, 103.0, 104.0, 103.0, 101.0, 99.0, 97.0, 95.0]


def test_a_rise_then_a_fall_opens_a_long_then_closes_it() -> None:
    intents = feed(ma(), RISE_THEN_FALL, track=True)
    assert [(i.side, i.close) for _, i in intents] == [(Side.BUY, False), (Side.SELL, True)]
    (buy_at, buy), (sell_at, _) = intents
    # The first rising bar (index 6) closes when the quote of bar 7 arrives.
    assert buy_at == 7
    assert buy.reason.startswith("ma_cross up")
    assert sell_at > 10  # only after the series turned down


def test_no_signal_before_slow_bars_bars_have_closed() -> None:
    # A V shape inside the first slow_bars bars would cross on partial averages.
    assert feed(ma(fast=1, slow=3), [100.0, 90.0, 110.0, 120.0]) == []
    # A drop at the third close while long: a cross only against averages of fewer bars.
    assert feed(ma(fast=1, slow=3, allow_short=True), [100.0, 100.0, 90.0, 90.0], position=10) == []


def test_the_first_signal_comes_one_bar_after_slow_bars_bars() -> None:
    # Closes 100, 100, 100 (diff 0, the first comparison), then 110 crosses up.
    intents = feed(ma(fast=1, slow=3), [100.0, 100.0, 100.0, 110.0, 110.0])
    assert [(i, intent.side, intent.close) for i, intent in intents] == [(4, Side.BUY, False)]


def test_only_the_last_quote_of_a_bar_is_its_close() -> None:
    strategy = ma(fast=1, slow=2)
    for i, mid in enumerate([100.0, 100.0]):
        assert strategy.on_quote(quote(mid, T0 + timedelta(seconds=BAR_S * i)), 0) is None
    # Bar 2 trades up to 200 and back to 100: no cross at its close.
    bar2 = T0 + timedelta(seconds=BAR_S * 2)
    assert strategy.on_quote(quote(200.0, bar2), 0) is None
    assert strategy.on_quote(quote(100.0, bar2 + timedelta(seconds=30)), 0) is None
    assert strategy.on_quote(quote(100.0, bar2 + timedelta(seconds=BAR_S)), 0) is None


def test_a_cross_down_while_flat_opens_a_short_only_when_shorts_are_allowed() -> None:
    fall = [*FLAT, 99.0, 98.0]
    assert feed(ma(allow_short=False), fall) == []
    intents = feed(ma(allow_short=True), fall)
    assert [(i, intent.side, intent.close) for i, intent in intents] == [(7, Side.SELL, False)]


def test_a_cross_up_closes_a_short() -> None:
    intents = feed(ma(allow_short=True), [*FLAT, 101.0, 102.0], position=-10)
    assert [(intent.side, intent.close) for _, intent in intents] == [(Side.BUY, True)]


def test_a_cross_down_closes_a_long_even_when_shorts_are_not_allowed() -> None:
    intents = feed(ma(allow_short=False), [*FLAT, 99.0, 98.0], position=10)
    assert [(intent.side, intent.close) for _, intent in intents] == [(Side.SELL, True)]


def test_a_cross_in_the_direction_already_held_asks_for_nothing() -> None:
    assert feed(ma(), [*FLAT, 101.0, 102.0], position=10) == []
    assert feed(ma(allow_short=True), [*FLAT, 99.0, 98.0], position=-10) == []


def test_each_contract_has_its_own_bars() -> None:
    strategy = ma(fast=1, slow=3)
    bbb = Contract.stock("BBB")
    intents = []
    for i, mid in enumerate([100.0, 100.0, 100.0, 110.0, 110.0]):
        at = T0 + timedelta(seconds=BAR_S * i)
        intents.append(strategy.on_quote(quote(mid, at), 0))
        assert strategy.on_quote(quote(50.0, at, bbb), 0) is None
    assert [i is not None for i in intents] == [False, False, False, False, True]


@pytest.mark.parametrize(("fast", "slow"), [(4, 4), (5, 4), (0, 4)])
def test_fast_bars_must_be_positive_and_below_slow_bars(fast: int, slow: int) -> None:
    with pytest.raises(ValueError, match="fast_bars must be < slow_bars"):
        ma(fast=fast, slow=slow)


def test_a_cross_of_averages_a_cent_apart_names_them_at_a_precision_that_tells_them_apart() -> None:
    # The averages 110.114 and 110.111 both read 110.11 at two decimals ("up 110.11>110.11").
    mids = [110.11] * 5 + [110.114, 110.114]
    intents = feed(ma(fast=1, slow=4), mids)
    assert [intent.reason for _, intent in intents] == ["ma_cross up 110.114>110.111"]


def test_averages_that_differ_at_two_decimals_keep_two() -> None:
    intents = feed(ma(), RISE_THEN_FALL)
    assert intents[0][1].reason == "ma_cross up 100.50>100.25"
