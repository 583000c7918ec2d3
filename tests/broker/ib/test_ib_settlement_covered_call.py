"""``SettlementWatch`` on a wheel's covered call (pure): the stock an assigned put delivered is
held, a call is written on it, and the call's end is inferred from IB's position changes as for
a put: in the money at expiry (the call goes to 0 while the stock goes to 0: called away),
assigned early before expiry (the same two changes on any day), or out of the money (the call
goes to 0, the stock stays: expired)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from broker.ib.parsing.settlement import SettlementWatch
from core.domain import Contract
from core.events import AssignmentEvent, ExpiryEvent
from tests.broker.ib.test_ib_settlement import AAPL, AT, EXPIRY, opened, watch

CALL_185 = Contract.option("AAPL", EXPIRY, Decimal("185"), "C")
LATER_CALL = Contract.option("AAPL", date(2024, 4, 19), Decimal("185"), "C")


def _covered(w: SettlementWatch, call: Contract) -> None:
    opened(w, AAPL, 300, "stock")
    opened(w, call, -3, "call")


def test_a_covered_call_in_the_money_at_expiry_takes_the_stock_away() -> None:
    w = watch()
    _covered(w, CALL_185)
    assert w.position(CALL_185, 0, now_s=10.0, time=AT) == []
    (event,) = w.position(AAPL, 0, now_s=10.0, time=AT)
    assert event == AssignmentEvent(
        "ib-assigned-DU1-AAPL-20240315-C-185",
        CALL_185,
        -3,
        AAPL,
        -300,
        Decimal("185"),
        Decimal("190.25"),
        AT,
    )
    assert w.expire(100.0) == ([], [])


def test_a_covered_call_assigned_early_is_inferred_after_the_grace() -> None:
    w = watch()
    _covered(w, LATER_CALL)
    assert w.position(LATER_CALL, 0, now_s=10.0, time=AT) == []
    assert w.position(AAPL, 0, now_s=10.0, time=AT) == []  # before the grace: ours may come
    events, unexplained = w.expire(12.5)
    assert unexplained == []
    (event,) = events
    assert isinstance(event, AssignmentEvent)
    assert (event.contract, event.quantity, event.stock_quantity) == (LATER_CALL, -3, -300)
    assert "early" in event.event_id


def test_a_covered_call_out_of_the_money_expires_and_the_stock_stays() -> None:
    w = watch()
    _covered(w, CALL_185)
    assert w.position(CALL_185, 0, now_s=10.0, time=AT) == []
    events, unexplained = w.expire(12.5)
    assert events == [
        ExpiryEvent("ib-expiry-DU1-AAPL-20240315-C-185", CALL_185, -3, Decimal("190.25"), AT)
    ]
    assert unexplained == [] and w.held(AAPL.key) == 300
