"""What ``main.py status`` and ``health`` print, from a reading made here (pure functions):
every string from outside escaped, the risk events counted, one JSON object."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from actors.messages.events import EngineEvent
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from core.domain import Contract, OrderStatus, OrderType, Purpose, Side, TradingState
from core.gate import GateState
from engine.control.wire import ClockInfo, EngineInfo, GateInfo, Health, State, Welcome
from engine.operations.status_text import (
    RISK_EVENTS_SHOWN,
    EngineReading,
    health_line,
    status_json,
    status_text,
)

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 16, 10, 15, tzinfo=NY)
HOSTILE = "bad\n2026-11-16 10:00:00  FORGED line\x1b[2J"


def _va(va_id: str, symbol: str | None = "AAPL") -> VASnapshot:
    return VASnapshot(
        va_id=va_id, strategy="trend", symbol=symbol, state="in_position",
        capital=Decimal(100000), equity=Decimal(100120), realized_pnl=Decimal(0),
        unrealized_pnl=Decimal(120), day_pnl=Decimal("120.5"), drawdown_pct=0.0,
        peak_equity=Decimal(100120), wins=0, losses=0, consecutive_losses=0,
        cooldown_until=None, open_positions=1, working_orders=1, time=NOW,
    )  # fmt: skip


def _reading(events: tuple[EngineEvent, ...] = (), *, risk_reason: str = "") -> EngineReading:
    info = EngineInfo("main", 4242, "SIM", "sim", "config.toml", "/tmp/c/main.sock", NOW)
    risk = RiskStatus(
        TradingState.ACTIVE, risk_reason, Decimal("-250.75"), Decimal(5000), (), NOW,
        account_day_pnl=Decimal("-251"),
    )  # fmt: skip
    position = PositionSnapshot(
        "trend-tech", Contract.stock("AAPL"), 100, Decimal("187.2"), 188.0, Decimal(80), 0.4,
        Decimal(185), NOW, NOW, mark_stale=True,
    )  # fmt: skip
    stop = OrderSnapshot(
        "o-1", "trend-tech", Contract.stock("AAPL"), Side.SELL, OrderType.STP, Purpose.STOP,
        100, 0, OrderStatus.SUBMITTED, None, Decimal(185), NOW, NOW,
    )  # fmt: skip
    done = replace(stop, order_id="o-0", status=OrderStatus.FILLED)
    option = Contract.option("SPY", date(2026, 12, 18), Decimal(450), "P")
    closed = replace(position, contract=option, quantity=0)
    state = State(
        seq=1, full=True, clock=ClockInfo(NOW, 30.0), gate=GateInfo(GateState.OPEN, ""),
        vas=(_va("zeta", None), _va("trend-tech")), positions=(position, closed),
        orders=(stop, done), risk=risk, events=events,
    )  # fmt: skip
    health = Health(True, TradingState.ACTIVE, GateState.OPEN, True, NOW, 3725.0)
    return EngineReading(Welcome(1, info, {}, True), state, health)


def test_status_shows_the_engine_its_vas_positions_and_working_orders() -> None:
    lines = status_text(_reading()).splitlines()
    assert lines[0] == (
        "engine   main  pid 4242  SIM  broker sim  up 1:02:05  "
        "engine time 2026-11-16 10:15:00 (x30)"
    )
    assert lines[1] == "trading  ACTIVE  gate open"
    assert lines[2] == "broker   connected, market data live"
    assert lines[3] == ("day P&L  engine -250.75 (loss limit 5,000.00), broker account -251.00")
    assert lines[4] == "health   ok"
    at = lines.index("VAs (2)")
    assert [line.split()[0] for line in lines[at + 1 : at + 3]] == ["trend-tech", "zeta"]
    assert "positions (1)" in lines  # the closed one (quantity 0) is not open
    assert "working orders (1)" in lines  # the filled one is not working
    assert any("AAPL" in line and "STALE" in line for line in lines)
    assert lines[-1] == "risk events: none in the engine's recent events"


def test_strings_from_outside_are_escaped_and_cannot_forge_a_line() -> None:
    risks = [EngineEvent("risk", f"{HOSTILE} {n}", NOW, "trend-tech") for n in range(8)]
    events = (*risks, EngineEvent("fill", HOSTILE, NOW, "trend-tech"))
    text = status_text(_reading(events, risk_reason=HOSTILE))
    assert "\x1b" not in text
    assert "FORGED" in text and "\\x1b[2J" in text and "bad\\n2026" in text
    lines = text.splitlines()
    assert not any(line.startswith("2026-11-16 10:00:00") for line in lines)
    assert f"risk events: the last {RISK_EVENTS_SHOWN} of the 8 the engine keeps" in lines
    assert lines[-1].endswith(f"{HOSTILE} 7".replace("\n", "\\n").replace("\x1b", "\\x1b"))
    assert len(lines) == len(status_text(_reading()).splitlines()) + RISK_EVENTS_SHOWN


def test_status_json_is_one_object_of_plain_values() -> None:
    events = (EngineEvent("risk", HOSTILE, NOW, None),)
    value = status_json(_reading(events))
    line = json.dumps(value)
    assert "\n" not in line and "\x1b" not in line
    back = json.loads(line)
    assert back["engine"]["pid"] == 4242
    assert [va["va_id"] for va in back["vas"]] == ["trend-tech", "zeta"]
    assert back["risk"]["day_pnl"] == "-250.75"
    assert [o["order_id"] for o in back["orders"]] == ["o-1"]
    assert back["risk_events"]["kept"] == 1
    assert back["risk_events"]["last"][0]["text"] == HOSTILE  # JSON escapes it itself


def test_health_is_one_line_saying_why_not() -> None:
    healthy = _reading().health
    assert health_line(healthy) == "ok: ACTIVE, broker connected, gate open, up 1:02:05"
    sick = replace(healthy, ok=False, connected=False, uptime_s=90061.0, problems=(HOSTILE,))
    line = health_line(sick)
    assert line.startswith("unhealthy: ACTIVE, broker disconnected, gate open, up 1d 1:01:01, ")
    assert "\n" not in line and "\x1b" not in line
