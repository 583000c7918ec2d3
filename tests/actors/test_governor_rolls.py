"""The governor's combo path for rolls: a roll (a combo with ``rolled_from``) is a close plus
an open, so its opening leg is judged as an entry of that option (here the net delta limit
refuses it with its numbers) while a combo that only closes passes as an exit."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from actors.messages.commands import OrderProposal
from actors.risk_governor.entries import roll_opening_leg
from core.domain import ComboLeg, Contract, OrderType, Purpose, Side
from tests.actors.test_risk_governor import _greek_config, _short_aapl_put
from tests.support.engine import SimEngine, start_engine


def _roll_of(sim: SimEngine, held: OrderProposal, pid: str) -> OrderProposal:
    """Roll ``held`` into the same strike two expiries later, carrying the new put's greeks."""
    chain = sim.engine.broker.option_chain("AAPL", right="P")
    expiries = sorted({q.contract.expiry for q in chain if q.contract.expiry})
    later = [q for q in chain if q.contract.expiry == expiries[3]]
    new = min(later, key=lambda q: abs((q.contract.strike or 0) - (held.contract.strike or 0)))
    assert new.delta is not None and new.delta < -0.3
    return OrderProposal(
        pid,
        "va1",
        Contract.combo("AAPL"),
        Side.BUY,
        held.quantity,
        OrderType.LMT,
        Purpose.EXIT,
        "roll time",
        sim.engine.clock.now(),
        ref_price=Decimal(str(round(new.mid, 2))),
        limit_price=Decimal("-0.50"),
        delta=new.delta,
        theta=new.theta,
        vega=new.vega,
        legs=(ComboLeg(held.contract, 1, Side.BUY), ComboLeg(new.contract, 1, Side.SELL)),
        rolled_from=held.proposal_id,
    )


def test_a_roll_is_judged_by_its_new_leg_as_an_entry_and_a_plain_close_is_not(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, _greek_config("max_net_delta_dollars = 15000"))
    first, _ = _short_aapl_put(sim, "put-1", 2)
    sim.engine.book.tell("governor", first)
    sim.idle()
    assert sim.ledger.order("put-1") is not None
    roll = _roll_of(sim, first, "roll-1")
    opening = roll_opening_leg(roll)
    assert (opening.contract, opening.side, opening.quantity, opening.purpose) == (
        roll.legs[1].contract,
        Side.SELL,
        2,
        Purpose.ENTRY,
    )
    assert not opening.legs and not opening.rolled_from and opening.delta == roll.delta
    sim.engine.book.tell("governor", roll)
    sim.idle()
    decision = sim.decisions()["roll-1"]
    assert (decision.accepted, decision.stage, decision.rule) == (False, "governor", "net_delta")
    assert sim.ledger.order("roll-1") is None
    # The same combo that is no roll (nothing opened by it is judged): passed as an exit.
    close = replace(roll, proposal_id="close-1", rolled_from="")
    assert close.reduce_only and not roll.reduce_only
    sim.engine.book.tell("governor", close)
    sim.idle()
    assert sim.ledger.order("close-1") is not None
