"""The wheel's covered call: the call nearest the target delta in the first expiration in the
window, with enough credit and a strike at or above the stock's cost (unless allowed below);
one call a lot; puts sized so that an assignment is paid for by the VA's capital."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.config_errors import ConfigError
from core.domain import Contract, Quote, Side
from core.rules.wheel import cycle_premium_per_share
from core.strategies.naked_put import NakedPut, NakedPutStrategy
from core.strategies.wheel import cash_secured_contracts, covered_contracts, select_call

NY = ZoneInfo("America/New_York")
TODAY = date(2026, 1, 5)
AT = datetime(2026, 1, 5, 10, 0, tzinfo=NY)
NEAR = date(2026, 2, 6)  # 32 days
FAR = date(2026, 2, 13)  # 39 days


def call(expiry: date, strike: int, delta: float, mid: float = 1.0) -> Quote:
    contract = Contract.option("SPY", expiry, Decimal(strike), "C")
    return Quote(
        contract, mid - 0.05, mid + 0.05, 10, 10, mid, AT, 0.2, delta, 0.01, -0.05, 0.3, 500
    )


def pick(chain: list[Quote], *, min_strike: Decimal | None = Decimal(560)) -> Quote | str:
    return select_call(
        chain,
        today=TODAY,
        target_delta=0.30,
        target_dte=30,
        max_dte=45,
        min_credit=Decimal("0.20"),
        min_strike=min_strike,
    )


def test_the_call_nearest_the_target_delta_at_or_above_the_cost_in_the_first_expiration() -> None:
    chain = [
        call(NEAR, 555, 0.31),  # nearest the delta, but below the cost of 560
        call(NEAR, 565, 0.36),
        call(NEAR, 575, 0.24),
        call(FAR, 570, 0.30),
        Quote(Contract.option("SPY", NEAR, Decimal(570), "P"), 1, 1.1, 1, 1, 1, AT, delta=-0.3),
    ]
    picked = pick(chain)
    assert isinstance(picked, Quote)
    assert picked.contract.key == "SPY 20260206 C 575"


def test_a_strike_below_the_cost_is_chosen_only_when_allowed() -> None:
    chain = [call(NEAR, 540, 0.30), call(NEAR, 550, 0.25)]
    assert pick(chain) == "no call with credit >= 0.20 and strike >= basis 560.00"
    picked = pick(chain, min_strike=None)
    assert isinstance(picked, Quote) and picked.contract.strike == 540


def test_a_call_below_the_minimum_credit_is_not_written() -> None:
    assert str(pick([call(NEAR, 600, 0.05, mid=0.10)])).startswith("no call with credit >= 0.20")
    assert pick([call(date(2026, 3, 30), 600, 0.3)]) == "no call expiration 30-45 DTE"


def test_one_call_a_whole_lot_less_the_calls_already_written() -> None:
    assert covered_contracts(350, 0, 100) == 3
    assert covered_contracts(350, 2, 100) == 1
    assert covered_contracts(99, 0, 100) == 0
    assert covered_contracts(300, 4, 100) == 0


def test_a_wheel_sells_only_the_puts_whose_assignment_its_capital_pays_for() -> None:
    assert (
        cash_secured_contracts(
            capital=Decimal(100_000),
            equity=Decimal(120_000),
            strike=Decimal("97.5"),
            multiplier=100,
        )
        == 10
    )
    assert (
        cash_secured_contracts(
            capital=Decimal(100_000), equity=Decimal(50_000), strike=Decimal("97.5"), multiplier=100
        )
        == 5
    )
    spot_chain = [
        Quote(
            Contract.option("SPY", NEAR, Decimal(500), "P"),
            2.0,
            2.1,
            10,
            10,
            2.05,
            AT,
            0.2,
            -0.3,
            0.01,
            -0.05,
            0.3,
            1000,
        )
    ]
    wheel = NakedPut(NakedPutStrategy(on_assignment="wheel", max_margin_pct=100))
    plain = NakedPut(NakedPutStrategy(max_margin_pct=100))
    kwargs = {"spot": Decimal(520), "today": TODAY, "capital": Decimal(120_000)}
    wheeled = wheel.choose(spot_chain, equity=Decimal(120_000), **kwargs)  # type: ignore[arg-type]
    naked = plain.choose(spot_chain, equity=Decimal(120_000), **kwargs)  # type: ignore[arg-type]
    assert not isinstance(wheeled, str) and not isinstance(naked, str)
    assert (wheeled.contracts, naked.contracts) == (2, 10)  # 2 x 50,000 fits 120,000
    assert wheel.choose(spot_chain, equity=Decimal(40_000), **kwargs) == (  # type: ignore[arg-type]
        "wheel: assignment 50000.00 a contract exceeds capital"
    )


def test_the_strategy_writes_one_call_a_lot_on_the_stock_it_holds() -> None:
    wheel = NakedPut(NakedPutStrategy(on_assignment="wheel"))
    chain = [call(NEAR, 565, 0.30, mid=1.234)]
    choice = wheel.choose_call(chain, today=TODAY, shares=300, written=1, basis=Decimal(560))
    assert not isinstance(choice, str)
    assert (choice.contracts, choice.credit, choice.margin_per_contract) == (
        2,
        Decimal("1.24"),
        0,
    )
    request = wheel.call_request("SPY", TODAY)
    assert (request.right, request.min_expiry, request.max_expiry) == (
        "C",
        date(2026, 2, 4),
        date(2026, 2, 19),
    )
    assert wheel.wheels_stock and not wheel.closes_assigned_stock
    assert NakedPutStrategy(on_assignment="wheel").wheels_stock()
    assert not NakedPutStrategy(on_assignment="keep").wheels_stock()


def test_a_call_window_that_ends_before_it_starts_is_one_clear_problem() -> None:
    with pytest.raises((ConfigError, ValueError), match="call_max_dte"):
        NakedPutStrategy(on_assignment="wheel", call_target_dte=30, call_max_dte=10)


def test_net_of_premium_lowers_the_strike_floor_by_the_premium_collected_a_share() -> None:
    chain = [call(NEAR, 555, 0.30), call(NEAR, 565, 0.20)]
    by_price = NakedPut(NakedPutStrategy(on_assignment="wheel"))
    net = NakedPut(NakedPutStrategy(on_assignment="wheel", call_basis="net_of_premium"))
    kwargs = {"today": TODAY, "shares": 100, "written": 0, "basis": Decimal(560)}
    # Bought at 560 with 6.50 a share of premium kept: 553.50, so the 555 call may be written.
    priced = by_price.choose_call(chain, premium=Decimal("6.50"), **kwargs)  # type: ignore[arg-type]
    netted = net.choose_call(chain, premium=Decimal("6.50"), **kwargs)  # type: ignore[arg-type]
    assert not isinstance(priced, str) and not isinstance(netted, str)
    assert (priced.quote.contract.strike, netted.quote.contract.strike) == (565, 555)
    assert NakedPutStrategy().call_basis == "price"
    with pytest.raises((ConfigError, ValueError), match="call_basis"):
        NakedPutStrategy(call_basis="cost")  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Fill:
    contract_key: str
    side: Side
    quantity: int
    price: Decimal
    time: datetime
    multiplier: int = 100


PUT_KEY = "SPY 20260116 P 560"
CALL_KEY = "SPY 20260206 C 565"


def test_the_cycle_premium_counts_the_delivering_put_and_the_calls_since_the_va_was_flat() -> None:
    t = [datetime(2026, 1, d, 10, 0, tzinfo=NY) for d in range(5, 12)]
    fills = [
        _Fill("SPY 20260109 P 550", Side.SELL, 1, Decimal("3.00"), t[0]),  # an earlier cycle:
        _Fill("SPY 20260109 P 550", Side.BUY, 1, Decimal("1.50"), t[1]),  # bought back, flat
        _Fill(PUT_KEY, Side.SELL, 1, Decimal("4.00"), t[2]),
        _Fill("QQQ", Side.BUY, 100, Decimal("400"), t[2], 1),  # another symbol: not counted
        _Fill(PUT_KEY, Side.BUY, 1, Decimal(0), t[3]),  # assigned: closed at 0 ...
        _Fill("SPY", Side.BUY, 100, Decimal(560), t[3], 1),  # ... and the stock delivered
        _Fill(CALL_KEY, Side.SELL, 1, Decimal("2.00"), t[4]),
        _Fill(CALL_KEY, Side.BUY, 1, Decimal("0.50"), t[5]),  # bought back at the target
        _Fill(CALL_KEY, Side.SELL, 1, Decimal("1.00"), t[6]),
    ]
    # 4.00 + 2.00 - 0.50 + 1.00 = 6.50 a share (one contract, 100 shares).
    assert cycle_premium_per_share(fills, "SPY", 100) == Decimal("6.50")
    assert cycle_premium_per_share(fills[:6], "SPY", 100) == Decimal("4.00")
    assert cycle_premium_per_share(fills, "SPY", 0) == 0
    called_away = [
        *fills,
        _Fill(CALL_KEY, Side.BUY, 1, Decimal(0), t[6] + timedelta(days=1)),
        _Fill("SPY", Side.SELL, 100, Decimal(565), t[6] + timedelta(days=1), 1),
    ]
    assert cycle_premium_per_share(called_away, "SPY", 100) == 0  # flat: the cycle is over
