"""What the adapter tells the trader about its market data (pure; the ib-loop thread owns the
instances and passes the time in).

* ``IB_DATA_TYPES``: ``broker.ib.market_data_type`` as IB's ``reqMarketDataType`` number
  (1 live, 2 frozen, 3 delayed, 4 delayed-frozen; tws-api market_data_type.html) and back
  (``data_type_of`` reads ``Ticker.marketDataType``, which ib_async sets from message 58,
  ``ib_async/wrapper.py`` ``marketDataType``).
* ``EntitlementWatch``: IB answers a request it will not serve with 354, 10089, 10090,
  10091, 10168 or 10197, and announces delayed data with 10167, once per request: with forty
  option lines that is forty errors a scan. The watch turns each code into ONE
  ``BrokerNotice`` with IB's text and what to do, until the link is re-established.
* ``LinkWatch``: the reconnect loop's verdict: after ``after_attempts`` failed attempts or
  ``after_s`` wall seconds since the loss, TWS is taken to be logged out (the Sunday
  re-authentication: IBC README, Voyz/ibeam#150), reported once.

Sources for the codes: tws-api message_codes.html; IB4m#158 (10089 on paper); ib_insync#198
(10168); QuantConnect/Lean.Brokerages.InteractiveBrokers#140 and PR #212 (10197: the paper
login shares the live user's data, one session at a time); extrange/ibkr-docker#64.
"""

from __future__ import annotations

from datetime import datetime

from core.domain import DataType
from core.events import BrokerNotice

__all__ = [
    "ENTITLEMENT_ADVICE",
    "IB_DATA_TYPES",
    "EntitlementWatch",
    "LinkWatch",
    "data_type_of",
]

IB_DATA_TYPES: dict[str, int] = {
    DataType.LIVE.value: 1,
    DataType.FROZEN.value: 2,
    DataType.DELAYED.value: 3,
    DataType.DELAYED_FROZEN.value: 4,
}
_BY_NUMBER = {number: DataType(name) for name, number in IB_DATA_TYPES.items()}

_SUBSCRIBE = (
    "subscribe to the exchange's data for API use (Account Management > Market Data "
    "Subscriptions) and share it with the paper account"
)
_DELAYED = 'or, on paper, set broker.ib.market_data_type = "delayed"'

#: What the trader should do about each entitlement code.
ENTITLEMENT_ADVICE: dict[int, str] = {
    354: f"no data for this contract: {_SUBSCRIBE}, {_DELAYED}",
    10089: f"this login has no API subscription for it: {_SUBSCRIBE}, {_DELAYED}",
    10090: f"part of the data is not subscribed: {_SUBSCRIBE}",
    10091: f"part of the data needs an API subscription: {_SUBSCRIBE}",
    10167: (
        "quotes are delayed 15-20 minutes: the header shows DELAYED and every decision on "
        "them says so; subscribe to live data to trade on current prices"
    ),
    10168: (
        "delayed data is not enabled for this login either: subscribe to live data, or "
        "enable delayed data in TWS (Global Configuration > API)"
    ),
    10197: (
        "a live session of the same user (TWS or IBKR Mobile) has the market data: log it "
        "out, the paper login gets data only when the live one does not use it"
    ),
}


def data_type_of(market_data_type: int | None) -> DataType:
    """IB's ``marketDataType`` number as our ``DataType`` (live when unknown)."""
    return _BY_NUMBER.get(market_data_type or 1, DataType.LIVE)


class EntitlementWatch:
    """One notice per entitlement code until ``reset`` (a new connection asks again)."""

    def __init__(self) -> None:
        self._raised: dict[int, int] = {}  # code -> requests refused with it since raised

    def on_error(self, code: int, text: str, contract: str, now: datetime) -> BrokerNotice | None:
        """The notice for this error, or None if its code was already reported (counted)."""
        if code in self._raised:
            self._raised[code] += 1
            return None
        self._raised[code] = 1
        where = f" on {contract}" if contract else ""
        advice = ENTITLEMENT_ADVICE.get(code, "check the market data subscriptions")
        return BrokerNotice(
            "market_data", f"IB {code}{where}: {text.strip()} -- {advice}", now, code
        )

    def repeats(self, code: int) -> int:
        """Requests refused with ``code`` since it was reported (the first included)."""
        return self._raised.get(code, 0)

    def reset(self) -> None:
        self._raised.clear()


class LinkWatch:
    """Whether a link that keeps failing to come back should be called LOGGED OUT.

    Args:
        after_s: wall seconds since the loss.
        after_attempts: failed reconnect attempts.
    """

    def __init__(self, after_s: float, after_attempts: int) -> None:
        self.after_s = after_s
        self.after_attempts = after_attempts
        self._lost_at: float | None = None
        self._failures = 0
        self.logged_out = False

    def lost(self, now_s: float) -> None:
        """The link went down at ``now_s`` (monotonic wall seconds)."""
        if self._lost_at is None:
            self._lost_at = now_s
            self._failures = 0

    def failed(self, now_s: float) -> bool:
        """One more failed attempt; True exactly once, when the link is judged logged out."""
        self._failures += 1
        if self.logged_out or self._lost_at is None:
            return False
        if self._failures >= self.after_attempts or now_s - self._lost_at >= self.after_s:
            self.logged_out = True
            return True
        return False

    def describe(self, now_s: float, retry_s: float) -> str:
        down_min = (now_s - self._lost_at) / 60 if self._lost_at is not None else 0.0
        return (
            f"LOGGED OUT? TWS / IB Gateway refused {self._failures} reconnects over "
            f"{down_min:.0f} min: log in again (the weekly re-login, or TWS was closed); "
            f"the engine keeps retrying every {retry_s:g}s"
        )

    def restored(self) -> None:
        self._lost_at = None
        self._failures = 0
        self.logged_out = False
