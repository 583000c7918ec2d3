"""The engine on ``--broker ib`` against the simulated TWS with a naked-put VA: it reads the put
chain through the API, sells a put through the real order path, and the ledger's positions
(options keyed by contract) equal the simulated TWS's.

Both clocks run at 10x, not the 60x of the stock session tests: a chain read sends about a
hundred requests, which IB's pacing (45 a second) spreads over two wall seconds; at 60x that is
two simulated minutes, longer than an option entry's re-pricing plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ib_engine_support import TUESDAY_10, ledger_positions
from ib_support import FAST, other_client, wait_until

from actors.config import parse_config
from actors.engine import Engine, RunOptions
from broker.base import GateState, TradingGate
from broker.ib import IBBroker, IbOptions
from broker.ib.parsing.contracts import from_ib_contract
from broker.tws import TwsSimServer, server_from_config

SPEED = 10.0

NAKED_PUT_TOML = """
[engine]
timezone = "America/New_York"
database_url = "sqlite:///unused.db"
reconcile_interval_s = 5
on_shutdown = "leave"

[broker]
kind = "ib"

[broker.ib]
client_id = 33
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

[risk]
max_trades_per_day = 50
max_sector_concentration_pct = 100.0

[filters]
# Both clocks run at 10x real time: a wall millisecond of latency is 10 clock ms.
max_quote_age_ms = 30000
open_margin_min = 0
close_margin_min = 5
max_option_spread_pct = 50.0

[[accounts]]
id = "puts"
capital = 200000
universe = ["AAPL"]
[accounts.strategy]
kind = "naked_put"
target_delta = 0.3
target_dte = 7
max_dte = 30
min_credit = 0.5
min_open_interest = 10
max_margin_pct = 40.0
max_contracts = 3
scan_interval_s = 30.0
retry_after_reject_s = 60.0
reprice_interval_s = 5.0
reprice_steps = 4
[accounts.limits]
risk_per_trade_pct = 1.0
max_position_pct = 25.0
max_open_positions = 1
max_drawdown_pct = 50.0
cooldown_losses = 50
cooldown_s = 5.0
"""


@pytest.fixture
def servers() -> Iterator[list[TwsSimServer]]:
    made: list[TwsSimServer] = []
    yield made
    for server in made:
        server.stop()


@pytest.fixture
def engines(servers: list[TwsSimServer]) -> Iterator[list[Engine]]:
    """Engines to stop at teardown, before the servers."""
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.stop()


def broker_positions_by_key(server: TwsSimServer) -> dict[str, int]:
    """The account's positions at the simulated TWS by our contract key (a second client)."""

    async def read(ib: Any) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in await ib.reqPositionsAsync():
            contract = from_ib_contract(row.contract)
            if contract is not None and int(row.position):
                out[contract.key] = int(row.position)
        return out

    return other_client(server, read, client_id=96)


def test_a_naked_put_va_on_ib_sells_a_put_and_the_ledger_matches_the_simulated_tws(
    tmp_path: Path, engines: list[Engine], servers: list[TwsSimServer]
) -> None:
    config = parse_config(NAKED_PUT_TOML, source="test.toml")
    tws = server_from_config(config, port=0, speed=SPEED, start=TUESDAY_10)
    servers.append(tws)
    tws.start()
    fast: dict[str, Any] = dict(FAST)
    ib_options = IbOptions.from_settings(config.broker.ib, port=tws.port, **fast)
    gate = TradingGate(GateState.CLOSED, "engine starting")
    broker = IBBroker(ib_options, gate=gate, calendar=tws.calendar)
    run = RunOptions(database_url=f"sqlite:///{tmp_path / 'ib.db'}", speed=SPEED)
    engine = Engine(config, run, broker=broker, gate=gate)
    engines.append(engine)
    engine.start()

    def sold_put() -> list[Any]:
        return [
            e
            for e in engine.ledger.executions()
            if e.contract_key.startswith("AAPL ") and " P " in e.contract_key
        ]

    (sale, *more) = wait_until(sold_put, timeout_s=40.0, what="the VA to sell a put")
    assert not more
    assert sale.side.value == "SELL" and sale.quantity >= 1
    assert sale.multiplier == 100
    assert sale.commission >= 1  # IB's per-contract schedule, at least $1 an order
    (order,) = [o for o in engine.ledger.orders(va_id="puts") if o.id == sale.order_id]
    assert order.purpose == "entry" and order.dry_run is False
    expected = {sale.contract_key: -sale.quantity}
    wait_until(
        lambda: ledger_positions(engine) == expected == broker_positions_by_key(tws),
        timeout_s=10.0,
        what="ledger positions == the simulated TWS's",
    )
