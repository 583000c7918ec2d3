"""The order desk's ``Brackets`` and ``OrderSender`` built alone, without the desk: an entry
held for its attached stop, the family sent parent first, the safety release, a rejected
child taking its parent down; requests kept while the link is down (no socket, no thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ib_async import Order
from ib_desk_support import DeskBench, tracked_entry, tracked_stop

from broker.ib.brackets import Brackets
from broker.ib.context import IbOptions
from broker.ib.order_sending import OrderSender
from broker.ib.order_state import PacedOutbox, Tracked
from core.domain import OrderStatus


class RecordingSender:
    """A ``FamilySender`` that runs paced actions at once and records what went out."""

    def __init__(self, *, refuse: frozenset[str] = frozenset()) -> None:
        self.refuse = refuse  # client order ids whose placement fails
        self.sent: list[tuple[str, str | None]] = []  # (order, parent named at IB)
        self.cancelled: list[Order] = []
        self.went_out = asyncio.Event()

    def paced(self, action: Callable[[], object], *, keep_while_down: bool = False) -> None:
        action()

    def send(self, tracked: Tracked, *, parent: Tracked | None = None) -> bool:
        cid = tracked.request.client_order_id
        if cid in self.refuse:
            return False
        self.sent.append((cid, parent.request.client_order_id if parent else None))
        self.went_out.set()
        return True

    def cancel_at_ib(self, order: Order) -> None:
        self.cancelled.append(order)


def _brackets(bench: DeskBench, sender: RecordingSender) -> Brackets:
    return Brackets(bench.ctx, bench.table, sender=sender, statuses=bench.statuses)


async def test_a_held_entry_goes_out_before_its_stop_and_is_then_marked_transmitted() -> None:
    bench, sender = DeskBench(), RecordingSender()
    brackets = _brackets(bench, sender)
    entry = bench.track(tracked_entry(has_attached=True))
    brackets.hold(entry)
    assert entry.held and sender.sent == []
    assert entry.order is not None and entry.order.transmit is False

    brackets.place_child(bench.track(tracked_stop()), entry)

    assert sender.sent == [("entry", None), ("stop", "entry")]
    assert not entry.held and entry.hold_timer is None
    assert entry.order.transmit is True  # ib_async must not take it for an unsent order


async def test_an_entry_whose_stop_never_comes_is_sent_alone_after_the_attached_wait() -> None:
    bench = DeskBench(options=IbOptions(attached_wait_s=0.01))
    sender = RecordingSender()
    entry = bench.track(tracked_entry(has_attached=True))
    _brackets(bench, sender).hold(entry)

    await asyncio.wait_for(sender.went_out.wait(), 2.0)

    assert sender.sent == [("entry", None)]
    assert not entry.held
    assert entry.order is not None and entry.order.transmit is True


async def test_a_rejected_stop_cancels_its_held_entry_here_and_nothing_reaches_ib() -> None:
    bench, sender = DeskBench(), RecordingSender()
    brackets = _brackets(bench, sender)
    entry = bench.track(tracked_entry(has_attached=True))
    brackets.hold(entry)

    brackets.drop_orphaned_parent(bench.track(tracked_stop()))

    assert entry.status is OrderStatus.CANCELLED and not entry.held
    (event,) = bench.recorder.status_events("entry")
    assert event.status is OrderStatus.CANCELLED
    assert event.reason == "its attached order stop was rejected"
    assert sender.sent == [] and sender.cancelled == []


def test_a_stop_that_failed_to_go_out_cancels_its_entry_at_ib() -> None:
    bench, sender = DeskBench(), RecordingSender(refuse=frozenset({"stop"}))
    entry = bench.track(tracked_entry(order_id=7))  # sent, not held, still unacknowledged

    _brackets(bench, sender).place_child(bench.track(tracked_stop()), entry)

    assert sender.cancelled == [entry.order]
    assert entry.cancel_reason == "its attached order stop was rejected"


def test_a_stop_whose_entry_ended_unfilled_is_cancelled_and_never_sent() -> None:
    bench, sender = DeskBench(), RecordingSender()
    entry = bench.track(tracked_entry(order_id=7))
    bench.statuses.report(entry, OrderStatus.CANCELLED, "cancelled by the engine")
    child = bench.track(tracked_stop())

    _brackets(bench, sender).place_child(child, entry)

    assert child.status is OrderStatus.CANCELLED
    assert bench.recorder.status_events("stop")[-1].reason == "its parent entry ended unfilled"
    assert sender.sent == []


def test_a_stop_whose_entry_filled_goes_out_on_its_own() -> None:
    bench, sender = DeskBench(), RecordingSender()
    entry = bench.track(tracked_entry(order_id=7))
    entry.filled = 100
    entry.status = OrderStatus.FILLED

    _brackets(bench, sender).place_child(bench.track(tracked_stop()), entry)

    assert sender.sent == [("stop", None)]


async def test_a_stop_the_facade_refused_cancels_the_entry_held_for_it() -> None:
    bench, sender = DeskBench(), RecordingSender()
    brackets = _brackets(bench, sender)
    entry = bench.track(tracked_entry(has_attached=True))
    brackets.hold(entry)

    brackets.child_refused(tracked_stop().request, "the gate is closed")

    assert entry.status is OrderStatus.CANCELLED
    assert entry.cancel_reason == "its attached order stop was refused: the gate is closed"
    assert entry.hold_timer is None and sender.sent == []


# -- OrderSender -------------------------------------------------------------------------------
def _sender(bench: DeskBench) -> OrderSender:
    return OrderSender(
        bench.ctx, bench.table, statuses=bench.statuses, outbox=PacedOutbox(bench.ctx)
    )


def test_a_cancel_asked_while_the_link_is_down_waits_for_replay_kept() -> None:
    bench = DeskBench()
    sender = _sender(bench)
    ran: list[str] = []
    bench.ctx.link_up = False

    sender.paced(lambda: ran.append("cancel"), keep_while_down=True)
    sender.paced(lambda: ran.append("placement"))
    assert ran == ["placement"]

    sender.replay_kept()
    assert ran == ["placement", "cancel"]
    sender.replay_kept()
    assert ran == ["placement", "cancel"]  # sent once


def test_a_placement_while_the_link_is_down_ends_rejected_unsent() -> None:
    bench = DeskBench()
    sender = _sender(bench)
    entry = bench.track(tracked_entry())
    bench.ctx.link_up = False

    assert sender.send(entry) is False

    assert entry.status is OrderStatus.REJECTED and entry.sent_at is None
    assert bench.recorder.status_events("entry")[-1].reason == "not sent: the link to IB is down"
    assert sender.sent == 0
