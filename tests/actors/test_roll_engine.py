"""Rolls end to end on the simulator: a short put that reaches ``roll_at_dte`` is rolled to a
later expiry as one combo (buy back, sell the later put) for a net credit, the ledger links the
roll to the entry it rolls (``rolled_from``) and the report shows the chain with its credits;
a roll that cannot get its minimum credit closes the put by the ordinary exit instead, with the
reason recorded.

Same harness as ``test_naked_put_engine`` (seeded market, one step a minute, max speed).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from actors.messages.commands import PauseVA
from db.records import OrderRecord
from db.report import build_report
from tests.actors.test_naked_put_engine import (
    MONDAY_10,
    NY,
    config,
    move,
    orders,
    running,
    sold_put,
)
from tests.support.chromium import chromium_binary, dump_dom
from tests.support.engine import SimEngine, start_engine
from tests.support.headless import main_py

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"

# The put is sold 30-45 days out, so it is due at once (<= 50 DTE); the new one is 55-90 out.
ROLLS = "roll_at_dte = 50\nroll_dte = 55\nroll_max_dte = 90\nroll_min_credit = {credit}"


def roll_order(sim: SimEngine) -> OrderRecord | None:
    rolls = [o for o in orders(sim, "puts-a", purpose="exit") if o.contract_key == "AAA BAG"]
    return rolls[0] if rolls else None


def ended_roll(sim: SimEngine) -> OrderRecord:
    for _ in range(20):
        roll = roll_order(sim)
        if roll is not None and roll.status.is_terminal:
            return roll
        sim.advance(60)
    raise AssertionError(f"no roll ended: {sim.snapshot('va:puts-a').last_decisions}")


def test_a_put_at_roll_at_dte_is_rolled_as_one_combo_for_a_net_credit_and_linked(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config(strategy=ROLLS.format(credit="0.10"))) as sim:
        put = sold_put(sim)
        roll = ended_roll(sim)
        assert roll.status.value == "filled" and roll.quantity == put.quantity
        assert roll.rolled_from == put.id
        assert roll.limit_price is not None and roll.limit_price <= -0.10  # a credit
        legs = [e for e in sim.ledger.executions() if e.order_id == roll.id]
        assert [(e.contract_key, e.side.value) for e in legs][:1] == [(put.contract_key, "BUY")]
        [new] = [e for e in legs if e.side.value == "SELL"]
        assert new.contract_key != put.contract_key
        assert sum(e.quantity for e in legs) == 2 * put.quantity  # one execution a leg
        [position] = sim.ledger.open_positions()
        assert (position.contract_key, position.quantity) == (new.contract_key, -put.quantity)
        buy_back = next(e.price for e in legs if e.side.value == "BUY")
        assert new.price - buy_back >= 0.10  # the net credit a share
        assert not [
            o
            for o in orders(sim, "puts-a", purpose="exit")
            if o.symbol == "AAA" and o.contract_key != "AAA BAG"
        ]  # no separate close

        report = build_report(sim.ledger, tz=NY)
        [closed] = [t for t in report["trades"] if t["contract"] == put.contract_key]
        assert closed["exit_reason"] == "roll time"
        proposed = [d for d in report["decisions"] if d["signal"].endswith("AAA BAG (roll)")]
        assert proposed and f"{put.contract_key} -> {new.contract_key}" in proposed[0]["detail"]
        [chain] = report["rolls"]
        assert chain["va"] == "puts-a" and chain["rolls"] == 1
        assert [link["contract"] for link in chain["links"]] == [
            put.contract_key,
            new.contract_key,
        ]
        assert put.avg_fill_price is not None
        assert chain["links"][0]["credit"] == float(put.avg_fill_price * put.quantity * 100)
        net = (new.price - buy_back) * put.quantity * 100
        assert chain["links"][1]["credit"] == float(net)
        assert chain["credit"] == float(put.avg_fill_price * put.quantity * 100 + net)
    shows_the_chain(tmp_path, chain)


def shows_the_chain(tmp_path: Path, chain: dict[str, object]) -> None:
    """``main.py report`` (a real process) shows the roll chain in text, JSON and HTML."""
    db = ["--config", str(CONFIG), "--db", f"sqlite:///{tmp_path / 'engine.db'}"]
    text = main_py("report", *db, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    rolls = text.stdout.split("Rolls\n", 1)[1].splitlines()[0]
    assert rolls.startswith("  puts-a") and "1 roll(s)" in rolls and " -> " in rolls
    assert f"credit {chain['credit']:+,.2f}" in rolls
    as_json = main_py("report", *db, "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["rolls"] == [chain]
    out = tmp_path / "report.html"
    page = main_py("report", *db, "--html", str(out), cwd=tmp_path)
    assert page.returncode == 0, page.stderr
    binary = chromium_binary()
    dom = dump_dom(binary, out) if binary else out.read_text(encoding="utf-8")
    section = dom.split('<section id="rolls">', 1)[1].split("</section>", 1)[0]
    assert "puts-a" in section and f"{chain['credit']:+,.2f}" in section


def test_a_roll_short_of_its_minimum_credit_closes_by_the_ordinary_exit(tmp_path: Path) -> None:
    with running(tmp_path, config(strategy=ROLLS.format(credit="25"))) as sim:
        put = sold_put(sim)
        for _ in range(20):
            closes = [o for o in orders(sim, "puts-a", purpose="exit") if o.status.is_terminal]
            if closes:
                break
            sim.advance(60)
        [close] = closes
        assert (close.contract_key, close.side.value) == (put.contract_key, "BUY")
        assert close.status.value == "filled" and close.reason == "time"
        assert roll_order(sim) is None  # the credit was never there: no combo was sent
        decisions = " | ".join(sim.snapshot("va:puts-a").last_decisions)
        assert "roll failed" in decisions and "credit < minimum 25" in decisions
        assert sim.ledger.open_positions() == []


def test_a_roll_whose_walk_ends_unfilled_is_cancelled_and_the_put_closed(tmp_path: Path) -> None:
    # The net mid gives the minimum credit, the natural price does not: the walk stops at the
    # minimum, the plan ends unfilled, the combo is cancelled and the put bought back.
    with running(tmp_path, config(strategy=ROLLS.format(credit="0.22"))) as sim:
        put = sold_put(sim)
        roll = ended_roll(sim)
        assert roll.status.value == "cancelled" and roll.filled == 0
        assert roll.limit_price is not None and roll.limit_price <= Decimal("-0.22")
        details = [e.detail for e in sim.ledger.order_events(roll.id)]
        assert "roll: plan ended unfilled; cancelled" in details
        assert not any("-0.21" in d or "-0.20" in d for d in details)  # never past the bound
        for _ in range(10):
            closes = [
                o
                for o in orders(sim, "puts-a", purpose="exit")
                if o.contract_key == put.contract_key and o.status.is_terminal
            ]
            if closes:
                break
            sim.advance(60)
        [close] = closes
        assert close.status.value == "filled" and close.side.value == "BUY"
        decisions = " | ".join(sim.snapshot("va:puts-a").last_decisions)
        assert "roll failed: cancelled, 0 filled" in decisions
        assert sim.ledger.open_positions() == []


def test_a_roll_working_at_a_restart_still_falls_back_when_it_ends(tmp_path: Path) -> None:
    # The roll rests at its minimum credit when the engine stops. The restarted simulator no
    # longer has it, so it ends cancelled: the restarted VA knows it was the put's roll (from
    # the ledger's rolled_from) and closes the put by the ordinary exit, never rolling it twice.
    cfg = config(strategy=ROLLS.format(credit="0.22"))
    first = start_engine(tmp_path, cfg, start=MONDAY_10, warmup_s=1)
    try:
        put = sold_put(first)
        for _ in range(5):
            if roll_order(first) is not None:
                break
            first.advance(10)
        roll = roll_order(first)
        assert roll is not None and roll.status.is_working
    finally:
        first.engine.stop()
    second = start_engine(tmp_path, cfg, warmup_s=1)
    try:
        second.advance(120)
        mine = [
            o
            for o in orders(second, "puts-a", purpose="exit")
            if o.rolled_from == roll.rolled_from or o.contract_key == put.contract_key
        ]
        assert [(o.id, o.status.value) for o in mine] == [
            (roll.id, "cancelled"),
            (mine[-1].id, "filled"),
        ]
        assert (mine[-1].contract_key, mine[-1].side.value) == (put.contract_key, "BUY")
        decisions = " | ".join(second.snapshot("va:puts-a").last_decisions)
        assert "roll failed: cancelled, 0 filled" in decisions
    finally:
        second.engine.stop()


def test_a_paused_va_does_not_roll_until_it_is_resumed(tmp_path: Path) -> None:
    # Rolled once 20 % of the credit is earned; the monitor's profit target (50 %) is farther.
    strategy = "roll_at_profit_pct = 20\nroll_dte = 55\nroll_max_dte = 90\nroll_min_credit = 0.05"
    with running(tmp_path, config(strategy=strategy)) as sim:
        sold_put(sim)
        assert roll_order(sim) is None  # nothing earned yet
        sim.engine.book.tell("va:puts-a", PauseVA("puts-a", True, "test"))
        sim.idle()
        move(sim, "AAA", 103.0, seconds=180)
        assert roll_order(sim) is None, sim.snapshot("va:puts-a").last_decisions
        sim.engine.book.tell("va:puts-a", PauseVA("puts-a", False, "test"))
        sim.advance(120)
        roll = roll_order(sim)
        assert roll is not None and roll.reason.startswith("roll profit_target")


def test_a_wheels_covered_call_is_rolled_to_a_later_call(tmp_path: Path) -> None:
    strategy = (
        'on_assignment = "wheel"\ncall_target_dte = 3\ncall_max_dte = 12\n'
        "roll_at_dte = 12\nroll_dte = 14\nroll_max_dte = 40\nroll_min_credit = 0.01"
    )
    with running(tmp_path, config(strategy=strategy)) as sim:
        put = sold_put(sim)
        # The put itself is 30-45 DTE: not due. Assigned, the stock is covered by a call.
        assert roll_order(sim) is None
        assert sim.broker.assign_early("AAA") == put.quantity
        sim.advance(60)
        for _ in range(15):
            calls = [
                o
                for o in orders(sim, "puts-a", purpose="entry")
                if o.contract.right == "C" and o.status.value == "filled"
            ]
            if calls:
                break
            sim.advance(60)
        [call] = calls
        roll = ended_roll(sim)
        assert roll.status.value == "filled" and roll.rolled_from == call.id
        legs = {e.side.value: e for e in sim.ledger.executions() if e.order_id == roll.id}
        assert legs["BUY"].contract_key == call.contract_key
        assert " C " in legs["SELL"].contract_key and legs["SELL"].contract_key != call.contract_key
        positions = {p.contract_key: p.quantity for p in sim.ledger.open_positions()}
        assert positions == {"AAA": 100 * put.quantity, legs["SELL"].contract_key: -call.quantity}
