"""``SettlementWatch``: expiries and assignments inferred from IB's position changes, our own
executions explaining the rest (pure; no threads, no network)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from broker.ib.parsing.settlement import SettlementWatch, UnexplainedChange
from core.domain import Contract, Side
from core.events import AssignmentEvent, ExpiryEvent

TZ = ZoneInfo("America/New_York")
AT = datetime(2024, 3, 15, 16, 0, tzinfo=TZ)
EXPIRY = date(2024, 3, 15)
AAPL = Contract.stock("AAPL")
PUT_195 = Contract.option("AAPL", EXPIRY, Decimal("195"), "P")
PUT_200 = Contract.option("AAPL", EXPIRY, Decimal("200"), "P")
PUT_180 = Contract.option("AAPL", EXPIRY, Decimal("180"), "P")
LATER_PUT = Contract.option("AAPL", date(2024, 3, 22), Decimal("180"), "P")


def watch() -> SettlementWatch:
    return SettlementWatch(
        account="DU1",
        expired=lambda c: c.expiry is not None and c.expiry <= EXPIRY,
        underlying_price=lambda symbol: Decimal("190.25"),
        grace_s=2.0,
    )


def opened(w: SettlementWatch, contract: Contract, quantity: int, exec_id: str) -> None:
    """A position opened by our own execution (explained, so nothing is left open)."""
    side = Side.BUY if quantity > 0 else Side.SELL
    w.execution(exec_id, contract, side, abs(quantity))
    assert w.position(contract, quantity, now_s=0.0, time=AT) == []


def test_a_short_put_that_vanishes_while_the_stock_grows_by_100_a_contract_is_assigned() -> None:
    w = watch()
    opened(w, PUT_195, -2, "e1")
    assert w.position(PUT_195, 0, now_s=10.0, time=AT) == []
    (event,) = w.position(AAPL, 200, now_s=10.0, time=AT)
    assert event == AssignmentEvent(
        "ib-assigned-DU1-AAPL-20240315-P-195",
        PUT_195,
        -2,
        AAPL,
        200,
        Decimal("195"),
        Decimal("190.25"),
        AT,
    )
    assert w.expire(100.0) == ([], [])


def test_the_stock_change_may_come_before_the_option_goes_to_zero() -> None:
    w = watch()
    opened(w, PUT_195, -1, "e1")
    assert w.position(AAPL, 100, now_s=10.0, time=AT) == []
    (event,) = w.position(PUT_195, 0, now_s=10.1, time=AT)
    assert isinstance(event, AssignmentEvent) and event.stock_quantity == 100


def test_an_expired_option_that_vanishes_with_no_stock_change_expires_after_the_grace() -> None:
    w = watch()
    opened(w, PUT_180, -1, "e1")
    assert w.position(PUT_180, 0, now_s=10.0, time=AT) == []
    assert w.expire(11.0) == ([], [])  # still within the grace
    events, unexplained = w.expire(12.5)
    assert events == [
        ExpiryEvent("ib-expiry-DU1-AAPL-20240315-P-180", PUT_180, -1, Decimal("190.25"), AT)
    ]
    assert unexplained == []


def test_two_assigned_puts_share_one_stock_change_and_an_otm_one_expires() -> None:
    w = watch()
    opened(w, PUT_195, -1, "e1")
    opened(w, PUT_200, -2, "e2")
    opened(w, PUT_180, -1, "e3")
    assert w.position(PUT_195, 0, now_s=10.0, time=AT) == []
    assert w.position(AAPL, 300, now_s=10.0, time=AT) == []  # 100 + 200, not yet all seen
    assert w.position(PUT_180, 0, now_s=10.0, time=AT) == []
    events = w.position(PUT_200, 0, now_s=10.0, time=AT)
    assert all(isinstance(e, AssignmentEvent) for e in events)
    assert sorted(
        (e.contract.key, e.stock_quantity) for e in events if isinstance(e, AssignmentEvent)
    ) == [
        (PUT_195.key, 100),
        (PUT_200.key, 200),
    ]
    expired, _ = w.expire(13.0)
    assert [(type(e), e.contract) for e in expired] == [(ExpiryEvent, PUT_180)]


def test_our_own_buy_to_close_explains_the_option_going_to_zero() -> None:
    w = watch()
    opened(w, PUT_180, -1, "e1")
    w.execution("e2", PUT_180, Side.BUY, 1)
    assert w.position(PUT_180, 0, now_s=10.0, time=AT) == []
    assert w.expire(20.0) == ([], [])


def test_an_execution_replayed_after_its_position_change_explains_it_late() -> None:
    w = watch()
    opened(w, PUT_180, -1, "e1")
    assert w.position(PUT_180, 0, now_s=10.0, time=AT) == []
    w.execution("e2", PUT_180, Side.BUY, 1)  # e.g. reqExecutions after a reconnect
    w.execution("e2", PUT_180, Side.BUY, 1)  # the same execution again counts once
    assert w.expire(20.0) == ([], [])
    assert w.held(PUT_180.key) == 0


def test_an_option_not_yet_expired_that_vanishes_unexplained_is_reported_not_settled() -> None:
    w = watch()
    opened(w, LATER_PUT, -1, "e1")
    assert w.position(LATER_PUT, 0, now_s=10.0, time=AT) == []
    assert w.expire(13.0) == ([], [UnexplainedChange(LATER_PUT, 1)])


def test_a_positions_snapshot_without_a_held_option_counts_it_as_zero() -> None:
    w = watch()
    opened(w, PUT_195, -1, "e1")
    events = w.snapshot([(AAPL, 100)], now_s=10.0, time=AT)
    assert [(type(e), e.contract) for e in events] == [(AssignmentEvent, PUT_195)]
    # The same snapshot again changes nothing.
    assert w.snapshot([(AAPL, 100)], now_s=11.0, time=AT) == []


def test_a_delivery_two_puts_could_explain_goes_to_the_deeper_in_the_money_one() -> None:
    w = watch()
    opened(w, PUT_180, -1, "e1")
    opened(w, PUT_195, -1, "e2")
    assert w.position(PUT_180, 0, now_s=10.0, time=AT) == []
    assert w.position(PUT_195, 0, now_s=10.0, time=AT) == []
    (assigned,) = w.position(AAPL, 100, now_s=10.0, time=AT)
    assert isinstance(assigned, AssignmentEvent) and assigned.contract == PUT_195
    expired, _ = w.expire(13.0)
    assert [(type(e), e.contract) for e in expired] == [(ExpiryEvent, PUT_180)]


def test_a_short_put_assigned_before_expiry_is_matched_with_its_stock_delivery() -> None:
    w = watch()
    opened(w, LATER_PUT, -3, "e1")
    assert w.position(LATER_PUT, -1, now_s=10.0, time=AT) == []  # two of three assigned
    assert w.position(AAPL, 200, now_s=10.5, time=AT) == []  # a closing fill may explain it
    assert w.expire(11.0) == ([], [])
    (event,), dropped = w.expire(12.0)
    assert dropped == []
    assert event == AssignmentEvent(
        "ib-assigned-DU1-AAPL-20240322-P-180-early-left1",
        LATER_PUT,
        -2,
        AAPL,
        200,
        Decimal("180"),
        Decimal("190.25"),
        AT,
    )
    assert w.expire(100.0) == ([], [])


def test_a_short_put_bought_back_while_stock_was_bought_is_not_an_early_assignment() -> None:
    w = watch()
    opened(w, LATER_PUT, -1, "e1")
    assert w.position(LATER_PUT, 0, now_s=10.0, time=AT) == []
    assert w.position(AAPL, 100, now_s=10.0, time=AT) == []
    w.execution("e2", LATER_PUT, Side.BUY, 1)  # our executions arrive within the grace
    w.execution("e3", AAPL, Side.BUY, 100)
    assert w.expire(20.0) == ([], [])


def test_a_buy_back_sent_after_an_unseen_early_assignment_leaves_it_an_assignment() -> None:
    # IB assigned the short put overnight; at the open, before the watch's grace ended, our
    # buy-to-close of the (gone) put filled: IB holds the delivered stock and a long put.
    w = watch()
    opened(w, LATER_PUT, -1, "e1")
    assert w.position(LATER_PUT, 0, now_s=10.0, time=AT) == []
    assert w.position(AAPL, 100, now_s=10.0, time=AT) == []
    w.execution("e2", LATER_PUT, Side.BUY, 1)
    assert w.position(LATER_PUT, 1, now_s=10.5, time=AT) == []
    assert w.expire(11.0) == ([], [])  # within the grace
    (event,), dropped = w.expire(13.0)
    assert dropped == []
    assert isinstance(event, AssignmentEvent)
    assert (event.contract, event.quantity, event.stock, event.stock_quantity) == (
        LATER_PUT,
        -1,
        AAPL,
        100,
    )
    assert event.event_id.endswith("-early-left0")
    assert w.expire(100.0) == ([], [])


def test_a_corrected_execution_counts_only_its_difference() -> None:
    w = watch()
    w.execution("ab.01.01", AAPL, Side.BUY, 100)
    w.execution("ab.01.02", AAPL, Side.BUY, 60)  # corrected to 60 shares
    assert w.position(AAPL, 60, now_s=0.0, time=AT) == []
    assert w.expire(100.0) == ([], [])


def test_a_new_trade_after_a_change_was_explained_waits_for_its_own_position() -> None:
    w = watch()
    opened(w, LATER_PUT, -1, "e1")
    assert w.position(LATER_PUT, 0, now_s=10.0, time=AT) == []
    w.execution("e2", LATER_PUT, Side.BUY, 1)  # late: explains the change to 0
    w.execution("e3", LATER_PUT, Side.SELL, 2)  # a new sale, before its position message
    assert w.expire(12.5) == ([], [])  # the sale is not an unexplained change
    assert w.position(LATER_PUT, -2, now_s=12.6, time=AT) == []
    assert w.expire(100.0) == ([], [])
