"""The loop-side parts of one ``IBBroker`` connection: the ``IB`` object's context, the order
desk, market data, the account feed, the margin desk and the connection that wires them.

Threads: ``build_parts`` runs on the ``ib-loop`` thread, which owns every part it builds.
"""

from __future__ import annotations

from dataclasses import dataclass

from ib_async import IB

from broker.ib.account import AccountFeed
from broker.ib.connection import Connection
from broker.ib.context import Emitter, IbContext, IbOptions
from broker.ib.flow import OrderFlow
from broker.ib.margin import MarginDesk
from broker.ib.market_data import MarketData
from broker.ib.orders import OrderDesk
from broker.ib.resilience import Backoff, RequestBudget, StaleWatchdog
from core.calendar import TradingCalendar
from core.clock import Clock

__all__ = ["IbParts", "build_parts"]


@dataclass(frozen=True, slots=True)
class IbParts:
    """Everything the adapter drives on the loop thread (owned by that thread)."""

    ctx: IbContext
    connection: Connection
    desk: OrderDesk
    market: MarketData
    account: AccountFeed
    margin: MarginDesk


def build_parts(options: IbOptions, *, clock: Clock, calendar: TradingCalendar) -> IbParts:
    """Create the ``IB`` object and the parts around it, wired (on the loop thread)."""
    ib = IB()
    ib.RaiseRequestErrors = False
    ctx = IbContext(
        options=options,
        ib=ib,
        clock=clock,
        calendar=calendar,
        emitter=Emitter(),
        data_budget=RequestBudget(options.data_requests_per_s, burst=10),
    )
    watchdog = StaleWatchdog(options.stale_data_clock_s)
    account = AccountFeed(ctx)
    desk = OrderDesk(
        ctx,
        OrderFlow(commission_wait_s=options.commission_wait_s, status_wait_s=options.status_wait_s),
        read_orders=account.ib_orders,
    )
    market = MarketData(ctx, watchdog)
    connection = Connection(
        ctx,
        desk=desk,
        market=market,
        account=account,
        watchdog=watchdog,
        backoff=Backoff(options.reconnect_base_s, options.reconnect_cap_s),
    )
    connection.wire()
    return IbParts(ctx, connection, desk, market, account, MarginDesk(ctx))
