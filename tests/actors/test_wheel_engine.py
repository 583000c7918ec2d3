"""The wheel end to end on the simulator: a wheel VA keeps the stock an assigned put delivered,
writes covered calls on it at or above its cost, leaves the stock without a protective stop or
stock exit, goes back to selling puts once the stock is called away (early assignment of the
call, or a call in the money at expiry), and stops writing calls when its drawdown trips.

Same harness as ``test_naked_put_engine`` (seeded market, one step a minute, max speed).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from actors.messages.snapshots import PositionSnapshot
from core.config import parse_config
from db.records import OrderRecord
from tests.actors.test_naked_put_engine import (
    NY,
    TOML,
    config,
    move,
    orders,
    running,
    sold_put,
)
from tests.support.engine import SimEngine, start_engine

WHEEL = 'on_assignment = "wheel"\ncall_target_dte = 3\ncall_max_dte = 12'


def written_call(sim: SimEngine, va: str = "puts-a", *, after: int = 0) -> OrderRecord:
    """Run until the VA's call sale number ``after`` + 1 has filled and return it."""
    for _ in range(15):
        calls = [
            o
            for o in orders(sim, va, purpose="entry")
            if o.contract.right == "C" and o.status.value == "filled"
        ]
        if len(calls) > after:
            return calls[after]
        sim.advance(60)
    raise AssertionError(f"{va} wrote no call: {sim.snapshot(f'va:{va}').last_decisions}")


def assigned_stock(sim: SimEngine) -> int:
    """Assign the VA's short put early; the shares delivered."""
    put = sold_put(sim)
    assert sim.broker.assign_early("AAA") == put.quantity
    sim.advance(60)
    return 100 * put.quantity


def test_assigned_stock_is_kept_and_a_covered_call_is_written_at_or_above_its_cost(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config(strategy=WHEEL)) as sim:
        put = sold_put(sim)
        assert sim.broker.assign_early("AAA") == put.quantity
        sim.advance(60)
        call = written_call(sim)
        assert call.contract.symbol == "AAA" and call.side.value == "SELL"
        assert call.quantity == put.quantity  # one call a lot of 100 shares
        assert call.contract.strike is not None and put.contract.strike is not None
        assert call.contract.strike >= put.contract.strike  # never below the stock's cost
        assert call.dte_at_entry is not None and 3 <= call.dte_at_entry <= 12
        sim.advance(3 * 3600)  # hours: the stock rules (time, session close) would have fired
        positions = {p.contract_key: p.quantity for p in sim.ledger.open_positions()}
        assert positions == {"AAA": 100 * put.quantity, call.contract_key: -call.quantity}
        assert not [o for o in sim.ledger.orders(va_id="puts-a") if o.purpose == "stop"]
        assert not [o for o in orders(sim, "puts-a", purpose="exit") if o.symbol == "AAA"]
        snapshots = sim.snapshot("position_monitor")
        [stock] = [s for s in snapshots if s.contract.key == "AAA"]
        assert isinstance(stock, PositionSnapshot)
        assert stock.stop_price is None and stock.target_price is None


def test_a_call_below_the_cost_is_written_only_when_allowed(tmp_path: Path) -> None:
    below = WHEEL + "\nallow_call_below_basis = true\ncall_target_delta = 0.6"
    with running(tmp_path, config(strategy=below)) as sim:
        put = sold_put(sim)
        assert sim.broker.assign_early("AAA") == put.quantity
        move(sim, "AAA", float(put.contract.strike or 0) - 8)
        call = written_call(sim)
        assert call.contract.strike is not None and put.contract.strike is not None
        assert call.contract.strike < put.contract.strike


def test_the_stock_called_away_early_sends_the_va_back_to_selling_puts(tmp_path: Path) -> None:
    with running(tmp_path, config(strategy=WHEEL)) as sim:
        shares = assigned_stock(sim)
        call = written_call(sim)
        assert sim.broker.assign_early("AAA") == call.quantity  # the covered call, early
        sim.advance(60)
        called = [o for o in orders(sim, "puts-a", purpose="assignment") if o.symbol == "AAA"]
        assert [(o.contract_key, o.side.value, o.quantity) for o in called[-2:]] == [
            (call.contract_key, "BUY", call.quantity),
            ("AAA", "SELL", shares),
        ]
        assert called[-1].avg_fill_price == call.contract.strike
        assert sim.ledger.open_positions() == []  # no execution: position changes only
        assert all(
            e.order_id != called[-1].id or e.commission == 0 for e in sim.ledger.executions()
        )
        sim.advance(600)
        puts = [o for o in orders(sim, "puts-a", purpose="entry") if o.contract.right == "P"]
        assert len(puts) == 2 and puts[-1].status.value == "filled"


def test_a_covered_call_in_the_money_at_expiry_calls_the_stock_away(tmp_path: Path) -> None:
    cfg = config(strategy=WHEEL, exits="profit_take_pct = 99")
    with running(tmp_path, cfg) as sim:
        shares = assigned_stock(sim)
        call = written_call(sim)
        assert call.contract.expiry is not None and call.contract.strike is not None
        close = datetime.combine(call.contract.expiry, datetime.min.time(), tzinfo=NY)
        sim.engine.run_until(close.replace(hour=15))
        sim.idle()
        # The stock far above the strike: the call is at many times its credit, and no stop
        # (nor the time exit at 3 DTE) bought it back.
        move(sim, "AAA", float(call.contract.strike) + 15)
        assert not orders(sim, "puts-a", purpose="exit")
        sim.engine.run_until(close.replace(hour=16, minute=1))
        sim.idle()
        [opt, stk] = [
            o for o in orders(sim, "puts-a", purpose="assignment") if o.contract.right != "P"
        ][-2:]
        assert (opt.contract_key, opt.side.value, opt.reason) == (
            call.contract_key,
            "BUY",
            "assigned",
        )
        assert (stk.contract_key, stk.side.value, stk.quantity) == ("AAA", "SELL", shares)
        assert stk.avg_fill_price == call.contract.strike
        assert sim.ledger.open_positions() == []


def test_a_tripped_drawdown_stops_new_calls_and_keeps_the_stock(tmp_path: Path) -> None:
    text = TOML.format(risk="", exits="", strategy=WHEEL, b_enabled="false", ticks="penny_all")
    cfg = parse_config(text.replace("max_drawdown_pct = 90", "max_drawdown_pct = 5", 1))
    with running(tmp_path, cfg) as sim:
        put = sold_put(sim)
        assert put.contract.strike is not None
        assert sim.broker.assign_early("AAA") == put.quantity
        move(sim, "AAA", float(put.contract.strike) * 0.8, seconds=600)  # the stock falls 20 %
        snapshot = sim.snapshot("va:puts-a")
        assert snapshot.state == "paused"
        assert not [o for o in orders(sim, "puts-a", purpose="entry") if o.contract.right == "C"]
        # The stock is kept (no stop, no forced sale): the VA is paused until the operator acts.
        shares = 100 * put.quantity
        assert {p.contract_key: p.quantity for p in sim.ledger.open_positions()} == {"AAA": shares}
        assert not orders(sim, "puts-a", purpose="exit")


def test_after_a_restart_wheel_stock_gets_no_protective_stop_and_its_call_is_written(
    tmp_path: Path,
) -> None:
    cfg = config(strategy=WHEEL)
    with running(tmp_path, cfg) as sim:
        put = sold_put(sim)
        sim.broker.set_mid("AAA", float(put.contract.strike or 0) - 5)
        assert sim.broker.assign_early("AAA") == put.quantity
        sim.idle()
        assert not [o for o in orders(sim, "puts-a", purpose="entry") if o.contract.right == "C"]
    # The startup reconciliation puts a stop back on every stock position without one, except
    # wheel stock; the wheel then resumes from the ledger and covers the stock.
    restarted = start_engine(tmp_path, cfg)
    try:
        restarted.advance(600)
        assert not orders(restarted, "puts-a", purpose="stop")
        call = written_call(restarted)
        assert call.quantity == put.quantity
        assert {p.contract_key: p.quantity for p in restarted.ledger.open_positions()} == {
            "AAA": 100 * put.quantity,
            call.contract_key: -call.quantity,
        }
    finally:
        restarted.engine.stop()


def test_a_stock_that_falls_too_far_for_a_call_at_its_cost_is_held_without_one(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config(strategy=WHEEL + "\ncall_min_credit = 0.50")) as sim:
        put = sold_put(sim)
        assert put.contract.strike is not None
        assert sim.broker.assign_early("AAA") == put.quantity
        move(sim, "AAA", float(put.contract.strike) * 0.85, seconds=900)  # 15 % below the cost
        assert not [o for o in orders(sim, "puts-a", purpose="entry") if o.contract.right == "C"]
        notes = sim.snapshot("va:puts-a").last_decisions
        assert any("no call with credit >= 0.5 and strike >= basis" in n for n in notes), notes
        shares = 100 * put.quantity
        assert {p.contract_key: p.quantity for p in sim.ledger.open_positions()} == {"AAA": shares}
        assert not orders(sim, "puts-a", purpose="exit")
        assert not orders(sim, "puts-a", purpose="stop")
