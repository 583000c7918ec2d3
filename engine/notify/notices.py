"""What the trader is told, and when (pure: no threads, no I/O): ``NoticeMaker`` turns what the
engine publishes on its bus (``EngineEvent`` fills and risk events, ``RiskStatus``) into
``Notice`` values, each with the numbers a trader acts on and the engine clock's time.

A risk event carries its stored kind in ``extra`` (``risk_kind``): the governor's state changes
(halt, resume, flatten, the daily-loss breaker's reduce-only), the connection, broker notices
(a logged-out link, delayed data, entitlements), reconciliations and actor crashes. The counts
a notice depends on travel as structured fields there too (a reconciliation's ``differences``,
an actor crash's ``actor`` and ``crash_count``), never read from the reason's wording. A disconnect
is told only once it has lasted ``disconnect_after_s`` on the engine clock (``tick``), and its
reconnect only when the disconnect was told. Margin is watched on the governor's ``RiskStatus``:
told once when it comes near its limit, again only after it went back.

Run by the notifier's worker thread only (``engine.notify.notifier``); not thread-safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation

from actors.messages.events import EngineEvent
from actors.messages.snapshots import RiskStatus

__all__ = ["Notice", "NoticeMaker"]

_TRADING_STATE = {
    "HALTED": "HALTED",
    "ACTIVE": "resumed (ACTIVE)",
    "FLATTENING": "FLATTENING",
    "REDUCING": "reduce-only (REDUCING)",
}
_DATA_KINDS = {"market_data", "market_data_lines", "data_type"}
_NUMBERS = re.compile(r"[+-]?\d[\d.,:]*")


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell: ``kind`` one of ``core.config.NOTIFY_KINDS`` (or ``test``), ``key``
    what repeats of it share (they are folded into one line with a count), ``text`` the line,
    ``time`` the engine clock's time it happened."""

    kind: str
    key: str
    text: str
    time: datetime


class NoticeMaker:
    """Bus items in, notices out (see the module doc). ``tz``: the exchange time zone the
    times are shown in; ``max_margin_pct``: ``risk.max_margin_utilization_pct``."""

    def __init__(
        self,
        *,
        tz: tzinfo,
        min_fill_quantity: int,
        disconnect_after_s: float,
        max_margin_pct: float,
        margin_near_pct: float,
        excess_liquidity_min_pct: float,
    ) -> None:
        self._tz = tz
        self._min_fill = min_fill_quantity
        self._disconnect_after_s = disconnect_after_s
        self._margin_near = max_margin_pct * margin_near_pct / 100.0
        self._excess_min = excess_liquidity_min_pct
        self._disconnected_since: datetime | None = None
        self._disconnect_told = False
        self._margin_told = False
        self._excess_told = False

    def stamp(self, when: datetime) -> str:
        """``2026-03-02 10:15:03 EST``: an engine time as the trader reads it."""
        return f"{when.astimezone(self._tz):%Y-%m-%d %H:%M:%S %Z}"

    def from_item(self, item: object) -> list[Notice]:
        """The notices ``item`` (a bus item) gives; most give none."""
        if isinstance(item, EngineEvent):
            if item.kind == "fill":
                return self._fill(item)
            if item.kind == "risk":
                return self._risk(item)
        elif isinstance(item, RiskStatus):
            return self._margin(item)
        return []

    def tick(self, now: datetime) -> list[Notice]:
        """At engine time ``now``: a disconnect that has lasted long enough is told (once)."""
        since = self._disconnected_since
        if since is None or self._disconnect_told:
            return []
        lasted = (now - since).total_seconds()
        if lasted < self._disconnect_after_s:
            return []
        self._disconnect_told = True
        text = (
            f"{self.stamp(now)} broker DISCONNECTED for {lasted:.0f}s (since "
            f"{self.stamp(since)}): no order reaches the broker; stops already there still work"
        )
        return [Notice("connection", "connection:down", text, now)]

    # -- fills ----------------------------------------------------------------------------------
    def _fill(self, event: EngineEvent) -> list[Notice]:
        extra = dict(event.extra)
        quantity = _int(extra.get("quantity"))
        if quantity is not None and quantity < self._min_fill:
            return []
        purpose = extra.get("purpose", "")
        where = f" {event.va_id}" if event.va_id else ""
        text = f"{self.stamp(event.time)}{where} FILL {event.text}"
        position = extra.get("position")
        if position is not None:
            text += f"; position now {position}"
        realized = _decimal(extra.get("realized_pnl"))
        if purpose and purpose != "entry" and realized is not None:
            text += f"; realized P&L {realized:+,.2f}"
        return [Notice("fill", f"fill:{event.va_id}:{event.text}", text, event.time)]

    # -- risk events ----------------------------------------------------------------------------
    def _risk(self, event: EngineEvent) -> list[Notice]:
        extra = dict(event.extra)
        kind = extra.get("risk_kind", "")
        reason = event.text.split(": ", 1)[1] if ": " in event.text else event.text
        at = self.stamp(event.time)
        if kind == "state":
            state = extra.get("state", "")
            shown = _TRADING_STATE.get(state, state)
            text = f"{at} trading {shown}: {reason}"
            return [Notice("trading_state", f"state:{state}", text, event.time)]
        if kind in ("flatten_va", "va_paused"):
            label = "flatten" if kind == "flatten_va" else "paused"
            text = f"{at} VA {label}: {reason}"
            return [Notice("trading_state", f"{kind}:{_shape(reason)}", text, event.time)]
        if kind == "connection":
            return self._connection(reason, event.time)
        if kind == "logged_out":
            text = f"{at} IB login needed: {reason}"
            return [Notice("login", "login", text, event.time)]
        if kind in _DATA_KINDS:
            text = f"{at} market data: {reason}"
            return [Notice("data", f"data:{kind}:{_shape(reason)}", text, event.time)]
        if kind == "reconciled":
            if not _int(extra.get("differences")):
                return []  # the books agree (or an event from before the count was carried)
            text = f"{at} {reason}"
            return [Notice("reconcile", f"reconciled:{_shape(reason)}", text, event.time)]
        if kind == "reconcile":
            text = f"{at} reconcile: {reason}"
            return [Notice("reconcile", f"reconcile:{_shape(reason)}", text, event.time)]
        if kind == "actor_crash":
            count = _int(extra.get("crash_count"))
            if count is None or count < 2:
                return []  # one crash restarts cleanly; the second is worth a message
            actor = extra.get("actor", "")
            text = f"{at} actor crashed again: {reason}"
            return [Notice("crash", f"crash:{actor}", text, event.time)]
        return []

    def _connection(self, reason: str, when: datetime) -> list[Notice]:
        state = reason.split(":", 1)[0]
        at = self.stamp(when)
        if state == "DISCONNECTED":
            if self._disconnected_since is None:
                self._disconnected_since = when
                self._disconnect_told = False
            return self.tick(when)
        if state == "DATA_STALE":
            return [Notice("data", "data:stale", f"{at} market data STALE: {reason}", when)]
        since, told = self._disconnected_since, self._disconnect_told
        self._disconnected_since = None
        self._disconnect_told = False
        if since is None or not told:
            return []
        lasted = (when - since).total_seconds()
        text = f"{at} broker reconnected after {lasted:.0f}s down: {reason}"
        return [Notice("connection", "connection:up", text, when)]

    # -- margin ---------------------------------------------------------------------------------
    def _margin(self, status: RiskStatus) -> list[Notice]:
        net_liq, maint = status.net_liquidation, status.maint_margin
        if net_liq is None or net_liq <= 0:
            return []
        out: list[Notice] = []
        at = self.stamp(status.time)
        if maint is not None:
            used = float(maint / net_liq * 100)
            near = used >= self._margin_near
            if near and not self._margin_told:
                text = (
                    f"{at} margin near its limit: maintenance {maint:,.2f} is {used:.1f}% of "
                    f"net liquidation {net_liq:,.2f} (warned at {self._margin_near:.1f}%)"
                )
                out.append(Notice("margin", "margin:use", text, status.time))
            self._margin_told = near
        excess = status.excess_liquidity
        if excess is not None:
            pct = float(excess / net_liq * 100)
            low = pct < self._excess_min
            if low and not self._excess_told:
                text = (
                    f"{at} excess liquidity low: {excess:,.2f} is {pct:.1f}% of net "
                    f"liquidation {net_liq:,.2f} (warned below {self._excess_min:.1f}%)"
                )
                out.append(Notice("margin", "margin:excess", text, status.time))
            self._excess_told = low
        return out


def _shape(text: str) -> str:
    """``text`` with its numbers blanked: repeats that differ only in counts fold together."""
    return _NUMBERS.sub("#", text)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value is not None else None
    except InvalidOperation:
        return None
