"""The naked-put path end to end on the simulator: the strategy's entries, each option exit
forced by a scenario built for it, expiry and assignment booked per VA, margin and
concentration at acceptance, flatten, and the report's option fields.

Markets are seeded; the clock is driven from the test thread at max speed, one market step a
minute (``tick_interval_s = 60``) so that days of trading take seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.messages.commands import ExitRequest
from actors.messages.snapshots import GreeksSnapshot, PositionSnapshot
from core.config import EngineConfig, parse_config
from core.domain import OrderType
from core.rules.margin import short_put_margin
from core.rules.repricing import RepricePlan
from db.records import OrderRecord
from db.report import build_report
from tests.support.engine import NY, SimEngine, start_engine

MONDAY_10 = datetime(2026, 11, 16, 10, 0, tzinfo=NY)

TOML = """
[engine]
timezone = "America/New_York"
database_url = "sqlite:///unused.db"
reconcile_interval_s = 30

[inbox]
enabled = false

[sim]
seed = 11
tick_interval_s = 60.0
starting_cash = 1000000

[sim.symbols.AAA]
price = 100.0
volatility = 0.25
spread_bps = 2.0
sector = "Tech"
display_size = 5000
option_ticks = "{ticks}"

[sim.symbols.BBB]
price = 50.0
volatility = 0.25
spread_bps = 2.0
sector = "Energy"
display_size = 5000
option_ticks = "{ticks}"

[risk]
{risk}

[exits.options]
{exits}

[[accounts]]
id = "puts-a"
capital = 100000
universe = ["AAA"]
[accounts.strategy]
kind = "naked_put"
{strategy}
[accounts.limits]
max_drawdown_pct = 90

[[accounts]]
id = "puts-b"
capital = 100000
universe = ["BBB"]
enabled = {b_enabled}
[accounts.strategy]
kind = "naked_put"
{strategy}
[accounts.limits]
max_drawdown_pct = 90
"""


def config(
    *,
    risk: str = "",
    exits: str = "",
    strategy: str = "",
    b_enabled: bool = False,
    ticks: str = "penny_all",
) -> EngineConfig:
    """The test config; ``ticks`` is the options' tick class (penny_all: a cent at every
    price, so a re-price walk moves at every step)."""
    return parse_config(
        TOML.format(
            risk=risk,
            exits=exits,
            strategy=strategy,
            b_enabled=str(b_enabled).lower(),
            ticks=ticks,
        )
    )


@contextmanager
def running(
    tmp_path: Path, cfg: EngineConfig, *, start: datetime = MONDAY_10
) -> Iterator[SimEngine]:
    sim = start_engine(tmp_path, cfg, start=start, warmup_s=1)
    try:
        yield sim
    finally:
        sim.engine.stop()


def orders(sim: SimEngine, va: str | None = None, **where: str) -> list[OrderRecord]:
    return [
        o
        for o in sim.ledger.orders(va_id=va)
        if all(str(getattr(o, key)) == value for key, value in where.items())
    ]


def sold_put(sim: SimEngine, va: str = "puts-a") -> OrderRecord:
    """Run until the VA's first put sale has filled and return it."""
    for _ in range(10):
        filled = [o for o in orders(sim, va, purpose="entry") if o.status.value == "filled"]
        if filled:
            return filled[0]
        sim.advance(60)
    raise AssertionError(f"{va} sold no put: {sim.snapshot(f'va:{va}').last_decisions}")


def move(sim: SimEngine, symbol: str, mid: float, seconds: float = 60) -> None:
    sim.broker.set_mid(symbol, mid)
    sim.advance(seconds)


def trades(sim: SimEngine) -> list[dict[str, Any]]:
    return list(build_report(sim.ledger, tz=NY)["trades"])


# -- entries ----------------------------------------------------------------------------------


def test_the_strategy_sells_the_put_nearest_the_target_delta_at_the_target_dte(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config()) as sim:
        entry = sold_put(sim)
        contract = entry.contract
        assert contract.sec_type == "OPT" and contract.right == "P"
        assert entry.side.value == "SELL" and entry.order_type.value == "LMT"
        assert entry.dte_at_entry is not None and 30 <= entry.dte_at_entry <= 45
        assert entry.delta_at_entry is not None and 0.2 < -entry.delta_at_entry < 0.4
        assert entry.reason.startswith("naked_put")
        # No attached stop for an option entry: the exit rules are its stop.
        assert not orders(sim, "puts-a", purpose="stop")
        # The limit started at the mid and walked toward the bid, never below it.
        details = [e.detail for e in sim.ledger.order_events(entry.id)]
        assert any("re-price 1/4" in d for d in details)
        [position] = sim.ledger.open_positions()
        assert position.quantity == -entry.quantity


def test_the_position_is_published_with_greeks_dte_credit_and_the_portfolio_risk(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config()) as sim:
        entry = sold_put(sim)
        sim.advance(120)
        [position] = sim.snapshot("position_monitor")
        assert isinstance(position, PositionSnapshot)
        assert position.delta is not None and position.delta < 0
        assert position.theta is not None and position.theta < 0
        assert position.dte == entry.dte_at_entry
        assert entry.avg_fill_price is not None
        assert position.credit == entry.avg_fill_price * entry.quantity * 100
        assert position.pnl_pct_of_credit is not None
        assert position.delta_dollars is not None and position.delta_dollars > 0
        assert position.theta_per_day is not None and position.theta_per_day > 0
        greeks = sim.of_type(GreeksSnapshot)
        portfolio = [g for g in greeks if g.va_id is None][-1]
        per_va = [g for g in greeks if g.va_id == "puts-a"][-1]
        assert portfolio.margin == per_va.margin > 0 and portfolio.positions == 1


# -- exits, each forced -----------------------------------------------------------------------


def test_a_rally_takes_the_profit_target_with_a_limit_at_half_the_credit(tmp_path: Path) -> None:
    with running(tmp_path, config()) as sim:
        entry = sold_put(sim)
        move(sim, "AAA", 120.0)
        [exit_order] = orders(sim, "puts-a", purpose="exit")
        assert (exit_order.reason, exit_order.order_type.value) == ("profit_target", "LMT")
        assert entry.avg_fill_price is not None and exit_order.limit_price is not None
        assert exit_order.limit_price <= entry.avg_fill_price / 2
        assert exit_order.status.value == "filled"
        [trade] = trades(sim)
        assert trade["exit_reason"] == "profit_target" and trade["pnl"] > 0
        assert trade["credit"] == float(entry.avg_fill_price * entry.quantity * 100)
        assert trade["dte_at_entry"] == entry.dte_at_entry
        assert trade["delta_at_entry"] is not None and trade["delta_at_entry"] < 0


def test_a_crash_stops_the_put_out_with_a_marketable_limit_that_fills_now(tmp_path: Path) -> None:
    with running(tmp_path, config()) as sim:
        sold_put(sim)
        move(sim, "AAA", 80.0)
        [exit_order] = orders(sim, "puts-a", purpose="exit")
        assert (exit_order.reason, exit_order.order_type.value) == ("stop", "LMT")
        assert exit_order.status.value == "filled"
        [trade] = trades(sim)
        assert trade["exit_reason"] == "stop" and trade["pnl"] < 0
        assert sim.ledger.open_positions() == []


def test_the_stop_can_be_a_market_order(tmp_path: Path) -> None:
    with running(tmp_path, config(exits='stop_order = "market"')) as sim:
        sold_put(sim)
        move(sim, "AAA", 80.0)
        [exit_order] = orders(sim, "puts-a", purpose="exit")
        assert (exit_order.reason, exit_order.order_type.value) == ("stop", "MKT")


def test_a_put_still_open_at_three_days_to_expiry_is_closed_on_time(tmp_path: Path) -> None:
    cfg = config(
        strategy="target_dte = 5\nmax_dte = 12",
        exits="profit_take_pct = 99\nstop_loss_multiple = 50",
    )
    with running(tmp_path, cfg) as sim:
        entry = sold_put(sim)
        assert entry.dte_at_entry is not None and entry.contract.expiry is not None
        three_days_before = datetime.combine(
            entry.contract.expiry - timedelta(days=3), datetime.min.time(), tzinfo=NY
        )
        sim.engine.run_until(three_days_before.replace(hour=9, minute=0))
        sim.idle()
        assert not orders(sim, "puts-a", purpose="exit")
        sim.advance(3600)
        [exit_order, *_] = orders(sim, "puts-a", purpose="exit")
        assert (exit_order.reason, exit_order.order_type.value) == ("time", "LMT")
        assert [t["exit_reason"] for t in trades(sim)][:1] == ["time"]


# -- expiry and assignment --------------------------------------------------------------------


def test_expiry_books_an_assignment_and_a_worthless_expiry_per_va(tmp_path: Path) -> None:
    cfg = config(
        strategy="target_dte = 3\nmax_dte = 9",
        exits="time_exit_dte = 0\nprofit_take_pct = 99\nstop_loss_multiple = 50",
        b_enabled=True,
    )
    with running(tmp_path, cfg) as sim:
        put_a = sold_put(sim, "puts-a")
        put_b = sold_put(sim, "puts-b")
        expiry = put_a.contract.expiry
        assert expiry is not None and put_b.contract.expiry == expiry
        assert put_a.contract.strike is not None and put_b.contract.strike is not None
        close = datetime.combine(expiry, datetime.min.time(), tzinfo=NY).replace(hour=15)
        sim.engine.run_until(close)
        sim.idle()
        move(sim, "AAA", float(put_a.contract.strike) - 10)  # deep in the money
        move(sim, "BBB", float(put_b.contract.strike) + 10)  # far out of the money
        sim.engine.run_until(close.replace(hour=16, minute=1))
        sim.idle()

        [assigned_put, assigned_stock] = orders(sim, "puts-a", purpose="assignment")
        assert assigned_put.contract_key == put_a.contract_key
        assert (assigned_put.side.value, assigned_put.reason) == ("BUY", "assigned")
        assert assigned_stock.contract_key == "AAA"
        assert assigned_stock.quantity == 100 * put_a.quantity
        assert assigned_stock.avg_fill_price == put_a.contract.strike
        [expired] = orders(sim, "puts-b", purpose="expiry")
        assert (expired.contract_key, expired.reason) == (put_b.contract_key, "expired")
        executions = sim.ledger.executions()
        assert len({e.exec_id for e in executions}) == len(executions)
        [stock] = sim.ledger.open_positions()
        assert (stock.va_id, stock.contract_key, stock.quantity) == (
            "puts-a",
            "AAA",
            100 * put_a.quantity,
        )
        assert stock.avg_price == put_a.contract.strike
        reasons = {t["contract"]: t["exit_reason"] for t in trades(sim)}
        assert reasons == {put_a.contract_key: "assigned", put_b.contract_key: "expired"}

        # The assigned stock is sold at the next open with a reduce-only order.
        sim.advance(24 * 3600 * 3)
        [close_order] = [o for o in orders(sim, "puts-a", purpose="exit") if o.symbol == "AAA"]
        assert (close_order.reason, close_order.reduce_only) == ("assignment", True)
        assert close_order.status.value == "filled"
        opened = close_order.created_at.astimezone(NY)
        assert (opened.hour, opened.minute) == (9, 30)
        assert all(p.contract_key != "AAA" for p in sim.ledger.open_positions())
        stock_trades = [t for t in trades(sim) if t["contract"] == "AAA"]
        assert [t["exit_reason"] for t in stock_trades] == ["assignment"]
        assert stock_trades[0]["credit"] is None and stock_trades[0]["dte_at_entry"] is None


# -- margin, concentration, flatten, days -----------------------------------------------------


def test_the_put_margin_counts_at_the_broker_and_at_acceptance(tmp_path: Path) -> None:
    with running(tmp_path, config()) as sim:
        entry = sold_put(sim)
        assert entry.contract.strike is not None
        sim.advance(60)
        account = sim.engine.broker.account()
        quote = sim.broker.last_quote("AAA")
        spot = (Decimal(repr(quote.bid)) + Decimal(repr(quote.ask))) / 2
        option = sim.engine.quotes.latest(entry.contract_key)
        premium = (Decimal(repr(option.bid)) + Decimal(repr(option.ask))) / 2
        expected = short_put_margin(
            underlying=spot,
            strike=entry.contract.strike,
            premium=premium,
            contracts=entry.quantity,
        )
        assert account.maint_margin == expected.quantize(Decimal("0.01"))
        governor = sim.engine.actor("governor")
        [accepted] = [a for a in governor.acceptances if a.proposal_id == entry.id]  # type: ignore[attr-defined]
        assert accepted.margin_pct is not None and accepted.margin_pct > 0


def test_a_put_whose_margin_would_exceed_the_limit_is_refused(tmp_path: Path) -> None:
    with running(tmp_path, config(risk="max_margin_utilization_pct = 0.5")) as sim:
        sim.advance(180)
        refused = [s for s in sim.ledger.signals(va_id="puts-a") if not s.accepted]
        assert refused and refused[0].rule == "margin_utilization"
        assert not orders(sim, "puts-a")


def test_a_short_put_counts_its_assignment_value_for_sector_concentration(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config(risk="max_sector_concentration_pct = 5")) as sim:
        sim.advance(180)
        refused = [s for s in sim.ledger.signals(va_id="puts-a") if not s.accepted]
        assert refused and refused[0].rule == "sector_concentration"


def test_a_short_put_beyond_a_portfolio_greek_limit_is_refused_with_its_numbers(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config(risk="max_net_delta_dollars = 1000")) as sim:
        sim.advance(180)
        refused = [s for s in sim.ledger.signals(va_id="puts-a") if not s.accepted]
        assert refused and refused[0].rule == "net_delta"
        # A short put is long delta: about 0.3 x 100 x $100 a contract, far over $1,000.
        assert refused[0].detail.startswith("net delta $ +")
        assert " beyond +-1000 (now +0, this entry +" in refused[0].detail
        assert not orders(sim, "puts-a")


def test_flatten_buys_the_put_back_through_the_flatten_path(tmp_path: Path) -> None:
    with running(tmp_path, config()) as sim:
        sold_put(sim)
        sim.engine.flatten("test")
        sim.advance(10)
        [close] = orders(sim, "puts-a", purpose="exit")
        assert (close.reason, close.side.value, close.status.value) == ("flatten", "BUY", "filled")
        assert sim.ledger.open_positions() == []
        assert sim.snapshot("governor").state.value == "HALTED"


def test_a_week_of_trading_rolls_the_day_counters_and_keeps_selling_puts(tmp_path: Path) -> None:
    cfg = config(strategy="target_dte = 3\nmax_dte = 9", exits="profit_take_pct = 30")
    with running(tmp_path, cfg) as sim:
        sim.engine.run_until(MONDAY_10 + timedelta(days=4, hours=6))
        sim.idle()
        resets = [e for e in sim.ledger.risk_events() if e.kind == "day_reset"]
        assert len(resets) >= 4
        report = build_report(sim.ledger, tz=NY)
        assert len(report["trades"]) >= 2
        assert all(t["credit"] and t["dte_at_entry"] is not None for t in report["trades"])
        assert not [e for e in report["risk_events"] if "daily_loss" in e["reason"]]


def test_a_stop_replaces_a_resting_profit_exit_once_its_cancel_is_confirmed(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config()) as sim:
        entry = sold_put(sim)
        contract = entry.contract
        now = sim.engine.clock.now()
        resting = ExitRequest(
            "puts-a", contract, "profit_target", now, OrderType.LMT, Decimal("0.01")
        )
        sim.engine.book.tell("va:puts-a", resting)
        sim.idle()
        [profit] = orders(sim, "puts-a", purpose="exit")
        assert profit.status.value == "submitted"
        sim.engine.book.tell("va:puts-a", ExitRequest("puts-a", contract, "stop", now))
        sim.advance(5)
        profit_after, stop = orders(sim, "puts-a", purpose="exit")
        assert (profit_after.reason, profit_after.status.value) == ("profit_target", "cancelled")
        assert (stop.reason, stop.status.value) == ("stop", "filled")
        assert sim.ledger.open_positions() == []


def test_a_stop_limit_that_does_not_fill_goes_to_market_after_its_reprices(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config()) as sim:
        entry = sold_put(sim)
        now = sim.engine.clock.now()
        plan = RepricePlan(interval_s=1.0, steps=0, max_reprices=0, then_market=True)
        stuck = ExitRequest(
            "puts-a", entry.contract, "stop", now, OrderType.LMT, Decimal("0.01"), plan
        )
        sim.engine.book.tell("va:puts-a", stuck)
        sim.advance(3)
        limit, market = orders(sim, "puts-a", purpose="exit")
        assert (limit.order_type.value, limit.status.value) == ("LMT", "cancelled")
        assert (market.order_type.value, market.reason, market.status.value) == (
            "MKT",
            "stop",
            "filled",
        )
        assert sim.ledger.open_positions() == []
