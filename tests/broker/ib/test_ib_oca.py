"""IBBroker against the simulated TWS: an exit placed into the OCA group of a protective stop
that has already filled (its fill not yet acted on) is refused by TWS with error 201 "OCA group
is already filled" and reaches the engine as REJECTED with a reason the OrderManager
recognises (``actors.order_manager.exits.OCA_ALREADY_FILLED``); it never fills (bug E)."""

from __future__ import annotations

from collections.abc import Callable

from ib_support import Harness, limit, stop, wait_until

from actors.order_manager.exits import OCA_ALREADY_FILLED
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side

MakeHarness = Callable[..., Harness]


def test_an_exit_into_the_group_of_a_stop_that_already_filled_is_rejected_and_never_fills(
    harness: MakeHarness,
) -> None:
    h = harness().start("AAPL")
    quote = h.quote()
    assert h.broker.place_order(limit("e1", Side.BUY, quote.ask + 0.05))
    # A stop above the bid: it triggers as soon as the entry has filled.
    assert h.broker.place_order(
        stop("e1.stop", Side.SELL, quote.bid + 1, parent_id="e1", oca_group="oca-e1")
    )
    wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("e1.stop"), what="the stop filled")
    wait_until(lambda: h.broker.positions() == [], what="a flat account")
    exit_order = OrderRequest(
        "x1",
        Contract.stock("AAPL"),
        Side.SELL,
        OrderType.MKT,
        100,
        reduce_only=True,
        oca_group="oca-e1",
    )
    assert h.broker.place_order(exit_order)
    [refused] = wait_until(
        lambda: [e for e in h.recorder.status_events("x1") if e.status.is_terminal],
        what="the exit's end",
    )
    assert refused.status is OrderStatus.REJECTED and OCA_ALREADY_FILLED in refused.reason
    assert h.recorder.executions("x1") == []
    assert h.broker.positions() == []  # no short opened
