"""VABook bookkeeping and the virtual account's own entry rules and sizing (pure, no actors)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from actors.messages.events import Fill
from core.config import AccountLimits
from core.domain import Contract, Purpose, Side
from core.rules.va_rules import VABook, check_entry, size_position

TZ = ZoneInfo("America/New_York")
T0 = datetime(2026, 3, 11, 10, 0, tzinfo=TZ)
AAA = Contract.stock("AAA")
BBB = Contract.stock("BBB")
AAA_CALL = Contract(
    symbol="AAA",
    sec_type="OPT",
    expiry=date(2026, 4, 17),
    strike=Decimal(100),
    right="C",
    multiplier=100,
)
NO_FEE = Decimal(0)


def fill(
    side: Side,
    quantity: int,
    price: str,
    *,
    contract: Contract = AAA,
    commission: str = "0",
    at: datetime = T0,
) -> Fill:
    return Fill(
        exec_id=f"x-{side}-{quantity}-{price}-{at.timestamp()}",
        order_id="o1",
        va_id="va1",
        contract=contract,
        side=side,
        quantity=quantity,
        price=Decimal(price),
        commission=Decimal(commission),
        time=at,
        purpose=Purpose.ENTRY,
        reason="test",
    )


def new_book(capital: str = "10000") -> VABook:
    return VABook("va1", Decimal(capital))


def limits(**overrides: object) -> AccountLimits:
    return AccountLimits(**overrides)  # type: ignore[arg-type]


# -- apply_fill ------------------------------------------------------------------------------


def test_a_buy_opens_a_long_at_the_fill_price_and_records_when_it_opened() -> None:
    book = new_book()
    assert book.apply_fill(fill(Side.BUY, 100, "50")) is None
    holding = book.holdings["AAA"]
    assert holding.quantity == 100
    assert holding.avg_price == Decimal(50)
    assert holding.opened_at == T0
    assert holding.mark == Decimal(50)
    assert book.position("AAA") == 100
    assert book.open_positions == 1


def test_a_sell_from_flat_opens_a_short_with_a_negative_quantity() -> None:
    book = new_book()
    assert book.apply_fill(fill(Side.SELL, 40, "25")) is None
    assert book.position("AAA") == -40
    assert book.holdings["AAA"].avg_price == Decimal(25)


def test_adding_to_a_long_averages_the_price_and_keeps_the_open_time() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 100, "50"))
    later = T0 + timedelta(minutes=5)
    assert book.apply_fill(fill(Side.BUY, 300, "54", at=later)) is None
    holding = book.holdings["AAA"]
    assert holding.quantity == 400
    assert holding.avg_price == Decimal(53)
    assert holding.opened_at == T0


def test_adding_to_a_short_averages_the_price() -> None:
    book = new_book()
    book.apply_fill(fill(Side.SELL, 10, "20"))
    book.apply_fill(fill(Side.SELL, 30, "24"))
    assert book.position("AAA") == -40
    assert book.holdings["AAA"].avg_price == Decimal(23)


def test_a_partial_close_realizes_its_share_and_returns_no_round_trip() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 100, "50"))
    assert book.apply_fill(fill(Side.SELL, 40, "55")) is None
    holding = book.holdings["AAA"]
    assert holding.quantity == 60
    assert holding.avg_price == Decimal(50)
    assert holding.trade_pnl == Decimal(200)
    assert book.realized_pnl == Decimal(200)
    assert book.wins == 0
    assert book.losses == 0


def test_a_full_close_returns_the_round_trip_pnl_net_of_every_commission() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 100, "50", commission="1.00"))
    book.apply_fill(fill(Side.SELL, 40, "55", commission="0.40"))
    pnl = book.apply_fill(fill(Side.SELL, 60, "52", commission="0.60"))
    # 40 x 5 + 60 x 2 = 320 gross, minus 2.00 of commissions.
    assert pnl == Decimal("318.00")
    assert book.realized_pnl == Decimal("318.00")
    assert "AAA" not in book.holdings
    assert book.open_positions == 0
    assert book.equity == Decimal("10318.00")


def test_closing_a_short_lower_is_a_win() -> None:
    book = new_book()
    book.apply_fill(fill(Side.SELL, 10, "20", commission="1"))
    pnl = book.apply_fill(fill(Side.BUY, 10, "18", commission="1"))
    assert pnl == Decimal(18)
    assert book.wins == 1
    assert book.losses == 0
    assert book.position("AAA") == 0


def test_a_trade_that_wins_gross_but_loses_on_commissions_counts_as_a_loss() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 10, "20.00", commission="1"))
    pnl = book.apply_fill(fill(Side.SELL, 10, "20.10", commission="1"))
    assert pnl == Decimal("-1.00")
    assert book.wins == 0
    assert book.losses == 1
    assert book.consecutive_losses == 1


def test_a_round_trip_that_nets_exactly_zero_counts_as_a_loss() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 10, "20.00", commission="1"))
    pnl = book.apply_fill(fill(Side.SELL, 10, "20.20", commission="1"))
    assert pnl == Decimal(0)
    assert (book.wins, book.losses, book.consecutive_losses) == (0, 1, 1)


def test_a_win_resets_the_losing_streak() -> None:
    book = new_book()
    for _ in range(2):
        book.apply_fill(fill(Side.BUY, 10, "20"))
        book.apply_fill(fill(Side.SELL, 10, "19"))
    assert book.consecutive_losses == 2
    book.apply_fill(fill(Side.BUY, 10, "20"))
    book.apply_fill(fill(Side.SELL, 10, "21"))
    assert book.consecutive_losses == 0
    assert (book.wins, book.losses) == (1, 2)


def test_cooldown_starts_at_the_nth_consecutive_loss_for_cooldown_s() -> None:
    rules = limits(cooldown_losses=3, cooldown_s=600.0)
    book = new_book()
    for i in range(2):
        at = T0 + timedelta(minutes=i)
        book.apply_fill(fill(Side.BUY, 10, "20", at=at), rules)
        book.apply_fill(fill(Side.SELL, 10, "19", at=at), rules)
    assert book.cooldown_until is None
    assert book.consecutive_losses == 2

    third = T0 + timedelta(minutes=10)
    book.apply_fill(fill(Side.BUY, 10, "20", at=third), rules)
    book.apply_fill(fill(Side.SELL, 10, "19", at=third), rules)
    assert book.cooldown_until == third + timedelta(seconds=600)
    assert book.consecutive_losses == 0
    assert book.in_cooldown(third + timedelta(seconds=599))
    assert not book.in_cooldown(third + timedelta(seconds=600))


def test_losses_without_limits_never_start_a_cooldown() -> None:
    book = new_book()
    for _ in range(5):
        book.apply_fill(fill(Side.BUY, 10, "20"))
        book.apply_fill(fill(Side.SELL, 10, "19"))
    assert book.cooldown_until is None
    assert book.consecutive_losses == 5


def test_option_pnl_is_scaled_by_the_contract_multiplier() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 2, "1.50", contract=AAA_CALL, commission="1"))
    assert book.holdings[AAA_CALL.key].multiplier == 100
    pnl = book.apply_fill(fill(Side.SELL, 2, "2.00", contract=AAA_CALL, commission="1"))
    # 0.50 x 2 contracts x 100 = 100 gross, minus 2 commission.
    assert pnl == Decimal(98)


def test_a_mark_moves_equity_by_the_unrealized_pnl_and_raises_the_peak() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 100, "50"))
    book.mark("AAA", Decimal(52))
    assert book.unrealized_pnl == Decimal(200)
    assert book.equity == Decimal(10200)
    assert book.peak_equity == Decimal(10200)
    book.mark("AAA", Decimal(49))
    assert book.equity == Decimal(9900)
    assert book.peak_equity == Decimal(10200)
    assert book.drawdown_pct == pytest.approx(300 / 10200 * 100)


def test_a_short_marked_higher_loses_money() -> None:
    book = new_book()
    book.apply_fill(fill(Side.SELL, 10, "20"))
    book.mark("AAA", Decimal(22))
    assert book.unrealized_pnl == Decimal(-20)
    assert book.equity == Decimal(9980)


def test_the_peak_starts_at_capital_and_a_closed_winner_raises_it() -> None:
    book = new_book()
    assert book.peak_equity == Decimal(10000)
    assert book.drawdown_pct == 0.0
    book.apply_fill(fill(Side.BUY, 10, "20"))
    book.apply_fill(fill(Side.SELL, 10, "30"))
    assert book.peak_equity == Decimal(10100)


def test_symbol_in_play_is_the_held_symbol() -> None:
    book = new_book()
    assert book.symbol_in_play() is None
    book.apply_fill(fill(Side.BUY, 1, "1", contract=AAA_CALL))
    assert book.symbol_in_play() == "AAA"


def test_symbol_in_play_is_the_symbol_of_a_working_entry() -> None:
    book = new_book()
    book.working_entries["o9"] = AAA_CALL.key
    assert book.symbol_in_play() == "AAA"


def test_symbol_in_play_is_released_when_the_position_closes() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 10, "20"))
    book.apply_fill(fill(Side.SELL, 10, "20"))
    assert book.symbol_in_play() is None


# -- check_entry ------------------------------------------------------------------------------


def test_check_entry_accepts_a_fresh_book() -> None:
    assert check_entry(new_book(), AAA, limits(), T0)


def test_check_entry_refuses_a_paused_account_with_the_reason() -> None:
    book = new_book()
    book.paused_reason = "manual pause"
    decision = check_entry(book, AAA, limits(), T0)
    assert not decision
    assert decision.rule == "paused"
    assert decision.detail == "manual pause"


def test_check_entry_refuses_another_symbol_while_one_is_held() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 10, "20"))
    decision = check_entry(book, BBB, limits(max_open_positions=5), T0)
    assert not decision
    assert decision.rule == "one_symbol"
    assert "AAA" in decision.detail
    assert "BBB" in decision.detail


def test_check_entry_refuses_another_symbol_while_an_entry_is_working() -> None:
    book = new_book()
    book.working_entries["o1"] = "AAA"
    decision = check_entry(book, BBB, limits(), T0)
    assert decision.rule == "one_symbol"


def test_check_entry_refuses_a_second_entry_in_the_same_symbol_while_one_is_working() -> None:
    book = new_book()
    book.working_entries["o1"] = "AAA"
    decision = check_entry(book, AAA, limits(), T0)
    assert not decision
    assert decision.rule == "entry_working"


def test_check_entry_refuses_adding_to_a_held_contract() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 10, "20"))
    decision = check_entry(book, AAA, limits(max_open_positions=5), T0)
    assert decision.rule == "already_in_position"


def test_check_entry_refuses_a_new_position_at_max_open_positions() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 10, "20"))
    decision = check_entry(book, AAA_CALL, limits(max_open_positions=1), T0)
    assert not decision
    assert decision.rule == "max_open_positions"
    assert decision.detail == "1/1"


def test_check_entry_accepts_a_new_position_one_below_max_open_positions() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 10, "20"))
    assert check_entry(book, AAA_CALL, limits(max_open_positions=2), T0)


def test_check_entry_refuses_during_cooldown_and_says_how_long_is_left() -> None:
    book = new_book()
    book.cooldown_until = T0 + timedelta(seconds=120)
    decision = check_entry(book, AAA, limits(cooldown_losses=3), T0)
    assert not decision
    assert decision.rule == "cooldown"
    assert decision.detail.startswith("120s left")


def test_check_entry_accepts_the_moment_the_cooldown_ends() -> None:
    book = new_book()
    book.cooldown_until = T0 + timedelta(seconds=120)
    assert not check_entry(book, AAA, limits(), T0 + timedelta(seconds=119))
    assert check_entry(book, AAA, limits(), T0 + timedelta(seconds=120))


def test_check_entry_refuses_at_exactly_the_max_drawdown() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 100, "100"))
    book.apply_fill(fill(Side.SELL, 100, "90"))
    assert book.drawdown_pct == 10.0
    decision = check_entry(book, AAA, limits(max_drawdown_pct=10.0), T0)
    assert not decision
    assert decision.rule == "max_drawdown"


def test_check_entry_accepts_just_inside_the_max_drawdown() -> None:
    book = new_book()
    book.apply_fill(fill(Side.BUY, 100, "100"))
    book.apply_fill(fill(Side.SELL, 100, "90.01"))
    assert book.drawdown_pct == pytest.approx(9.99)
    assert check_entry(book, AAA, limits(max_drawdown_pct=10.0), T0)


# -- size_position ----------------------------------------------------------------------------


def size(
    *,
    equity: str = "10000",
    capital: str = "10000",
    price: str = "10",
    stop: str = "2",
    multiplier: int = 1,
    **overrides: object,
) -> int:
    return size_position(
        equity=Decimal(equity),
        capital=Decimal(capital),
        price=Decimal(price),
        stop_distance=Decimal(stop),
        limits=limits(**overrides),
        multiplier=multiplier,
    )


def test_size_risks_risk_per_trade_pct_of_equity_at_the_stop() -> None:
    # 1% of 10,000 = 100 at risk; 2 per share to the stop -> 50 shares (500 notional).
    assert size(risk_per_trade_pct=1.0, max_position_pct=25.0) == 50


def test_size_rounds_the_risk_quantity_down() -> None:
    assert size(stop="3", risk_per_trade_pct=1.0) == 33


def test_size_is_capped_by_max_position_pct_of_capital() -> None:
    # Risk allows 50 shares at 100 (5,000), but 25% of capital is 2,500 -> 25 shares.
    assert size(price="100", risk_per_trade_pct=1.0, max_position_pct=25.0) == 25


def test_size_is_capped_by_equity_when_equity_is_below_the_position_cap() -> None:
    # Cap by capital would be 10,000; equity is 2,000 -> 20 shares at 100 (risk allows 40).
    assert (
        size(equity="2000", price="100", stop="0.5", risk_per_trade_pct=1.0, max_position_pct=100.0)
        == 20
    )


def test_size_divides_by_the_multiplier() -> None:
    # 100 at risk, 1.00 x 100 per contract to the stop -> 1 contract.
    assert size(price="2", stop="1", multiplier=100, risk_per_trade_pct=1.0) == 1


@pytest.mark.parametrize(
    ("equity", "price", "stop"),
    [
        ("0", "10", "2"),
        ("-5", "10", "2"),
        ("10000", "0", "2"),
        ("10000", "10", "0"),
        ("10000", "10", "-1"),
    ],
)
def test_size_is_zero_without_equity_price_or_stop_distance(
    equity: str, price: str, stop: str
) -> None:
    assert size(equity=equity, price=price, stop=stop) == 0


def test_size_is_zero_when_one_share_would_risk_more_than_the_budget() -> None:
    assert size(stop="101", price="500", risk_per_trade_pct=1.0) == 0
