"""The in-process, seeded stock market simulator behind the ``Broker`` protocol.

``SimBroker`` ties the pure parts to the clock: ``market`` (GBM mids and quotes), ``matching``
(what an order fills against a quote) and ``account`` (cash, positions, commissions, margin).
"""

from __future__ import annotations

from broker.sim.account import SimAccount, cumulative_commission, execution_commission
from broker.sim.broker import SimBroker
from broker.sim.market import (
    TRADING_DAY_YEARS,
    TRADING_SECONDS_PER_YEAR,
    MarketModel,
    SimSymbol,
    quote_prices,
)
from broker.sim.matching import Match, SimOrder, match_order

__all__ = [
    "TRADING_DAY_YEARS",
    "TRADING_SECONDS_PER_YEAR",
    "MarketModel",
    "Match",
    "SimAccount",
    "SimBroker",
    "SimOrder",
    "SimSymbol",
    "cumulative_commission",
    "execution_commission",
    "match_order",
    "quote_prices",
]
