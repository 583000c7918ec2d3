"""Where each simulated stock is listed: the primary exchange TWS reports for it, and which
exchange names a request may use for it.

Pure data and functions; any thread.

IB's names, as TWS reports ``primaryExchange`` in ``contractDetails``: ``NASDAQ`` for
Nasdaq-listed stocks (the API also accepts ``ISLAND``, IB's historical name for Nasdaq: IB's
ContractSamples say "In the API side, NASDAQ is always defined as ISLAND"), ``NYSE``, ``ARCA``
(NYSE Arca: SPY and most ETFs), ``AMEX`` (NYSE American) and ``BATS`` (Cboe BZX). A symbol not in
the table is reported as ``NASDAQ``; ``[sim] primary_exchanges`` (tws-sim's
``primary_exchanges`` option) overrides the table per symbol.

How a request's ``primaryExchange`` is matched (see ``primary_matches``): IB documents it as
the field that "for smart routed contracts, [is] used to define contract in case of ambiguity.
Should be defined as native exchange of contract, e.g. ISLAND for MSFT" (ib_async
``Contract`` docstring, copied from IB's API reference), and IB's ContractSamples
``USStockWithPrimaryExch`` gives MSFT on SMART with ``primaryExchange = "ISLAND"`` "to avoid
contract ambiguity (there is also a MSFT contract with primary exchange = AEB)". So it is a
filter on the listing, independent of the routing exchange: ``Stock("SPY", "SMART",
primaryExchange="ARCA")`` resolves although SMART is the route, while a primaryExchange that
names a different listing (SPY with ``NYSE``) selects a contract that does not exist here, and
TWS answers 200 "No security definition has been found", as it does for any filter that matches
nothing. Aliases of one exchange (``ISLAND``/``NASDAQ``, ``NYSEARCA``/``ARCA``) match each other.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DEFAULT_PRIMARY_EXCHANGE",
    "PRIMARY_EXCHANGES",
    "ROUTING_EXCHANGES",
    "primary_exchange",
    "primary_matches",
    "routable",
]

DEFAULT_PRIMARY_EXCHANGE = "NASDAQ"

#: The listing exchange TWS reports for common US symbols (IB's spelling).
PRIMARY_EXCHANGES: Mapping[str, str] = {
    # NYSE Arca (ETFs)
    "SPY": "ARCA", "IWM": "ARCA", "DIA": "ARCA", "GLD": "ARCA", "SLV": "ARCA", "XLF": "ARCA",
    "XLE": "ARCA", "XLK": "ARCA", "EEM": "ARCA", "TLT": "NASDAQ", "QQQ": "NASDAQ",
    # NYSE
    "JPM": "NYSE", "XOM": "NYSE", "BAC": "NYSE", "CVX": "NYSE", "JNJ": "NYSE", "KO": "NYSE",
    "WMT": "NYSE", "PG": "NYSE", "V": "NYSE", "MA": "NYSE", "DIS": "NYSE", "GS": "NYSE",
    "IBM": "NYSE", "T": "NYSE", "F": "NYSE", "GE": "NYSE", "C": "NYSE", "WFC": "NYSE",
    "UNH": "NYSE", "HD": "NYSE", "MRK": "NYSE", "PFE": "NYSE", "BA": "NYSE", "CAT": "NYSE",
    # Nasdaq
    "AAPL": "NASDAQ", "MSFT": "NASDAQ", "NVDA": "NASDAQ", "AMZN": "NASDAQ", "GOOGL": "NASDAQ",
    "GOOG": "NASDAQ", "META": "NASDAQ", "TSLA": "NASDAQ", "AMD": "NASDAQ", "INTC": "NASDAQ",
    "NFLX": "NASDAQ", "AVGO": "NASDAQ", "COST": "NASDAQ", "PEP": "NASDAQ", "CSCO": "NASDAQ",
    "IBKR": "NASDAQ",
}  # fmt: skip

#: Names that mean the same exchange in a request.
_ALIASES: Mapping[str, str] = {"ISLAND": "NASDAQ", "NYSEARCA": "ARCA", "NYSEAMERICAN": "AMEX"}

#: Exchanges a US stock may be routed to directly besides SMART (a request's ``exchange``).
ROUTING_EXCHANGES = frozenset(
    {"SMART", "ISLAND", "NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "EDGX", "IEX", "BYX", "DRCTEDGE"}
)


def primary_exchange(symbol: str, overrides: Mapping[str, str] | None = None) -> str:
    """The primary exchange TWS reports for ``symbol`` (overrides first, then the table)."""
    if overrides and symbol in overrides:
        return overrides[symbol]
    return PRIMARY_EXCHANGES.get(symbol, DEFAULT_PRIMARY_EXCHANGE)


def _canonical(name: str) -> str:
    upper = name.strip().upper()
    return _ALIASES.get(upper, upper)


def primary_matches(given: str, listing: str) -> bool:
    """Whether a request's ``primaryExchange`` (``""`` = not given) selects ``listing``."""
    return not given.strip() or _canonical(given) == _canonical(listing)


def routable(exchange: str, listing: str) -> bool:
    """Whether a stock listed on ``listing`` can be named with the request's ``exchange``."""
    upper = exchange.strip().upper()
    return not upper or upper in ROUTING_EXCHANGES or _canonical(upper) == _canonical(listing)
