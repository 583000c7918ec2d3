"""The adapter's account P&L stream (``reqPnL`` -> ``AccountPnL``), its initial-margin account
values, and its what-if margin checks (``check_margin`` -> ``MarginCheck``), against the
simulated TWS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from ib_support import Harness, wait_until

from broker.tws.server import TwsSimServer
from core.domain import Contract, OrderRequest, OrderType, Side
from core.events import AccountPnL, AccountSnapshot, ConnectionEvent, ConnectionState, MarginCheck

MakeHarness = Callable[..., Harness]


def _short_put(h: Harness, cid: str, *, quantity: int = 1) -> OrderRequest:
    """A SELL LMT of the listed AAPL put nearest 5 below the spot (from the adapter's chain)."""
    spot = h.quote().mid
    chain = h.broker.option_chain("AAPL", right="P")
    assert chain, "no AAPL puts listed"
    expiry = sorted({q.contract.expiry for q in chain if q.contract.expiry})[1]
    quote = min(
        (q for q in chain if q.contract.expiry == expiry),
        key=lambda q: abs(float(q.contract.strike or 0) - (spot - 5)),
    )
    return OrderRequest(
        cid, quote.contract, Side.SELL, OrderType.LMT, quantity, limit_price=Decimal("2.00")
    )


def test_req_pnl_becomes_account_pnl_events_about_every_simulated_second(
    harness: MakeHarness,
) -> None:
    h = harness().start()
    events = wait_until(
        lambda: len(h.recorder.of(AccountPnL)) >= 10 and h.recorder.of(AccountPnL),
        what="ten P&L events",
    )
    assert all(e.daily_pnl == e.daily_pnl for e in events)  # numbers, no NaN
    # Far more P&L than account snapshots: TWS pushes its account values every 180 s.
    assert len(h.recorder.of(AccountSnapshot)) <= 2
    snapshot = h.broker.account()
    assert snapshot.init_margin == 0 and snapshot.equity_with_loan == snapshot.net_liquidation
    assert snapshot.excess_liquidity == snapshot.net_liquidation


def test_the_pnl_stream_is_subscribed_again_after_a_reconnect(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(reconnect_base_s=0.3, reconnect_cap_s=1.0).start()
    wait_until(lambda: h.recorder.of(AccountPnL), what="the first P&L")
    tws.drop_connections()
    wait_until(
        lambda: (
            [e.state for e in h.recorder.of(ConnectionEvent)][-1:] == [ConnectionState.CONNECTED]
        ),
        what="the reconnect",
    )
    before = len(h.recorder.of(AccountPnL))
    wait_until(lambda: len(h.recorder.of(AccountPnL)) >= before + 5, what="P&L after reconnect")


def test_a_short_put_what_if_comes_back_with_its_initial_margin_and_the_available_funds(
    harness: MakeHarness,
) -> None:
    h = harness().start("AAPL")
    order = _short_put(h, "what-if-1", quantity=2)
    h.broker.check_margin(order)
    (check,) = wait_until(
        lambda: [c for c in h.recorder.of(MarginCheck) if c.client_order_id == "what-if-1"],
        what="the what-if answer",
    )
    assert check.error == ""
    strike = order.contract.strike
    assert strike is not None and check.init_margin_change is not None
    # Two naked puts: at least 10 % of the strike x 100 each, plus the premium.
    assert check.init_margin_change >= 2 * (strike / 10 + Decimal("2.00")) * 100
    assert check.available_funds == Decimal("1000000.00")  # AvailableFunds, nothing held
    assert check.init_margin_after == check.init_margin_change
    assert h.broker.open_orders() == []  # nothing was placed


def test_a_what_if_ib_refuses_comes_back_with_ibs_reason(harness: MakeHarness) -> None:
    h = harness().start()
    unknown = Contract.option("AAPL", date(2099, 1, 16), Decimal("5"), "P")
    h.broker.check_margin(
        OrderRequest("what-if-2", unknown, Side.SELL, OrderType.LMT, 1, limit_price=Decimal(1))
    )
    (check,) = wait_until(
        lambda: [c for c in h.recorder.of(MarginCheck) if c.client_order_id == "what-if-2"],
        what="the refusal",
    )
    assert check.init_margin_change is None
    assert check.error.startswith("IB refused the what-if: 200 "), check.error


def test_a_what_if_while_the_link_is_down_is_refused_at_once(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(reconnect_base_s=30.0, reconnect_cap_s=30.0).start("AAPL")
    order = _short_put(h, "what-if-3")
    tws.drop_connections()
    wait_until(
        lambda: ConnectionState.DISCONNECTED in [e.state for e in h.recorder.of(ConnectionEvent)],
        what="DISCONNECTED",
    )
    h.broker.check_margin(order)
    (check,) = wait_until(
        lambda: [c for c in h.recorder.of(MarginCheck) if c.client_order_id == "what-if-3"],
        what="the refusal",
    )
    assert (check.init_margin_change, check.error) == (None, "the link to IB is down")
