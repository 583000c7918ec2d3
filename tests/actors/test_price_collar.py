"""The fat-finger guard through the actors: an entry whose limit lies outside the price collar,
or rounds to zero at the tick, is refused with its numbers and never reaches the broker."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from actors.messages.commands import PlaceOrder
from core.domain import OrderType, Side
from core.ticks import round_to_tick
from engine.engine import Engine
from engine.options import RunOptions
from tests.actors.test_order_margin import FILTERS, _short_put
from tests.support.engine import MONDAY_10, STARTED, SimEngine, make_config, start_engine

# Sim quotes arrive every 5 s; an inbox line read between ticks sees a quote up to 5 s old.
CONFIG = make_config(filters="max_quote_age_ms = 6000")


def _entries(sim: SimEngine) -> list[str]:
    return [o.id for o in sim.ledger.orders() if o.purpose == "entry"]


def test_a_signal_outside_the_collar_is_refused_by_the_order_manager_with_the_numbers(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, CONFIG)
    far = sim.signal(
        "va1", "AAPL", Side.BUY, quantity=10, order_type=OrderType.LMT, limit_price=Decimal(150)
    )
    near = sim.signal(
        "va1", "MSFT", Side.BUY, quantity=10, order_type=OrderType.LMT, limit_price=Decimal(201)
    )
    decisions = sim.decisions()
    assert decisions[far].rule == "price_collar"
    assert decisions[far].detail.startswith("limit 150 is 50.0% above the quote (bid ")
    assert decisions[far].detail.endswith("; the collar is 10%")
    assert decisions[near].accepted
    assert _entries(sim) == [near]


def test_a_tighter_collar_from_the_config_refuses_what_the_default_lets_through(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, make_config(risk="price_collar_pct = 0.5"))
    refused = sim.signal(
        "va1", "MSFT", Side.BUY, quantity=10, order_type=OrderType.LMT, limit_price=Decimal(203)
    )
    assert sim.decisions()[refused].rule == "price_collar"
    assert sim.decisions()[refused].detail.endswith("; the collar is 0.5%")


def _inbox_engine(tmp_path: Path) -> tuple[SimEngine, Path]:
    inbox = tmp_path / "inbox.jsonl"
    config = CONFIG.model_copy(
        update={"inbox": CONFIG.inbox.model_copy(update={"path": str(inbox)})}
    )
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    engine = STARTED.track(
        Engine(config, RunOptions(database_url=url, speed=None, start=MONDAY_10))
    )
    sim = SimEngine(engine)
    engine.start(drive_clock=False)
    sim.advance(5)
    return sim, inbox


def test_the_issues_fat_finger_lines_are_refused_on_the_simulator_not_filled_or_rounded(
    tmp_path: Path,
) -> None:
    """Issue 15, item 9: ``limit_price: 1e15`` was filled at the market and ``1e-9`` rounded
    to 0.00, stored and sent."""
    sim, inbox = _inbox_engine(tmp_path)

    def append(record_id: str, va: str, symbol: str, limit: float) -> None:
        line = {"id": record_id, "va": va, "symbol": symbol, "side": "BUY", "quantity": 10}
        with inbox.open("a") as handle:
            handle.write(json.dumps({**line, "limit_price": limit}) + "\n")

    append("huge", "va1", "AAPL", 1e15)
    append("tiny", "va2", "JPM", 1e-9)
    sim.advance(5)
    append("fine", "va1", "AAPL", 100.05)  # once va1 knows its first entry was refused
    sim.advance(5)
    decisions = sim.decisions()
    assert decisions["huge"].rule == "price_collar"
    assert decisions["huge"].detail.startswith("limit 1000000000000000.0 is 1e+15% above the quote")
    assert decisions["tiny"].rule == "limit_price"
    assert decisions["tiny"].detail == "limit 1E-9 rounds to 0 at the tick 0.0001: not a price"
    assert decisions["fine"].accepted
    assert _entries(sim) == ["fine"]
    assert sim.ledger.order("huge") is None and sim.ledger.order("tiny") is None
    positions = {p.contract.key: p.quantity for p in sim.broker.positions()}
    assert positions.get("AAPL") == 10  # the good line alone


def test_an_option_entry_outside_its_own_collar_is_refused_and_one_inside_is_placed(
    tmp_path: Path,
) -> None:
    """Options have their own, wider collar (``risk.option_price_collar_pct``): a limit ~45 %
    over a put's ask is placed where a stock's 10 % would refuse it; 20x the ask is not."""
    config = make_config(filters=FILTERS, risk="what_if_margin = false")
    sim = start_engine(tmp_path, config)
    sale = _short_put(sim, "put-near", 1, strike=Decimal(110))  # worth about $10
    quote = sim.engine.quotes.latest(sale.contract.key)
    assert quote is not None
    tick = sim.engine.broker.tick_rule(sale.contract)
    near = round_to_tick(Decimal(str(quote.ask)) * Decimal("1.4"), tick, side=Side.SELL)
    far = round_to_tick(Decimal(str(quote.ask)) * 20, tick, side=Side.SELL)
    for proposal in (
        replace(sale, limit_price=near),
        replace(sale, proposal_id="put-far", limit_price=far),
    ):
        sim.engine.book.tell("order_manager", PlaceOrder(proposal))
        sim.idle()
    assert sim.ledger.order("put-near") is not None
    assert sim.ledger.order("put-far") is None
    refused = sim.decisions()["put-far"]
    assert refused.rule == "price_collar"
    assert refused.detail.endswith(
        f"above the quote (bid {quote.bid:.2f}, ask {quote.ask:.2f}); the collar is 50%"
    )
