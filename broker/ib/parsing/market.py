"""Market data between ib_async and our types: a ``Ticker`` becomes a ``Quote``; an option chain
definition becomes the contracts worth quoting (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from ib_async import OptionChain, Ticker

from broker.ib.data_health import data_type_of
from broker.ib.parsing.contracts import parse_expiry, plain_strike
from core.domain import Contract, Quote

__all__ = ["ChainWindow", "chain_contracts", "quote_from_ticker"]


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _signed(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _size(value: float | None) -> int:
    number = _finite(value)
    return int(number) if number is not None else 0


def quote_from_ticker(ticker: Ticker, contract: Contract, *, time: datetime) -> Quote | None:
    """The quote a ticker shows now, stamped ``time`` (when it was received: TWS sends no
    exchange time for bid/ask). None until there is a two-sided market (bid > 0, ask >= bid).
    Options carry IV, greeks (per share, IB's model) and open interest when IB sent them. The
    data type is IB's ``marketDataType`` (message 58; ib_async already folds the delayed ticks
    66-68 and 80-83 into bid/ask/last and ``modelGreeks``)."""
    bid, ask = _finite(ticker.bid), _finite(ticker.ask)
    if bid is None or ask is None or bid <= 0 or ask < bid:
        return None
    last = _finite(ticker.last)
    if last is None or last <= 0:
        last = (bid + ask) / 2.0
    iv = delta = gamma = theta = vega = None
    open_interest = 0
    if contract.is_option:
        greeks = ticker.modelGreeks
        if greeks is not None:
            iv = _finite(greeks.impliedVol)
            delta = (
                greeks.delta if greeks.delta is not None and math.isfinite(greeks.delta) else None
            )
            gamma = _finite(greeks.gamma)
            theta = (
                greeks.theta if greeks.theta is not None and math.isfinite(greeks.theta) else None
            )
            vega = _finite(greeks.vega)
        if iv is None:
            iv = _finite(ticker.impliedVolatility)
        interest = ticker.putOpenInterest if contract.right == "P" else ticker.callOpenInterest
        open_interest = _size(interest) or _size(ticker.openInterest)
    return Quote(
        contract=contract,
        bid=bid,
        ask=ask,
        bid_size=_size(ticker.bidSize),
        ask_size=_size(ticker.askSize),
        last=last,
        time=time,
        iv=iv,
        delta=delta,
        gamma=gamma,
        theta=theta,
        vega=vega,
        open_interest=open_interest,
        data_type=data_type_of(ticker.marketDataType),
    )


class ChainWindow:
    """Which listed options of one underlying to quote for ``option_chain``: one right (or
    both), an expiry window, strikes within ``strike_range_pct`` of the spot, at most
    ``max_contracts`` (nearest the money first)."""

    __slots__ = ("max_contracts", "max_expiry", "min_expiry", "right", "strike_range_pct")

    def __init__(
        self,
        *,
        right: str | None,
        min_expiry: date | None,
        max_expiry: date | None,
        strike_range_pct: float = 20.0,
        max_contracts: int = 60,
    ) -> None:
        self.right = right
        self.min_expiry = min_expiry
        self.max_expiry = max_expiry
        self.strike_range_pct = strike_range_pct
        self.max_contracts = max_contracts

    def takes(self, expiry: date) -> bool:
        return (self.min_expiry is None or expiry >= self.min_expiry) and (
            self.max_expiry is None or expiry <= self.max_expiry
        )


def _pick_chain(chains: Sequence[OptionChain], symbol: str) -> OptionChain | None:
    """SMART routing and the standard trading class when IB lists several."""
    if not chains:
        return None
    return min(
        chains,
        key=lambda c: (c.exchange != "SMART", c.tradingClass != symbol, c.multiplier != "100"),
    )


def chain_contracts(
    chains: Sequence[OptionChain], symbol: str, spot: float | None, window: ChainWindow
) -> list[Contract]:
    """The option contracts to quote from IB's chain definitions (``reqSecDefOptParams``),
    nearest the money first. Without a spot no strike filter applies beyond the cap."""
    chain = _pick_chain(chains, symbol)
    if chain is None:
        return []
    multiplier = int(float(chain.multiplier)) if chain.multiplier else 100
    expiries = sorted(
        e for e in (parse_expiry(text) for text in chain.expirations) if e and window.takes(e)
    )
    strikes = _strikes(chain.strikes, spot, window.strike_range_pct)
    rights: Iterable[str] = (window.right,) if window.right else ("P", "C")
    candidates = [
        Contract.option(symbol, expiry, strike, right, multiplier=multiplier)
        for expiry in expiries
        for strike in strikes
        for right in rights
    ]
    if spot is not None:
        candidates.sort(key=lambda c: (abs(float(c.strike or 0) - spot), c.expiry, c.right))
    return candidates[: window.max_contracts]


def _strikes(strikes: Iterable[float], spot: float | None, range_pct: float) -> list[Decimal]:
    listed = sorted({plain_strike(s) for s in strikes if s and math.isfinite(s) and s > 0})
    if spot is None:
        return listed
    low = Decimal(repr(spot * (1 - range_pct / 100)))
    high = Decimal(repr(spot * (1 + range_pct / 100)))
    return [s for s in listed if low <= s <= high]
