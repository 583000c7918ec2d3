"""The naked-put strategy's choice: the put at the target delta in the first expiration at or
beyond the target DTE (capped), with enough credit and open interest; sizing by margin."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.domain import Contract, Quote
from core.strategies.naked_put import NakedPut, NakedPutStrategy, select_put, size_contracts

NY = ZoneInfo("America/New_York")
TODAY = date(2026, 1, 5)
AT = datetime(2026, 1, 5, 10, 0, tzinfo=NY)
NEAR = date(2026, 2, 6)  # 32 days
FAR = date(2026, 2, 13)  # 39 days
TOO_FAR = date(2026, 3, 20)  # 74 days
TOO_NEAR = date(2026, 1, 30)  # 25 days


def put(expiry: date, strike: int, delta: float, mid: float = 2.0, oi: int = 1000) -> Quote:
    contract = Contract.option("SPY", expiry, Decimal(strike), "P")
    return Quote(
        contract, mid - 0.05, mid + 0.05, 10, 10, mid, AT, 0.2, delta, 0.01, -0.05, 0.3, oi
    )


def choose(chain: list[Quote], **overrides: object) -> Quote | str:
    params: dict[str, object] = {
        "today": TODAY,
        "target_delta": 0.30,
        "target_dte": 30,
        "max_dte": 45,
        "min_credit": Decimal("0.50"),
        "min_open_interest": 100,
    }
    params.update(overrides)
    return select_put(chain, **params)  # type: ignore[arg-type]


def test_the_put_nearest_the_target_delta_in_the_first_expiration_past_the_target_dte() -> None:
    chain = [
        put(TOO_NEAR, 560, -0.30),
        put(NEAR, 550, -0.22),
        put(NEAR, 560, -0.29),
        put(NEAR, 570, -0.38),
        put(FAR, 560, -0.30),
    ]
    picked = choose(chain)
    assert isinstance(picked, Quote)
    assert picked.contract.key == "SPY 20260206 P 560"


def test_an_expiration_past_the_max_dte_is_never_chosen() -> None:
    assert choose([put(TOO_FAR, 560, -0.30)]) == "no expiration 30-45 DTE"


def test_exactly_the_target_and_max_dte_are_both_allowed() -> None:
    at_target = put(date(2026, 2, 4), 560, -0.3)  # 30 days: a Wednesday, fine for the rule
    assert isinstance(choose([at_target]), Quote)
    at_max = put(date(2026, 2, 19), 560, -0.3)  # 45 days
    assert isinstance(choose([at_max], target_dte=40), Quote)
    assert isinstance(choose([at_max], max_dte=44), str)


def test_too_little_credit_or_open_interest_moves_to_the_next_expiration() -> None:
    chain = [
        put(NEAR, 560, -0.30, mid=0.40),
        put(NEAR, 565, -0.33, oi=50),
        put(FAR, 555, -0.31),
    ]
    picked = choose(chain)
    assert isinstance(picked, Quote) and picked.contract.expiry == FAR
    reason = choose(chain[:2])
    assert isinstance(reason, str) and "credit >= 0.50" in reason


def test_calls_are_ignored() -> None:
    call = Quote(Contract.option("SPY", NEAR, Decimal(600), "C"), 2.0, 2.1, 1, 1, 2.0, AT, 0.2, 0.3)
    assert isinstance(choose([call]), str)


def test_contracts_fit_the_margin_budget_of_the_smaller_of_capital_and_equity() -> None:
    kwargs = {"max_margin_pct": 40.0, "margin_per_contract": Decimal(10_000), "max_contracts": 10}
    assert size_contracts(capital=Decimal(100_000), equity=Decimal(100_000), **kwargs) == 4  # type: ignore[arg-type]
    assert size_contracts(capital=Decimal(100_000), equity=Decimal(60_000), **kwargs) == 2  # type: ignore[arg-type]
    assert size_contracts(capital=Decimal(20_000), equity=Decimal(20_000), **kwargs) == 0  # type: ignore[arg-type]


def test_the_choice_carries_credit_delta_dte_and_the_sized_contracts() -> None:
    strategy = NakedPut(NakedPutStrategy(max_margin_pct=40.0))
    chain = [put(NEAR, 560, -0.29, mid=7.0)]
    choice = strategy.choose(
        chain, spot=Decimal(580), today=TODAY, capital=Decimal(100_000), equity=Decimal(100_000)
    )
    assert not isinstance(choice, str)
    # margin: max(116 - 20, 56) + 7 = 103 a share -> 10,300; 40,000 / 10,300 -> 3 contracts.
    assert choice.margin_per_contract == Decimal(10300)
    assert (choice.contracts, choice.credit, choice.dte) == (3, Decimal("7.00"), 32)
    assert choice.delta == -0.29


def test_scans_are_paced() -> None:
    strategy = NakedPut(NakedPutStrategy(scan_interval_s=60.0))
    assert strategy.scan_due(AT)
    strategy.wait(AT)
    assert not strategy.scan_due(AT)
    assert strategy.scan_due(datetime(2026, 1, 5, 10, 1, tzinfo=NY))
