"""Market-data entitlements and line limits of the simulated TWS (pure).

What an account may see decides what a ``reqMktData`` gets, given the market data type the
client asked for with ``reqMarketDataType`` (message 59; 1 live, 2 frozen, 3 delayed, 4 delayed
frozen; TWS starts every client at 1):

* ``live``: live data, whatever type was asked (IB: "if live data is available, a request for
  delayed data is ignored", tws-api market_data_type.html).
* ``delayed`` (a paper account without live subscriptions, IB4m#158): a request for type 3/4
  gets ``marketDataType`` 3/4 (message 58), the notice 10167 ("Displaying delayed market
  data") and the delayed tick types: bid/ask/last 66-68, sizes 69-71, high/low/close/open
  72/73/75/76, volume 74, last timestamp 88 and option greeks 80-83 (the model greeks are 83).
  These are the types ib_async folds into ``bid``/``ask``/``last``/``modelGreeks``
  (``ib_async/wrapper.py`` ``PRICE_TICK_MAP``, ``SIZE_TICK_MAP``, ``GREEKS_TICK_MAP``,
  ``TIMESTAMP_TICK_MAP`` and ``tickPrice``'s ``{1, 66}``...). A request for live data is refused
  with 10089 ("... Delayed market data is available"; IB4m#158, ib_insync#198).
* ``none``: every request is refused: 354 (not subscribed) for live data, 10168 (delayed
  market data is not enabled, ib_insync#198) for delayed data.

Open interest (ticks 27/28) has no delayed type; it is sent as is. A delayed stream sends
the market as it was ``DELAYED_LAG_S`` (15 simulated minutes: US equities and OPRA options
are delayed 15 minutes; IB says "15-20 minutes", tws-api delayed_data.html) before each
update (``DelayLine``); until the server has that much history it sends the oldest it has.

Lines: IB allows 100 concurrent market-data lines by default; the next request gets error 101
"Max number of tickers has been reached" (QuantConnect/Lean.Brokerages.InteractiveBrokers
PR #79, tws-api message_codes).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

from broker.tws.codec import Field

__all__ = [
    "DEFAULT_MAX_LINES",
    "DELAYED_LAG_S",
    "ENTITLEMENTS",
    "DelayLine",
    "Entitlement",
    "Grant",
    "check_entitlement",
    "delayed_fields",
    "grant",
]

Entitlement = Literal["live", "delayed", "none"]
ENTITLEMENTS: tuple[Entitlement, ...] = ("live", "delayed", "none")
DEFAULT_MAX_LINES = 100
DELAYED_LAG_S = 900.0
B = TypeVar("B")

_LIVE, _DELAYED, _DELAYED_FROZEN = 1, 3, 4

#: Live tick type -> its delayed twin, per message id (1 tickPrice, 2 tickSize, 46 tickString,
#: 21 tickOptionComputation).
_DELAYED_TYPES: dict[int, dict[int, int]] = {
    1: {1: 66, 2: 67, 4: 68, 6: 72, 7: 73, 9: 75, 14: 76},
    2: {0: 69, 3: 70, 5: 71, 8: 74},
    46: {45: 88},
    21: {10: 80, 11: 81, 12: 82, 13: 83},
}
#: Where the tick type sits in each message (after the message id, version and request id).
_TYPE_INDEX = {1: 3, 2: 3, 46: 3, 21: 2}


@dataclass(frozen=True, slots=True)
class Grant:
    """What one market-data request gets: ``data_type`` (1-4) with an optional ``notice``
    code sent first, or ``error`` (the request is refused, no line is used)."""

    data_type: int = 0
    error: int = 0
    notice: int = 0

    @property
    def refused(self) -> bool:
        return self.error != 0

    @property
    def delayed(self) -> bool:
        return self.data_type in (_DELAYED, _DELAYED_FROZEN)


def check_entitlement(value: str) -> Entitlement:
    """``value`` as an entitlement.

    Raises:
        ValueError: not one of live, delayed, none.
    """
    for known in ENTITLEMENTS:
        if value == known:
            return known
    raise ValueError(f"entitlements must be one of {', '.join(ENTITLEMENTS)} (got {value!r})")


def grant(entitlement: Entitlement, requested: int) -> Grant:
    """What a request gets when the client asked for market data type ``requested``."""
    wants_delayed = requested in (_DELAYED, _DELAYED_FROZEN)
    if entitlement == "live":
        return Grant(_LIVE)
    if entitlement == "delayed":
        return Grant(requested, notice=10167) if wants_delayed else Grant(error=10089)
    return Grant(error=10168 if wants_delayed else 354)


def delayed_fields(fields: list[Field]) -> list[Field]:
    """A tick message with its tick type replaced by the delayed twin (other messages, and
    ticks without a delayed type such as open interest, unchanged)."""
    msg_id = fields[0]
    if not isinstance(msg_id, int) or msg_id not in _DELAYED_TYPES:
        return fields
    index = _TYPE_INDEX[msg_id]
    tick_type = fields[index]
    twin = _DELAYED_TYPES[msg_id].get(tick_type) if isinstance(tick_type, int) else None
    if twin is None:
        return fields
    out = list(fields)
    out[index] = twin
    return out


class DelayLine(Generic[B]):
    """Each contract's recent books by simulated time, to serve them ``lag_s`` late."""

    def __init__(self, lag_s: float = DELAYED_LAG_S) -> None:
        self.lag = timedelta(seconds=lag_s)
        self._books: dict[int, deque[tuple[datetime, B]]] = {}

    def record(self, con_id: int, when: datetime, book: B) -> None:
        """Keep ``book`` (the market of ``con_id`` at ``when``); drop what no lag needs."""
        line = self._books.setdefault(con_id, deque())
        line.append((when, book))
        cutoff = when - self.lag
        while len(line) > 1 and line[1][0] <= cutoff:
            line.popleft()

    def as_of(self, con_id: int, now: datetime) -> B | None:
        """The book of ``con_id`` as it was ``lag_s`` before ``now`` (the oldest kept when
        the line is shorter than the lag; None if nothing was recorded)."""
        line = self._books.get(con_id)
        if not line:
            return None
        cutoff = now - self.lag
        chosen = line[0][1]
        for when, book in line:
            if when > cutoff:
                break
            chosen = book
        return chosen
