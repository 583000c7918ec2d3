"""The whole engine on ``--broker ib`` against an in-process simulated TWS, for the end-to-end
tests: a config, an engine whose clock is anchored at the server's time, inbox signals, and the
ledger and broker views the invariants compare.

Both clocks run in real time at ``SPEED`` (60x: a simulated minute a wall second).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ib_support import FAST, TZ, other_client, wait_until

from actors.messages.snapshots import RiskStatus
from broker.ib import IBBroker, IbOptions
from broker.tws.runner import server_from_config
from broker.tws.server import TwsSimServer
from core.config import EngineConfig, parse_config
from core.gate import GateState, TradingGate
from engine.engine import Engine
from engine.options import RunOptions

SPEED = 60.0
#: A Tuesday, 10:00 New York: past the no-entry margin after the open.
TUESDAY_10 = datetime(2026, 1, 6, 10, 0, tzinfo=TZ)


def ib_header(client_id: int) -> str:
    """The start of an engine config on ``--broker ib`` against tws-sim, through AAPL."""
    return f"""
[engine]
timezone = "America/New_York"
database_url = "sqlite:///unused.db"
reconcile_interval_s = 5
on_shutdown = "leave"

[broker]
kind = "ib"

[broker.ib]
client_id = {client_id}
stale_data_s = 120

[sim]
seed = 11
tick_interval_s = 5.0
starting_cash = 1000000

[sim.symbols.AAPL]
price = 190.0
volatility = 0.30
spread_bps = 1.0
sector = "Technology"
display_size = 5000
"""


ENGINE_TOML = (
    ib_header(31)
    + """
[sim.symbols.MSFT]
price = 400.0
volatility = 0.30
spread_bps = 1.0
sector = "Technology"
display_size = 5000

[sim.symbols.JPM]
price = 150.0
volatility = 0.30
spread_bps = 1.0
sector = "Financials"
display_size = 5000

[risk]
max_trades_per_day = 200
max_concurrent_positions = 10
max_sector_concentration_pct = 100.0

[filters]
# Both clocks run at 60x real time: a wall millisecond of latency is 60 clock ms.
max_quote_age_ms = 10000
max_spread_bps = 50.0
max_slippage_bps = 50.0
open_margin_min = 0
close_margin_min = 5

[orders]
entry_type = "LMT"
stop_loss_pct = 2.0

[inbox]
enabled = {inbox}
path = "{inbox_path}"
poll_interval_s = 1.0

[[accounts]]
id = "fast"
capital = 200000
universe = ["AAPL", "MSFT"]
[accounts.strategy]
kind = "{fast_kind}"
{fast_strategy}
[accounts.limits]
risk_per_trade_pct = 1.0
max_position_pct = 25.0
max_open_positions = 1
max_drawdown_pct = 50.0
cooldown_losses = 50
cooldown_s = 5.0

[[accounts]]
id = "manual"
capital = 200000
universe = ["AAPL", "JPM"]
[accounts.strategy]
kind = "external"
[accounts.limits]
risk_per_trade_pct = 1.0
max_position_pct = 50.0
max_open_positions = 2
max_drawdown_pct = 50.0
cooldown_losses = 50
cooldown_s = 5.0
"""
)

MA_CROSS = """fast_bars = 2
slow_bars = 4
bar_seconds = 10
order_type = "LMT"
allow_short = true"""


def engine_config(tmp_path: Path, *, trading: bool = True) -> EngineConfig:
    """The test config: ``fast`` trades an MA cross on 10-second bars (``trading``) or only
    the inbox; ``manual`` trades the inbox (``tmp_path/signals.jsonl``)."""
    text = ENGINE_TOML.format(
        inbox="true",
        inbox_path=(tmp_path / "signals.jsonl").as_posix(),
        fast_kind="ma_cross" if trading else "external",
        fast_strategy=MA_CROSS if trading else "",
    )
    return parse_config(text, source="test.toml")


def tws_for(config: EngineConfig, *, start: datetime = TUESDAY_10) -> TwsSimServer:
    server = server_from_config(config, port=0, speed=SPEED, start=start)
    server.start()
    return server


def make_engine(
    config: EngineConfig,
    server: TwsSimServer,
    db_url: str,
    *,
    speed: float = SPEED,
    **options: Any,
) -> Engine:
    """An engine on ``server`` (not started): the adapter is built with the test's fast
    options (``options`` override them) and the engine anchors its clock at the server's
    time, running at ``speed`` (the server's)."""
    values = {**FAST, **options}
    ib_options = IbOptions.from_settings(config.broker.ib, port=server.port, **values)
    gate = TradingGate(GateState.CLOSED, "engine starting")
    broker = IBBroker(ib_options, gate=gate, calendar=server.calendar)
    run = RunOptions(database_url=db_url, speed=speed)
    return Engine(config, run, broker=broker, gate=gate)


def ib_broker(engine: Engine) -> IBBroker:
    """The engine's IB adapter, typed, for what the ``Broker`` protocol lacks (``stats``).
    Fails the test if the engine runs on another broker."""
    broker = engine.broker
    assert isinstance(broker, IBBroker), f"engine runs on {type(broker).__name__}, not IBBroker"
    return broker


def signal(tmp_path: Path, sid: str, va: str, symbol: str, side: str, **extra: Any) -> None:
    """Append one inbox line."""
    line = {"id": sid, "va": va, "symbol": symbol, "side": side, **extra}
    with (tmp_path / "signals.jsonl").open("a") as inbox:
        inbox.write(json.dumps(line) + "\n")


def governor(engine: Engine) -> RiskStatus:
    status = engine.ask_snapshot("governor", timeout_s=5.0)
    assert isinstance(status, RiskStatus)
    return status


def ledger_positions(engine: Engine) -> dict[str, int]:
    """The ledger's positions per contract, summed over VAs (non-zero only)."""
    totals: dict[str, int] = {}
    for position in engine.ledger.open_positions():
        totals[position.contract_key] = totals.get(position.contract_key, 0) + position.quantity
    return {key: qty for key, qty in totals.items() if qty}


def broker_positions(server: TwsSimServer) -> dict[str, int]:
    """The account's positions at the simulated TWS, read by a second API client."""

    async def read(ib: Any) -> dict[str, int]:
        rows = await ib.reqPositionsAsync()
        return {p.contract.symbol: int(p.position) for p in rows if int(p.position)}

    return other_client(server, read, client_id=98)


def broker_order_refs(server: TwsSimServer) -> tuple[set[str], set[str]]:
    """(open, completed) orderRefs at the simulated TWS."""

    async def read(ib: Any) -> tuple[set[str], set[str]]:
        opened = await ib.reqAllOpenOrdersAsync()
        done = await ib.reqCompletedOrdersAsync(False)
        return {t.order.orderRef for t in opened}, {t.order.orderRef for t in done}

    return other_client(server, read, client_id=97)


def positions_agree(engine: Engine, server: TwsSimServer, timeout_s: float = 10.0) -> None:
    """Wait (bounded) until the ledger's positions equal the broker's."""
    wait_until(
        lambda: ledger_positions(engine) == broker_positions(server),
        timeout_s=timeout_s,
        what="ledger positions == broker positions",
    )
