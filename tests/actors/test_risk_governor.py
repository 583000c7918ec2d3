"""RiskGovernor through its messages: trading states, the gate, global limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from actors.messages.commands import OrderProposal
from actors.messages.snapshots import RiskStatus
from core.config import EngineConfig, parse_config
from core.domain import OrderStatus, OrderType, Purpose, Side, TradingState
from core.events import OrderStatusEvent
from core.gate import GateState
from engine.engine import Engine
from engine.options import RunOptions
from tests.support.engine import (
    BASE_TOML,
    STARTED,
    SimEngine,
    make_config,
    start_engine,
)
from tests.support.fake_broker import (
    BrokerCall,
    FakeBroker,
    default_answer,
    funded_account,
    stock_quote,
)


def test_halt_closes_the_gate_at_once_and_is_stored_with_its_reason(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    assert sim.engine.gate.state is GateState.OPEN
    sim.engine.halt("test halt")
    assert sim.engine.gate.state is GateState.CLOSED  # before any actor ran
    sim.idle()
    status = sim.snapshot("governor")
    assert isinstance(status, RiskStatus) and status.state is TradingState.HALTED
    event = sim.ledger.latest_risk_event("state")
    assert event is not None and event.state == "HALTED" and event.reason == "test halt"
    refused = sim.signal("va1", "AAPL")
    decision = sim.decisions()[refused]
    assert not decision.accepted and decision.rule == "trading_state"


def test_halt_is_acknowledged_by_every_va(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.engine.halt("ack test")
    sim.idle()
    governor = sim.engine.actor("governor")
    assert governor is not None
    assert governor.halt_acks == {"va1", "va2"}  # type: ignore[attr-defined]


def test_resume_reopens_the_gate_and_entries_pass_again(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.engine.halt("pause")
    sim.idle()
    sim.engine.resume("back")
    sim.idle()
    assert sim.engine.gate.state is GateState.OPEN
    accepted = sim.signal("va1", "AAPL")
    assert sim.decisions()[accepted].accepted


def test_max_trades_per_day_refuses_the_trade_over_the_limit(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(risk="max_trades_per_day = 1"))
    first = sim.signal("va1", "AAPL")
    second = sim.signal("va2", "JPM")
    decisions = sim.decisions()
    assert decisions[first].accepted
    assert not decisions[second].accepted
    assert decisions[second].rule == "max_trades_per_day"
    assert decisions[second].detail == "1/1"
    assert ("trades", "1/1") in sim.snapshot("governor").limits


def test_a_halt_survives_a_restart(tmp_path: Path, ledger_url: str) -> None:
    sim = start_engine(tmp_path, database_url=ledger_url)
    sim.engine.halt("before restart")
    sim.idle()
    back = sim.engine.clock.now() + timedelta(seconds=1)  # time in a ledger moves forward
    sim.engine.stop()
    config = make_config()
    again = STARTED.track(
        Engine(config, RunOptions(database_url=ledger_url, speed=None, start=back))
    )
    again.start(drive_clock=False)
    assert again.ask_snapshot("governor", timeout_s=5).state is TradingState.HALTED
    assert again.gate.state is GateState.CLOSED


def test_flatten_closes_every_position_and_ends_halted(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL")
    sim.signal("va2", "JPM")
    sim.engine.flatten("test flatten")
    sim.advance(10)
    assert sim.snapshot("governor").state is TradingState.HALTED
    assert sim.ledger.open_positions() == []
    assert sim.ledger.orders(working_only=True) == []
    exits = [o for o in sim.ledger.orders() if o.purpose == "exit"]
    assert {o.va_id for o in exits} == {"va1", "va2"}
    assert all(o.reason == "flatten" for o in exits)


def test_an_entry_rejected_by_the_broker_is_not_counted_as_a_trade(tmp_path: Path) -> None:
    def handler(call: BrokerCall) -> object:
        """The venue rejects every entry."""
        if call.method == "place_order":
            order = call.order
            if order.parent_id is None and not order.reduce_only:
                now = sim.engine.clock.now()
                rejected = OrderStatusEvent(
                    order.client_order_id, OrderStatus.REJECTED, 0, 0, None, now, "no entries"
                )
                fake.deliver(rejected)
        return default_answer(call)

    fake = FakeBroker(handler)
    sim = start_engine(
        tmp_path, make_config(risk="max_trades_per_day = 1"), broker_factory=lambda e: fake
    )
    fake.deliver(funded_account(sim.engine.clock.now()))
    fake.quote(stock_quote("AAPL", 100.0, sim.engine.clock.now()))
    first = sim.signal("va1", "AAPL")
    assert sim.ledger.order(first).status.value == "rejected"
    assert ("trades", "0/1") in sim.snapshot("governor").limits
    assert sim.snapshot("va:va1").symbol is None  # released


def test_a_paused_va_is_still_paused_after_a_restart(tmp_path: Path, ledger_url: str) -> None:
    sim = start_engine(tmp_path, database_url=ledger_url)
    sim.engine.pause_va("va1", paused=True, reason="trader pause")
    sim.idle()
    assert sim.snapshot("va:va1").state == "paused"
    back = sim.engine.clock.now() + timedelta(seconds=1)  # time in a ledger moves forward
    sim.engine.stop()
    again = STARTED.track(
        Engine(make_config(), RunOptions(database_url=ledger_url, speed=None, start=back))
    )
    again.start(drive_clock=False)
    assert again.ask_snapshot("va:va1", timeout_s=5).state == "paused"
    assert again.ask_snapshot("va:va2", timeout_s=5).state != "paused"
    again.pause_va("va1", paused=False, reason="back")
    assert again.wait_idle(5)
    assert again.ask_snapshot("va:va1", timeout_s=5).state != "paused"


# -- portfolio greek limits -------------------------------------------------------------------
def _greek_config(risk: str) -> EngineConfig:
    """The test config with AAPL at 25 % volatility (its options then have greeks) and
    ``risk`` in ``[risk]``."""
    text = BASE_TOML.format(risk=risk, filters="", exits="", limits="", orders="")
    return parse_config(text.replace("volatility = 0.0001", "volatility = 0.25", 1))


def _short_aapl_put(sim: SimEngine, pid: str, contracts: int) -> tuple[OrderProposal, float]:
    """A proposal to sell ``contracts`` of the listed AAPL put nearest the money at its mid,
    carrying the quote's greeks as a VA's proposal does, and the underlying's mid."""
    broker = sim.engine.broker
    chain = broker.option_chain("AAPL", right="P")
    expiry = sorted({q.contract.expiry for q in chain if q.contract.expiry})[1]
    contract = min(
        (q.contract for q in chain if q.contract.expiry == expiry),
        key=lambda c: abs((c.strike or Decimal(0)) - 100),
    )
    broker.subscribe_quotes([contract])
    sim.advance(5)  # a market step quotes it
    quote = sim.engine.quotes.latest(contract.key)
    underlying = sim.engine.quotes.latest("AAPL")
    assert quote is not None and underlying is not None and quote.delta is not None
    mid = Decimal(str(round(quote.mid, 2)))
    proposal = OrderProposal(
        pid,
        "va1",
        contract,
        Side.SELL,
        contracts,
        OrderType.LMT,
        Purpose.ENTRY,
        "naked_put test",
        sim.engine.clock.now(),
        ref_price=mid,
        limit_price=mid,
        delta=quote.delta,
        theta=quote.theta,
        vega=quote.vega,
    )
    spot = float((Decimal(str(underlying.bid)) + Decimal(str(underlying.ask))) / 2)
    return proposal, spot


def test_an_option_entry_beyond_the_net_delta_limit_is_refused_with_its_numbers(
    tmp_path: Path,
) -> None:
    config = _greek_config("max_net_delta_dollars = 15000")
    sim = start_engine(tmp_path, config)
    first, spot = _short_aapl_put(sim, "put-1", 2)
    assert first.delta is not None and -0.7 < first.delta < -0.3  # near the money
    each = -1 * 2 * 100 * first.delta * spot  # a short put is long delta: ~ +10,000
    sim.engine.book.tell("governor", first)
    sim.idle()
    assert sim.ledger.order("put-1") is not None  # approved: placed
    status = sim.snapshot("governor")
    assert status.greek_limits == (("delta $", f"{each:+,.0f}/15,000"),)
    second = replace(first, proposal_id="put-2")
    sim.engine.book.tell("governor", second)
    sim.idle()
    decision = sim.decisions()["put-2"]
    assert (decision.accepted, decision.stage, decision.rule) == (False, "governor", "net_delta")
    assert decision.detail == (
        f"net delta $ +{2 * each:.0f} beyond +-15000 (now {each:+,.0f}, this entry {each:+,.0f})"
    )
    assert sim.ledger.order("put-2") is None


def test_net_vega_and_theta_limits_refuse_by_their_own_rules(tmp_path: Path) -> None:
    config = _greek_config("max_net_vega = 25\nmax_net_theta_per_day = 1000000")
    sim = start_engine(tmp_path, config)
    proposal, _ = _short_aapl_put(sim, "put-vega", 2)
    assert proposal.vega is not None and proposal.vega > 0.03  # per share, near the money
    vega = -10 * 100 * proposal.vega  # ten short contracts: over $30 a volatility point
    sim.engine.book.tell("governor", replace(proposal, quantity=10))
    sim.idle()
    decision = sim.decisions()["put-vega"]
    assert (decision.accepted, decision.rule) == (False, "net_vega")
    assert decision.detail == (
        f"net vega $/vol pt {vega:.0f} beyond +-25 (now +0, this entry {vega:+,.0f})"
    )
    assert [name for name, _ in sim.snapshot("governor").greek_limits] == ["theta $/d", "vega"]


def test_a_beta_weighted_delta_limit_weighs_each_stock_by_its_listed_beta(tmp_path: Path) -> None:
    risk = "max_net_delta_dollars = 2000\nbeta_weighted = true\n[risk.betas]\nAAPL = 0.01"
    sim = start_engine(tmp_path, make_config(risk=risk))
    low_beta = sim.signal("va1", "AAPL")  # tens of thousands of dollars, at beta 0.01
    unlisted = sim.signal("va2", "JPM")  # beta 1.0: its full value
    decisions = sim.decisions()
    assert decisions[low_beta].accepted
    assert (decisions[unlisted].accepted, decisions[unlisted].rule) == (False, "net_delta")
    assert decisions[unlisted].detail.startswith("net SPY beta delta $ +")
    (use,) = sim.snapshot("governor").greek_limits
    assert use[0] == "SPY beta delta $"


def test_a_greek_limit_set_by_a_config_reload_applies_to_the_next_entry(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    assert sim.snapshot("governor").greek_limits == ()
    text = BASE_TOML.format(
        risk="max_net_delta_dollars = 100", filters="", exits="", limits="", orders=""
    )
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    plan = sim.engine.reload_config(str(tmp_path / "config.toml"))
    assert "risk.max_net_delta_dollars: 0.0 -> 100.0" in plan.applied
    sim.idle()
    assert sim.snapshot("governor").greek_limits == (("delta $", "+0/100"),)
    refused = sim.signal("va1", "AAPL")
    assert sim.decisions()[refused].rule == "net_delta"
