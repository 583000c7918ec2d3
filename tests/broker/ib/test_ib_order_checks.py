"""The order desk's ``OrderChecks``, ``OrderSync`` and ``OrderStatuses`` built alone, without
the desk: acknowledgement checks against IB's lists, modifications kept until IB echoes them,
an earlier run's orders learned, statuses after a reconnect (no socket, no thread)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from ib_async import Trade
from ib_desk_support import CLIENT_ID, DeskBench, ib_trade, tracked_entry

from broker.ib.order_checks import IbOrders, OrderChecks
from broker.ib.order_state import Tracked
from broker.ib.order_sync import OrderSync
from core.domain import OrderStatus
from core.events import ModifyRefusedEvent


class IbLists:
    """``read_orders`` for the checks: answers with the lists a test sets, counting reads."""

    def __init__(self, open_all: list[Trade] | None = None) -> None:
        self.answer: IbOrders = (open_all or [], [])
        self.reads = 0

    async def __call__(self) -> IbOrders:
        self.reads += 1
        return self.answer


def _checks(bench: DeskBench, lists: IbLists | None = None) -> OrderChecks:
    return OrderChecks(
        bench.ctx,
        bench.table,
        flow=bench.flow,
        statuses=bench.statuses,
        read_orders=lists or IbLists(),
    )


def _sent(bench: DeskBench, tracked: Tracked, *, seconds_ago: float) -> Tracked:
    tracked.sent_at = bench.clock.now() - timedelta(seconds=seconds_ago)
    return bench.track(tracked)


def _modified(bench: DeskBench, checks: OrderChecks, limit: str) -> Tracked:
    """A working entry (limit 190 at IB) whose limit we changed to ``limit``, unconfirmed."""
    tracked = bench.track(tracked_entry(order_id=5))
    tracked.status = OrderStatus.SUBMITTED
    checks.hold_modify(tracked)
    assert tracked.order is not None
    tracked.order.lmtPrice = float(limit)
    tracked.request = replace(tracked.request, limit_price=Decimal(limit))
    return tracked


# -- acknowledgements and IB's lists -----------------------------------------------------------
def test_an_overdue_order_ib_lists_is_acknowledged_and_one_it_does_not_list_is_rejected() -> None:
    bench = DeskBench()
    checks = _checks(bench)
    listed = _sent(bench, tracked_entry("listed", order_id=5), seconds_ago=31)
    missing = _sent(bench, tracked_entry("missing", order_id=6), seconds_ago=31)
    recent = _sent(bench, tracked_entry("recent", order_id=7), seconds_ago=5)

    checks.take_ib_orders([ib_trade("listed", "Submitted")], [], asked_at=bench.clock.now())

    assert listed.status is OrderStatus.SUBMITTED and listed.at_ib
    assert missing.status is OrderStatus.REJECTED
    (event,) = bench.recorder.status_events("missing")
    assert event.reason == "IB did not acknowledge it within 30s and lists no such order"
    assert recent.status is OrderStatus.PENDING_SUBMIT  # not overdue: left alone


def test_an_order_sent_after_the_read_was_asked_for_waits_for_the_next_read() -> None:
    # A read that took long: the order went out while it was under way, so IB's lists need not
    # have it yet; an order that fills meanwhile must not be called rejected.
    bench = DeskBench()
    asked_at = bench.clock.now() - timedelta(seconds=40)
    during = _sent(bench, tracked_entry("during", order_id=5), seconds_ago=31)
    before = _sent(bench, tracked_entry("before", order_id=6), seconds_ago=45)

    _checks(bench).take_ib_orders([], [], asked_at=asked_at)

    assert during.status is OrderStatus.PENDING_SUBMIT and not bench.recorder.statuses("during")
    assert before.status is OrderStatus.REJECTED


def test_another_clients_order_with_our_order_ref_does_not_acknowledge_ours() -> None:
    bench = DeskBench()
    mine = _sent(bench, tracked_entry("mine", order_id=5), seconds_ago=31)

    _checks(bench).take_ib_orders(
        [ib_trade("mine", "Submitted", client_id=99)], [], asked_at=bench.clock.now()
    )

    assert mine.status is OrderStatus.REJECTED


def test_an_order_ib_ended_after_an_error_we_did_not_ask_for_is_rejected_with_ibs_reason() -> None:
    bench = DeskBench()
    tracked = bench.track(tracked_entry(order_id=5))
    tracked.status, tracked.at_ib = OrderStatus.SUBMITTED, True
    tracked.refusal_code, tracked.reason = 10311, "directly routed"

    _checks(bench).take_ib_orders([], [ib_trade("entry", "Cancelled")], asked_at=bench.clock.now())

    assert tracked.status is OrderStatus.REJECTED
    assert bench.recorder.status_events("entry")[-1].reason == "directly routed"


async def test_overdue_orders_are_checked_with_one_fresh_read_of_ibs_orders() -> None:
    bench = DeskBench()
    bench.ctx.link_up = True
    lists = IbLists()
    checks = _checks(bench, lists)
    overdue = _sent(bench, tracked_entry(order_id=5), seconds_ago=31)

    checks.check_acks()
    checks.check_acks()  # one check at a time
    (check,) = [t for t in asyncio.all_tasks() if t.get_name() == "ib-ack-check"]
    await asyncio.wait_for(check, 2.0)

    assert lists.reads == 1 and checks.verifications == 1
    assert overdue.status is OrderStatus.REJECTED


def test_no_read_is_made_while_nothing_is_overdue_or_the_link_is_down() -> None:
    bench = DeskBench()
    lists = IbLists()
    checks = _checks(bench, lists)
    _sent(bench, tracked_entry(order_id=5), seconds_ago=31)
    bench.ctx.link_up = False

    checks.check_acks()  # no running loop needed: nothing is started

    assert lists.reads == 0


# -- modifications -----------------------------------------------------------------------------
def test_a_refused_modification_puts_the_order_and_request_back_and_tells_the_engine() -> None:
    bench = DeskBench()
    checks = _checks(bench)
    tracked = _modified(bench, checks, "191.5")

    assert checks.modify_refused(tracked, 110, "price does not conform") is True

    assert tracked.order is not None and tracked.order.lmtPrice == 190.0
    assert tracked.request.limit_price == Decimal("190.0") and tracked.modify is None
    (refused,) = bench.recorder.of(ModifyRefusedEvent)
    assert (refused.client_order_id, refused.limit_price, refused.code) == (
        "entry",
        Decimal("190.0"),
        110,
    )


def test_a_notice_about_a_modified_order_leaves_the_modification_pending() -> None:
    bench = DeskBench()
    checks = _checks(bench)
    tracked = _modified(bench, checks, "191.5")

    assert checks.modify_refused(tracked, 399, "order will be held until the open") is False
    assert checks.modify_refused(tracked, 202, "cancelled") is False

    assert tracked.modify is not None and tracked.request.limit_price == Decimal("191.5")
    assert bench.recorder.of(ModifyRefusedEvent) == []


def test_only_an_echo_of_the_new_values_confirms_a_modification() -> None:
    bench = DeskBench()
    checks = _checks(bench)
    tracked = _modified(bench, checks, "191.5")

    checks.on_open_order(ib_trade("entry", "Submitted", lmt_price=190.0))
    assert tracked.modify is not None

    checks.on_open_order(ib_trade("entry", "Submitted", lmt_price=191.5))
    assert tracked.modify is None


def test_a_second_modification_keeps_what_ib_had_before_the_first() -> None:
    bench = DeskBench()
    checks = _checks(bench)
    tracked = _modified(bench, checks, "191.5")

    checks.hold_modify(tracked)  # the next modification, before IB echoed the first

    assert tracked.modify is not None and tracked.modify.before.limit_price == Decimal("190.0")


# -- OrderSync ---------------------------------------------------------------------------------
def _sync(bench: DeskBench) -> OrderSync:
    return OrderSync(bench.ctx, bench.table, flow=bench.flow, statuses=bench.statuses)


def test_an_earlier_runs_working_orders_of_our_client_are_learned_and_no_others() -> None:
    bench = DeskBench()

    _sync(bench).learn_trades(
        [
            ib_trade("old-working", "Submitted", order_id=3),
            ib_trade("old-filled", "Filled", order_id=4, filled=100),
            ib_trade("theirs", "Submitted", order_id=5, client_id=CLIENT_ID + 1),
        ]
    )

    assert list(bench.table.orders) == ["old-working"]
    learned = bench.table.of_ib_id(3)
    assert learned is not None and learned.status is OrderStatus.SUBMITTED
    assert learned.request.limit_price == Decimal("190")


def test_after_a_reconnect_each_working_order_takes_ibs_status_or_ends_if_ib_lost_it() -> None:
    bench = DeskBench()
    working = bench.track(tracked_entry("working", order_id=3))
    working.status = OrderStatus.SUBMITTED
    gone = bench.track(tracked_entry("gone", order_id=4))
    gone.status = OrderStatus.SUBMITTED
    unsent = bench.track(tracked_entry("unsent"))
    listed = ib_trade("working", "Submitted", order_id=3, filled=40)

    _sync(bench).sync_statuses([listed], [])

    assert (working.status, working.filled) == (OrderStatus.PARTIALLY_FILLED, 40)
    assert gone.status is OrderStatus.CANCELLED
    assert bench.recorder.status_events("gone")[-1].reason == "not at IB after reconnect"
    assert unsent.status is OrderStatus.REJECTED
    assert bench.recorder.status_events("unsent")[-1].reason == "never reached IB (link lost)"


def test_working_lists_the_orders_still_working_and_not_the_ended_ones() -> None:
    bench = DeskBench()
    sync = _sync(bench)
    bench.track(tracked_entry("live", order_id=3)).status = OrderStatus.SUBMITTED
    ended = bench.track(tracked_entry("ended", order_id=4))
    bench.statuses.report(ended, OrderStatus.CANCELLED, "cancelled by the engine")

    assert [(s.client_order_id, s.status) for s in sync.working()] == [
        ("live", OrderStatus.SUBMITTED)
    ]


# -- OrderStatuses -----------------------------------------------------------------------------
def test_an_ended_order_is_never_reported_again() -> None:
    bench = DeskBench()
    tracked = bench.track(tracked_entry())

    bench.statuses.report(tracked, OrderStatus.REJECTED, "first")
    bench.statuses.report(tracked, OrderStatus.CANCELLED, "second")

    assert tracked.status is OrderStatus.REJECTED
    assert [(e.status, e.reason) for e in bench.recorder.status_events("entry")] == [
        (OrderStatus.REJECTED, "first")
    ]


async def test_an_order_ending_while_held_stops_waiting_for_its_attached_order() -> None:
    bench = DeskBench()
    tracked = bench.track(tracked_entry(has_attached=True))
    tracked.held = True
    timer = asyncio.get_running_loop().call_later(60, lambda: None)
    tracked.hold_timer = timer

    bench.statuses.report(tracked, OrderStatus.CANCELLED, "cancelled by the engine")

    assert not tracked.held and tracked.hold_timer is None and timer.cancelled()
