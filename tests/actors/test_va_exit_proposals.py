"""The VirtualAccount's ExitProposals on its own (no actor, no engine): a whole position
proposed closed, a duplicate refused, and a working option exit replaced by a more urgent one
only once its cancel is confirmed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from actors.messages.commands import CancelOrder, ExitRequest, OrderProposal
from actors.messages.events import Fill
from actors.virtual_account.exits import ExitProposals
from actors.virtual_account.state import DecisionLog, VAState
from core.config import AccountConfig
from core.domain import Contract, OrderType, Purpose, Side
from core.rules.decision import Decision
from core.rules.va_rules import VABook
from core.strategies.registry import build_strategy

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
PUT = Contract.option("AAA", date(2026, 12, 18), Decimal("95"), "P")


class Clock:
    def now(self) -> datetime:
        return NOW


def build() -> tuple[ExitProposals, VAState, list[tuple[str, object]]]:
    """ExitProposals over a VA short two puts, with what it tells kept in a list."""
    account = AccountConfig.model_validate(
        {"id": "v1", "capital": 100_000, "universe": ["AAA"], "strategy": {"kind": "naked_put"}}
    )
    book = VABook("v1", Decimal(100_000))
    book.apply_fill(
        Fill(
            "e1", "o1", "v1", PUT, Side.SELL, 2, Decimal("1.50"), Decimal(1), NOW, Purpose.ENTRY, ""
        ),
        account.limits,
    )
    state = VAState(
        va_id="v1",
        account=account,
        vabook=book,
        strategy=build_strategy(account.strategy),
        universe={"AAA": Contract.stock("AAA")},
    )
    told: list[tuple[str, object]] = []

    def tell(name: str, message: object) -> bool:
        told.append((name, message))
        return True

    ids = iter(f"v1-x-{n}" for n in range(100))
    ctx: Any = SimpleNamespace(
        clock=Clock(),
        quotes=SimpleNamespace(latest=lambda key: None),
        config=SimpleNamespace(sector_of=lambda symbol: "Tech"),
        new_id=lambda prefix: next(ids),
    )
    log = DecisionLog(clock=Clock(), address="va:v1", tell=tell)
    return ExitProposals(ctx=ctx, state=state, log=log, tell=tell), state, told


def request(reason: str) -> ExitRequest:
    return ExitRequest("v1", PUT, reason, NOW, OrderType.LMT, Decimal("0.75"))


def test_an_exit_request_proposes_buying_back_the_whole_short_position() -> None:
    exits, state, told = build()
    exits.on_exit_request(request("profit_target"))
    [(name, proposal)] = told
    assert name == "governor" and isinstance(proposal, OrderProposal)
    assert (proposal.side, proposal.quantity, proposal.purpose) == (Side.BUY, 2, Purpose.EXIT)
    assert proposal.ref_price == Decimal("1.50")  # no quote: the average price
    assert state.vabook.working_exits == {proposal.proposal_id: PUT.key}
    assert exits.reasons == {proposal.proposal_id: "profit_target"}


def test_a_second_exit_as_urgent_as_the_working_one_is_not_sent() -> None:
    exits, _state, told = build()
    exits.on_exit_request(request("stop"))
    exits.on_exit_request(request("time"))
    assert len(told) == 1
    refused = exits.propose(PUT, "stop", NOW, "p2", OrderType.MKT, None)
    assert isinstance(refused, Decision) and refused.rule == "exit_working"


def test_a_more_urgent_exit_cancels_the_working_one_and_goes_out_once_it_has_ended() -> None:
    exits, state, told = build()
    exits.on_exit_request(request("profit_target"))
    working = next(iter(state.vabook.working_exits))
    told.clear()
    exits.on_exit_request(request("stop"))
    assert told == [("order_manager", CancelOrder(working, "v1", "stop"))]
    told.clear()
    state.vabook.working_exits.pop(working)  # the cancel is confirmed
    assert exits.finished(working, PUT.key) == "profit_target"
    [(name, proposal)] = told
    assert name == "governor" and isinstance(proposal, OrderProposal)
    assert proposal.reason == "stop" and exits.reasons[proposal.proposal_id] == "stop"


def test_a_close_with_nothing_held_is_refused_as_no_position() -> None:
    exits, _state, _told = build()
    refused = exits.propose(Contract.stock("AAA"), "signal", NOW, "p1", OrderType.MKT, None)
    assert isinstance(refused, Decision) and refused.rule == "no_position"
