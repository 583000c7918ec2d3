"""Every class of IB error code, injected by the simulated TWS and observed through the
adapter: 1100/1101/1102, data-farm notices, 326, 100, 201, 202, 10349, Inactive, a dropped
socket (reconnect with backoff) and the stale-data watchdog."""

from __future__ import annotations

import time
from collections.abc import Callable

from ib_support import Harness, all_open_orders, limit, stop, wait_until

from broker.tws.server import TwsSimServer
from core.domain import Contract, OrderStatus, Side
from core.events import ConnectionEvent, ConnectionState
from tests.support.recorder import Recorder

MakeHarness = Callable[..., Harness]
DOWN, UP = ConnectionState.DISCONNECTED, ConnectionState.CONNECTED
STALE = ConnectionState.DATA_STALE


def resting_buy(h: Harness, cid: str, below: float = 5.0) -> None:
    assert h.broker.place_order(limit(cid, Side.BUY, h.quote().bid - below, reduce_only=True))
    wait_until(lambda: OrderStatus.SUBMITTED in h.recorder.statuses(cid), what=f"{cid} working")


def fill_resting_buy(h: Harness, below: float = 5.0) -> None:
    """Move the market through a resting buy placed ``below`` under the bid."""
    h.server.set_mid("AAPL", h.quote().bid - below - 1)


def test_1100_disconnects_and_refuses_orders_then_1102_replays_what_filled_and_reconnects(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    resting_buy(h, "rest")
    tws.connectivity_lost()
    wait_until(lambda: h.recorder.connection_states() == [DOWN], what="DISCONNECTED on 1100")
    assert not h.broker.place_order(limit("while-down", Side.BUY, h.quote().ask))
    sent = h.broker.stats()["orders_sent"]
    fill_resting_buy(h)
    time.sleep(0.3)  # the simulator fills the order during the outage
    tws.connectivity_restored()
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="CONNECTED on 1102")
    assert OrderStatus.FILLED in h.recorder.statuses("rest")
    assert sum(e.quantity for e in h.recorder.executions("rest")) == 100
    assert h.broker.stats()["orders_sent"] == sent
    [down, up] = h.recorder.of(ConnectionEvent)
    assert "1100" in down.detail and "1102" in up.detail


def test_1101_data_lost_resubscribes_market_data(tws: TwsSimServer, harness: MakeHarness) -> None:
    h = harness().start("AAPL")
    tws.simulate_outage(0.2, data_lost=True)
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="1100 then 1101")
    seen = len(h.recorder.quotes_of("AAPL"))
    wait_until(lambda: len(h.recorder.quotes_of("AAPL")) > seen + 3, what="quotes after 1101")


def test_data_farm_notices_tear_nothing_down(tws: TwsSimServer, harness: MakeHarness) -> None:
    h = harness().start("AAPL")
    for code, text in (
        (2103, "Market data farm connection is broken:usfarm"),
        (2105, "HMDS data farm connection is broken:ushmds"),
        (2157, "Sec-def data farm connection is broken:secdefnj"),
        (2104, "Market data farm connection is OK:usfarm"),
    ):
        tws.send_error(-1, code, text)
    time.sleep(0.2)
    assert h.recorder.connection_states() == []
    resting_buy(h, "after-notices")
    assert h.broker.connected


def test_client_id_in_use_backs_off_and_retries_the_same_id(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    tws.refuse_next_connect()
    began = time.monotonic()
    h = harness(client_id=21, reconnect_base_s=0.3)
    assert h.broker.client_id == 21
    assert h.broker.stats()["client_id_refusals"] == 1
    assert time.monotonic() - began >= 0.3  # waited before the retry


def test_a_client_id_refused_again_and_again_moves_to_the_next_id(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    tws.refuse_next_connect(3)
    h = harness(client_id=21, client_id_attempts=3)
    assert h.broker.client_id == 22
    assert tws.connected_client_ids() == [22]


def test_pacing_error_100_pauses_and_resends_the_order_ib_dropped(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    tws.pacing_violation_next()
    began = time.monotonic()
    assert h.broker.place_order(limit("paced", Side.BUY, h.quote().ask + 0.05, reduce_only=True))
    wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("paced"), what="filled")
    assert time.monotonic() - began >= 0.9  # the first pause is one second
    stats = h.broker.stats()
    assert stats["pacing_violations"] == 1 and stats["orders_sent"] == 2
    assert OrderStatus.CANCELLED not in h.recorder.statuses("paced")


def test_error_201_rejects_the_order_with_ibs_reason(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    tws.reject_next_order("MARGIN TOO LOW (TEST)")
    assert h.broker.place_order(limit("rej", Side.BUY, h.quote().ask, reduce_only=True))
    wait_until(lambda: h.recorder.statuses("rej"), what="the rejection")
    [event] = h.recorder.status_events("rej")
    assert (event.status, event.reason) == (OrderStatus.REJECTED, "MARGIN TOO LOW (TEST)")


def test_error_202_acknowledges_a_cancel_once(tws: TwsSimServer, harness: MakeHarness) -> None:
    h = harness().start("AAPL")
    resting_buy(h, "c1")
    h.broker.cancel_order("c1")
    wait_until(lambda: OrderStatus.CANCELLED in h.recorder.statuses("c1"), what="cancelled")
    time.sleep(0.1)
    assert h.recorder.statuses("c1") == [OrderStatus.SUBMITTED, OrderStatus.CANCELLED]


def test_an_informational_10349_never_cancels_a_live_order(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    resting_buy(h, "live")
    [order_id] = [e.broker_order_id for e in h.recorder.status_events("live")]
    assert order_id is not None and tws.send_order_notice(order_id, code=10349)
    time.sleep(0.2)
    assert h.recorder.statuses("live") == [OrderStatus.SUBMITTED]
    assert [o.client_order_id for o in h.broker.open_orders()] == ["live"]
    fill_resting_buy(h)  # ib_async marked its trade Cancelled; IB still works the order
    wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("live"), what="filled")


def test_an_inactive_order_surfaces_with_its_reason(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    resting_buy(h, "idle")
    [order_id] = [e.broker_order_id for e in h.recorder.status_events("idle")]
    assert order_id is not None
    assert tws.send_order_notice(order_id, code=399, text="Order held: no trading permissions")
    assert tws.make_order_inactive(order_id)
    wait_until(lambda: OrderStatus.INACTIVE in h.recorder.statuses("idle"), what="Inactive")
    event = h.recorder.status_events("idle")[-1]
    assert event.reason == "Order held: no trading permissions"
    assert h.broker.open_orders() == []


def test_a_dropped_socket_reconnects_with_backoff_and_replays_the_fills_it_missed(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(reconnect_base_s=0.5, reconnect_cap_s=2.0).start("AAPL")
    resting_buy(h, "gap")
    h.broker.place_order(stop("guard", Side.SELL, h.quote().bid - 30))
    wait_until(lambda: h.recorder.statuses("guard"), what="the stop working")
    tws.drop_connections()
    wait_until(lambda: h.recorder.connection_states() == [DOWN], what="DISCONNECTED")
    assert not h.broker.place_order(limit("down", Side.BUY, h.quote().ask, reduce_only=True))
    fill_resting_buy(h)  # fills at the simulator while nobody listens
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="reconnected")
    assert OrderStatus.FILLED in h.recorder.statuses("gap")
    executions = h.recorder.executions("gap")
    assert sum(e.quantity for e in executions) == 100 and all(e.commission > 0 for e in executions)
    assert [o.client_order_id for o in h.broker.open_orders()] == ["guard"]
    stats = h.broker.stats()
    assert stats["reconnects"] == 1 and stats["orders_sent"] == 2
    h.broker.cancel_order("guard")  # orders of the old socket are still ours to manage
    wait_until(lambda: OrderStatus.CANCELLED in h.recorder.statuses("guard"), what="cancel")
    resting_buy(h, "after")  # and new ones go out again


def test_no_quotes_while_the_market_is_open_raises_the_stale_data_alarm(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(stale_data_clock_s=10.0).start("AAPL")  # 10 clock s = 0.5 s at 20x
    tws.stop_quotes()
    wait_until(lambda: h.recorder.connection_states() == [STALE], what="the stale-data alarm")
    assert "stale" in h.recorder.of(ConnectionEvent)[0].detail
    assert h.broker.connected  # the order channel stays open (the gate freezes entries)
    resting_buy(h, "exit-still-goes")
    tws.resume_quotes()
    wait_until(lambda: h.recorder.connection_states() == [STALE, UP], what="quotes back")


def test_a_listener_that_raises_does_not_stop_delivery(harness: MakeHarness) -> None:
    class Exploding(Recorder):
        def on_quote(self, quote: object) -> None:
            raise RuntimeError("boom")

    h = harness()
    h.recorder = Exploding()
    h.start()
    h.broker.subscribe_quotes([Contract.stock("AAPL")])
    wait_until(lambda: h.broker.stats()["quotes_delivered"] > 3, what="quotes delivered")
    resting_buy(h, "fine")  # events still arrive


def test_a_cancel_asked_for_while_the_socket_is_down_is_sent_after_the_reconnect(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(reconnect_base_s=0.5, reconnect_cap_s=2.0).start("AAPL")
    h.broker.place_order(stop("guard", Side.SELL, h.quote().bid - 30))
    wait_until(lambda: h.recorder.statuses("guard"), what="the stop working")
    tws.drop_connections()
    wait_until(lambda: h.recorder.connection_states() == [DOWN], what="DISCONNECTED")
    h.broker.cancel_order("guard")  # e.g. its position was closed meanwhile
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="reconnected")
    wait_until(lambda: OrderStatus.CANCELLED in h.recorder.statuses("guard"), what="cancelled")
    assert all(t.order.orderRef != "guard" for t in all_open_orders(tws))


def test_the_watchdog_counts_silence_from_the_subscription_not_from_the_open(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    tws.stop_quotes()  # the session opened half an hour ago; no quote will come
    h = harness(stale_data_clock_s=10.0).start()
    h.broker.subscribe_quotes([Contract.stock("AAPL")])
    time.sleep(0.25)  # 5 clock seconds
    assert h.recorder.connection_states() == []
    wait_until(lambda: h.recorder.connection_states() == [STALE], what="stale after 10 s")


def test_the_clock_is_moved_forward_when_the_brokers_time_jumps_ahead(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    from datetime import timedelta

    from ib_support import TZ

    from core.clock import VirtualClock

    h = harness(clock_sync_s=0.2)
    h.clock.stop()
    h.clock = VirtualClock(TZ, tws.now() - timedelta(minutes=30), 20.0)  # e.g. a skipped night
    h.broker.use_clock(h.clock)
    h.start()
    wait_until(
        lambda: abs(h.clock.now() - tws.now()) < timedelta(seconds=5), what="the clock in step"
    )


def test_an_entry_whose_stop_is_refused_while_the_link_is_down_is_cancelled_not_sent_later(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(attached_wait_s=30.0).start("AAPL")
    ask = h.quote().ask
    assert h.broker.place_order(limit("p1", Side.BUY, ask + 0.05, has_attached=True))
    tws.connectivity_lost()
    wait_until(lambda: h.recorder.connection_states() == [DOWN], what="DISCONNECTED on 1100")
    assert not h.broker.place_order(stop("p1.stop", Side.SELL, ask - 5, parent_id="p1"))
    wait_until(lambda: h.recorder.statuses("p1") == [OrderStatus.CANCELLED], what="p1 ended")
    assert "p1.stop was refused" in h.recorder.status_events("p1")[0].reason
    tws.connectivity_restored()
    wait_until(lambda: h.recorder.connection_states() == [DOWN, UP], what="CONNECTED on 1102")
    assert h.broker.stats()["orders_sent"] == 0 and all_open_orders(tws) == []


def test_a_fill_of_our_order_placed_under_the_earlier_client_id_is_taken_in_after_a_move(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    """After a reconnect that had to move to the next client id (326), the resync still takes
    in the fills of our orders placed under the old id (found by orderRef)."""
    h = harness(client_id=21, client_id_attempts=3, reconnect_base_s=0.5).start("AAPL")
    resting_buy(h, "old-id")
    tws.refuse_next_connect(3)
    tws.drop_connections()
    fill_resting_buy(h)  # fills while the adapter is away
    wait_until(lambda: h.broker.client_id == 22 and h.broker.connected, what="the move to 22")
    wait_until(lambda: h.recorder.executions("old-id"), what="the fill taken in")
    assert sum(e.quantity for e in h.recorder.executions("old-id")) == 100
