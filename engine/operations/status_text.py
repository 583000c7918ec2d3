"""What ``main.py status`` and ``health`` print: one screen of text (or one JSON object) made
from what the engine answered: its welcome, the full state that followed it, and its health.

Every string that came from outside the program (a VA's decision, an event's text, a reason,
a broker's words) is escaped by ``core.text.printable`` before it is shown, so a newline or an
ESC in one can neither forge a line nor reach the terminal. JSON escapes them itself.

Pure functions; any thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter

from actors.messages.events import EngineEvent
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from core.text import printable
from engine.control.wire import Health, State, Welcome

__all__ = ["RISK_EVENTS_SHOWN", "EngineReading", "health_line", "status_json", "status_text"]

#: How many of the last risk events the text shows (the JSON has as many, and the count).
RISK_EVENTS_SHOWN = 5
_JSON: TypeAdapter[Any] = TypeAdapter(Any)


@dataclass(frozen=True, slots=True)
class EngineReading:
    """What one read-only connection learnt: the welcome, the first full state, the health."""

    welcome: Welcome
    state: State
    health: Health

    @property
    def positions(self) -> tuple[PositionSnapshot, ...]:
        """The open positions (a full state lists no closed one; quantity 0 is skipped)."""
        return tuple(p for p in self.state.positions if p.quantity != 0)

    @property
    def orders(self) -> tuple[OrderSnapshot, ...]:
        """The working orders."""
        return tuple(o for o in self.state.orders if o.status.is_working)

    @property
    def risk_events(self) -> tuple[EngineEvent, ...]:
        """The risk events among the events the engine keeps for a new client, oldest first."""
        return tuple(e for e in self.state.events if e.kind == "risk")


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:+,.2f}"


def _price(value: Decimal | float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _duration(seconds: float) -> str:
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02}:{secs:02}"
    return f"{days}d {clock}" if days else clock


def _moment(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}"


def _broker_line(risk: RiskStatus | None) -> str:
    if risk is None:
        return "broker   unknown (the governor has not reported yet)"
    if risk.logged_out:
        link = "logged out (log in to TWS / IB Gateway again)"
    else:
        link = "connected" if risk.connected else "DISCONNECTED"
    data = "stale (entries frozen)" if risk.data_stale else "live"
    if risk.data_delayed:
        data += ", delayed"
    return f"broker   {link}, market data {data}"


def _pnl_line(risk: RiskStatus | None) -> str:
    if risk is None:
        return "day P&L  unknown"
    account = "not reported yet" if risk.account_day_pnl is None else _money(risk.account_day_pnl)
    return (
        f"day P&L  engine {_money(risk.day_pnl)} (loss limit {_price(risk.daily_loss_limit)}), "
        f"broker account {account}"
    )


def _va_line(va: VASnapshot) -> str:
    symbol = printable(va.symbol) if va.symbol else "-"
    return (
        f"  {printable(va.va_id):<16} {printable(va.state):<12} {symbol:<8} "
        f"day {_money(va.day_pnl):>12}  positions {va.open_positions}  "
        f"orders {va.working_orders}"
    )


def _position_line(p: PositionSnapshot) -> str:
    flags = "".join((" STALE" if p.mark_stale else "", " delayed" if p.mark_delayed else ""))
    return (
        f"  {printable(p.va_id):<16} {printable(p.contract.key):<24} {p.quantity:>+7} "
        f"@ {_price(p.avg_price)}  mark {_price(p.mark)}{flags}  "
        f"unrealized {_money(p.unrealized_pnl)}  stop {_price(p.stop_price)}"
    )


def _order_line(o: OrderSnapshot) -> str:
    price = o.limit_price if o.limit_price is not None else o.stop_price
    return (
        f"  {printable(o.va_id):<16} {o.side.value:<4} {o.order_type.value:<4} "
        f"{printable(o.contract.key):<24} {o.filled}/{o.quantity} @ {_price(price)}  "
        f"{o.status.value}  {o.purpose.value}  {printable(o.order_id)}"
    )


def status_text(reading: EngineReading) -> str:
    """The screen ``main.py status`` prints (lines joined, no trailing newline)."""
    info, state, health = reading.welcome.engine, reading.state, reading.health
    risk = state.risk
    speed = "max" if state.clock.speed is None else f"x{state.clock.speed:g}"
    trading = risk.state.value if risk is not None else "unknown"
    reason = f" ({printable(risk.reason)})" if risk is not None and risk.reason else ""
    gate_reason = f" ({printable(state.gate.reason)})" if state.gate.reason else ""
    lines = [
        f"engine   {printable(info.instance)}  pid {info.pid}  {info.mode}  "
        f"broker {info.broker}  up {_duration(health.uptime_s)}  "
        f"engine time {_moment(state.clock.now)} ({speed})",
        f"trading  {trading}{reason}  gate {state.gate.state.value}{gate_reason}",
        _broker_line(risk),
        _pnl_line(risk),
        f"health   {'ok' if health.ok else 'NOT OK'}"
        + (f": {'; '.join(printable(p) for p in health.problems)}" if health.problems else ""),
        f"VAs ({len(state.vas)})",
        *(_va_line(va) for va in sorted(state.vas, key=lambda va: va.va_id)),
        f"positions ({len(reading.positions)})",
        *(_position_line(p) for p in reading.positions),
        f"working orders ({len(reading.orders)})",
        *(_order_line(o) for o in reading.orders),
    ]
    events = reading.risk_events
    shown = events[-RISK_EVENTS_SHOWN:]
    lines.append(
        f"risk events: the last {len(shown)} of the {len(events)} the engine keeps"
        if events
        else "risk events: none in the engine's recent events"
    )
    lines.extend(
        f"  {_moment(e.time)}  {printable(e.va_id or '-'):<16} {printable(e.text)}" for e in shown
    )
    return "\n".join(lines)


def status_json(reading: EngineReading) -> dict[str, Any]:
    """``main.py status --json``: one object (plain JSON values)."""
    state = reading.state
    events = reading.risk_events
    value: dict[str, Any] = _JSON.dump_python(
        {
            "engine": reading.welcome.engine,
            "clock": state.clock,
            "gate": state.gate,
            "health": reading.health,
            "risk": state.risk,
            "vas": sorted(state.vas, key=lambda va: va.va_id),
            "positions": reading.positions,
            "orders": reading.orders,
            "risk_events": {"kept": len(events), "last": events[-RISK_EVENTS_SHOWN:]},
        },
        mode="json",
    )
    return value


def health_line(health: Health) -> str:
    """``main.py health``'s one line: ``ok: ...`` when healthy, else ``unhealthy: ...``."""
    state = health.state.value if health.state is not None else "state unknown"
    if health.connected is None:
        broker = "broker not reported yet"
    else:
        broker = "broker connected" if health.connected else "broker disconnected"
    parts = [state, broker, f"gate {health.gate.value}", f"up {_duration(health.uptime_s)}"]
    parts.extend(printable(p) for p in health.problems)
    return f"{'ok' if health.ok else 'unhealthy'}: {', '.join(parts)}"
