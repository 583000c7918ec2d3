"""Settlements found at start-up: the ledger's expired options IB no longer lists are expired
or assigned by what IB's stock position shows (pure)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.domain import Contract
from core.events import AssignmentEvent, ExpiryEvent
from core.rules.settle_found import allocate, settlements_found

TZ = ZoneInfo("America/New_York")
MONDAY = datetime(2024, 3, 18, 9, 30, tzinfo=TZ)
FRIDAY = date(2024, 3, 15)
AAPL = Contract.stock("AAPL")
PUT_195 = Contract.option("AAPL", FRIDAY, Decimal(195), "P")
PUT_180 = Contract.option("AAPL", FRIDAY, Decimal(180), "P")
LATER = Contract.option("AAPL", date(2024, 3, 22), Decimal(180), "P")


def _expired(contract: Contract) -> bool:
    return contract.expiry is not None and contract.expiry <= FRIDAY


def test_an_expired_put_ib_no_longer_lists_expired_when_the_stock_did_not_move() -> None:
    ours = {PUT_180.key: (PUT_180, -2), AAPL.key: (AAPL, 0)}
    (event,) = settlements_found(ours, {}, expired=_expired, time=MONDAY)
    assert isinstance(event, ExpiryEvent)
    assert (event.contract, event.quantity) == (PUT_180, -2)


def test_the_stock_ib_delivered_names_the_assigned_put_and_the_other_expires() -> None:
    ours = {PUT_195.key: (PUT_195, -1), PUT_180.key: (PUT_180, -1)}
    events = settlements_found(ours, {"AAPL": 100}, expired=_expired, time=MONDAY)
    by_kind = {type(e).__name__: e for e in events}
    assigned = by_kind["AssignmentEvent"]
    assert isinstance(assigned, AssignmentEvent)
    assert (assigned.contract, assigned.stock_quantity, assigned.price) == (
        PUT_195,
        100,
        Decimal(195),
    )
    assert by_kind["ExpiryEvent"].contract == PUT_180


def test_nothing_is_settled_for_an_option_still_listed_or_not_expired_or_unexplained() -> None:
    ours = {PUT_195.key: (PUT_195, -1), LATER.key: (LATER, -1)}
    assert settlements_found(ours, {PUT_195.key: -1}, expired=_expired, time=MONDAY) == []
    # A stock difference no option explains proves nothing: the comparison will report it.
    only = {PUT_195.key: (PUT_195, -1)}
    assert settlements_found(only, {"AAPL": 37}, expired=_expired, time=MONDAY) == []


def test_a_partial_assignment_is_shared_among_the_holders_up_to_what_each_holds() -> None:
    holders = [("va1", -1), ("va2", -3)]
    assert allocate(holders, -2) == [("va1", -1), ("va2", -1)]
    assert allocate(holders, -4) == holders
    assert allocate([("va1", 2)], 1) == [("va1", 1)]
