"""The OrderManager's what-if margin gate on short option entries, through its messages on the
simulator: the entry waits for the broker's ``MarginCheck`` (tell, not ask), is placed when the
initial-margin change fits in the available funds, refused with the numbers when it does not,
refused as unanswered after ``risk.what_if_timeout_s``; the VA inspector shows the what-if
beside our Reg-T estimate."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.messages.commands import OrderProposal, PlaceOrder
from core.domain import OrderRequest, OrderType, Purpose, Side
from core.events import MarginCheck
from engine.engine import Engine
from tests.support.engine import SimEngine, make_config, start_engine

FILTERS = "max_option_spread_pct = 200.0"


def _short_put(
    sim: SimEngine, pid: str, quantity: int, *, strike: Decimal = Decimal(100)
) -> OrderProposal:
    """A SELL LMT at the mid of the listed AAPL put nearest the money (AAPL is at 100, nearly
    still: its option spreads are wide, hence ``FILTERS``), quoted now."""
    broker = sim.engine.broker
    chain = broker.option_chain("AAPL", right="P")
    expiry = sorted({q.contract.expiry for q in chain if q.contract.expiry})[1]
    contract = min(
        (q.contract for q in chain if q.contract.expiry == expiry),
        key=lambda c: abs((c.strike or Decimal(0)) - strike),
    )
    broker.subscribe_quotes([contract])
    sim.advance(5)  # a market step quotes it
    quote = sim.engine.quotes.latest(contract.key)
    assert quote is not None
    mid = Decimal(str(round(quote.mid, 2)))
    return OrderProposal(
        pid,
        "va1",
        contract,
        Side.SELL,
        quantity,
        OrderType.LMT,
        Purpose.ENTRY,
        "naked_put test",
        sim.engine.clock.now(),
        ref_price=mid,
        limit_price=mid,
    )


def _place(sim: SimEngine, proposal: OrderProposal) -> None:
    sim.engine.book.tell("order_manager", PlaceOrder(proposal))
    sim.idle()


def test_a_short_put_that_fits_the_available_funds_is_placed_and_shown_beside_our_reg_t(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, make_config(filters=FILTERS))
    proposal = _short_put(sim, "put-fits", 1)
    _place(sim, proposal)
    assert sim.ledger.order("put-fits") is not None
    (line,) = sim.engine.inspect_va("va1", timeout_s=5).margin_checks
    assert " passed " in line and proposal.contract.key in line
    assert "what-if initial +" in line and "our Reg-T" in line and "available" in line


def test_a_short_put_whose_what_if_margin_exceeds_the_available_funds_is_refused(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, make_config(filters=FILTERS))
    # About $2,000 of Reg-T margin a contract (20 % of $100 x 100 at the money): 600
    # contracts need more than the $1,000,000 available.
    _place(sim, _short_put(sim, "put-too-big", 600))
    assert sim.ledger.order("put-too-big") is None  # never stored, never sent
    decision = sim.decisions()["put-too-big"]
    assert not decision.accepted
    assert (decision.stage, decision.rule) == ("order_manager", "what_if_margin")
    assert decision.detail.startswith("initial margin +")
    assert decision.detail.endswith("(what-if) > available funds 1,000,000.00")
    (line,) = sim.engine.inspect_va("va1", timeout_s=5).margin_checks
    assert " refused " in line


class _Silent:
    """The simulator, but its what-if answers never come (a broker that lost the request)."""

    def __init__(self, engine: Engine) -> None:
        self._broker = engine.broker
        self.asked: list[OrderRequest] = []

    def check_margin(self, order: OrderRequest) -> None:
        self.asked.append(order)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)


def test_a_what_if_the_broker_never_answers_is_refused_after_the_timeout(tmp_path: Path) -> None:
    config = make_config(risk="what_if_timeout_s = 20", filters=FILTERS)
    sim = start_engine(tmp_path, config, broker_factory=_Silent)
    _place(sim, _short_put(sim, "put-unanswered", 1))
    assert [o.client_order_id for o in sim.engine.broker.asked] == ["put-unanswered"]
    assert "put-unanswered" not in sim.decisions()  # waiting, not refused
    sim.advance(25)  # reconcile ticks every 5 s: the first one past 20 s refuses it
    decision = sim.decisions()["put-unanswered"]
    assert (decision.accepted, decision.rule) == (False, "what_if")
    assert decision.detail == "the broker did not answer the what-if within 20s"
    assert sim.ledger.order("put-unanswered") is None


def test_with_the_what_if_switched_off_a_short_put_goes_out_on_our_checks_alone(
    tmp_path: Path,
) -> None:
    config = make_config(risk="what_if_margin = false", filters=FILTERS)
    sim = start_engine(tmp_path, config, broker_factory=_Silent)
    _place(sim, _short_put(sim, "put-no-check", 1))
    assert sim.engine.broker.asked == []
    assert sim.ledger.order("put-no-check") is not None


def test_an_entry_whose_other_side_started_working_while_the_what_if_was_out_is_refused(
    tmp_path: Path,
) -> None:
    config = make_config(risk="what_if_timeout_s = 600", filters=FILTERS)
    sim = start_engine(tmp_path, config, broker_factory=_Silent)
    sale = _short_put(sim, "put-waiting", 1, strike=Decimal(110))  # worth about $10
    _place(sim, sale)  # waits for its what-if
    bid = replace(
        sale,
        proposal_id="put-bid",
        va_id="va2",
        side=Side.BUY,
        limit_price=Decimal("5.00"),  # ~47 % below the bid: it rests, inside the option collar
        time=sim.engine.clock.now(),
    )
    _place(sim, bid)  # a long option: no what-if, it works at once
    bid_order = sim.ledger.order("put-bid")
    assert bid_order is not None and bid_order.status.is_working, bid_order
    now = sim.engine.clock.now()
    answer = MarginCheck("put-waiting", Decimal(100), Decimal(1_000_000), now)
    sim.engine.book.tell("order_manager", answer)
    sim.idle()
    decision = sim.decisions()["put-waiting"]
    assert (decision.accepted, decision.rule) == (False, "opposite_side")
    assert sim.ledger.order("put-waiting") is None
