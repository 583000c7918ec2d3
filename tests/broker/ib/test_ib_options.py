"""Options through the IB adapter against the simulated TWS: an option sale becomes an option
execution with its per-contract commission and a short option position; at the close of the
expiration day the position changes IB reports become an ``ExpiryEvent`` (out of the money) and
an ``AssignmentEvent`` (in the money), with no execution."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from ib_support import TZ, Harness, wait_until

from broker.tws.server import TwsSimServer
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from core.events import AssignmentEvent, ExpiryEvent

#: A Friday (an expiration day) five minutes before the close.
EXPIRY_DAY_START = datetime(2024, 3, 15, 15, 55, tzinfo=TZ)
WAIT_S = 15.0


def _put(h: Harness, offset: float) -> Contract:
    """The AAPL put of the third listed expiration (from the adapter's option chain) with the
    strike nearest the spot plus ``offset``."""
    quotes = h.broker.option_chain("AAPL", right="P")
    assert quotes, "the adapter found no listed puts"
    expiries = sorted({q.contract.expiry for q in quotes if q.contract.expiry is not None})
    day = expiries[min(2, len(expiries) - 1)]
    spot = h.quote().mid + offset
    candidates = [q.contract for q in quotes if q.contract.expiry == day]
    return min(candidates, key=lambda c: abs(float(c.strike or 0) - spot))


def _sell(h: Harness, cid: str, put: Contract, quantity: int) -> None:
    assert h.broker.place_order(OrderRequest(cid, put, Side.SELL, OrderType.MKT, quantity))
    wait_until(
        lambda: (
            OrderStatus.FILLED in h.recorder.statuses(cid)
            and sum(e.quantity for e in h.recorder.executions(cid)) == quantity
        ),
        timeout_s=WAIT_S,
        what=f"{cid} to fill",
    )


def test_an_option_sale_becomes_an_option_execution_with_its_commission_and_a_short_position(
    harness: Callable[..., Harness],
) -> None:
    h = harness().start("AAPL")
    put = _put(h, -5)
    _sell(h, "va-1:put", put, 2)
    (execution,) = h.recorder.executions("va-1:put")
    assert execution.contract == put
    assert execution.contract.multiplier == 100
    assert execution.side is Side.SELL and execution.quantity == 2
    assert execution.commission == Decimal("1.3")
    positions = {p.contract.key: p for p in h.broker.positions()}
    held = positions[put.key]
    assert held.quantity == -2
    assert held.avg_cost == execution.price  # per share (IB's per-contract cost / 100)
    assert not h.recorder.of(ExpiryEvent) and not h.recorder.of(AssignmentEvent)


def test_at_the_close_an_otm_put_expires_and_an_itm_put_is_assigned_as_domain_events(
    servers: Callable[..., TwsSimServer], harness: Callable[..., Harness]
) -> None:
    tws = servers(start=EXPIRY_DAY_START, speed=60.0)
    h = harness(tws).start("AAPL")
    today = EXPIRY_DAY_START.date()
    spot = h.quote().mid
    # Strikes on the $5 grid, $15 away from the spot: far enough that 5 minutes cannot cross.
    otm = Contract.option("AAPL", today, Decimal(int(spot - 15) // 5 * 5), "P")
    itm = Contract.option("AAPL", today, Decimal(int(spot + 20) // 5 * 5), "P")
    _sell(h, "va-1:otm", otm, 1)
    _sell(h, "va-1:itm", itm, 2)
    executions = len(h.recorder.executions())
    expiry = wait_until(lambda: h.recorder.of(ExpiryEvent), timeout_s=WAIT_S, what="the expiry")
    assignment = wait_until(
        lambda: h.recorder.of(AssignmentEvent), timeout_s=WAIT_S, what="the assignment"
    )
    assert [(e.contract, e.quantity) for e in expiry] == [(otm, -1)]
    (assigned,) = assignment
    assert assigned.contract == itm and assigned.quantity == -2
    assert assigned.stock == Contract.stock("AAPL")
    assert assigned.stock_quantity == 200
    assert assigned.price == itm.strike
    assert assigned.underlying_price > 0
    assert assigned.event_id != expiry[0].event_id
    # As at IB, no execution reports them; the positions agree with what the events say.
    assert len(h.recorder.executions()) == executions
    held = {p.contract.key: p.quantity for p in h.broker.positions()}
    assert held == {"AAPL": 200}
    # A later full positions read (every reconciliation does one) infers nothing again.
    assert len(h.recorder.of(ExpiryEvent)) == 1 and len(h.recorder.of(AssignmentEvent)) == 1


def test_a_chain_scan_given_up_leaves_no_market_data_line_open_and_spends_only_its_budget(
    harness: Callable[..., Harness],
) -> None:
    """A scan slower than its caller's patience (here: 5 data requests a second, 1 s) is
    abandoned, and the option lines it opened are closed (IB allows only so many); the order
    channel is not held up by it meanwhile."""
    h = harness(data_requests_per_s=5.0, option_chain_timeout_s=1.0).start("AAPL")
    lines = h.server.market_data_lines()  # the stock's own
    started = time.monotonic()
    assert h.broker.option_chain("AAPL", right="P") == []  # gave up
    assert time.monotonic() - started < 5.0
    wait_until(lambda: h.server.market_data_lines() == lines, what="the scan's lines closed")
    q = h.quote()
    order = OrderRequest(
        "after-scan", Contract.stock("AAPL"), Side.BUY, OrderType.LMT, 10,
        limit_price=Decimal(f"{q.ask + 1:.2f}"),
    )  # fmt: skip
    assert h.broker.place_order(order)
    wait_until(lambda: OrderStatus.FILLED in h.recorder.statuses("after-scan"), what="the fill")
