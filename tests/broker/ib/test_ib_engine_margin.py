"""The engine on ``--broker ib`` against the simulated TWS: a naked-put VA's short put that our
Reg-T check lets through but IB's initial margin does not is refused before anything is sent,
with the what-if's numbers as the reason.

The account holds stock bought on margin by the trader (not by the engine): Reg-T asks 50 %
of it as initial margin but only 25 % as maintenance, so the governor's maintenance-based
margin check passes while the what-if's initial-margin change exceeds the AvailableFunds.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from ib_async import MarketOrder, Stock
from ib_engine_support import TUESDAY_10, make_engine
from ib_support import other_client, wait_until
from test_ib_engine_options import NAKED_PUT_TOML, SPEED

from broker.tws.runner import server_from_config
from broker.tws.server import TwsSimServer
from core.config import EngineConfig, parse_config
from engine.engine import Engine

#: $30,000 of cash; the trader's 300 AAPL (about $57,000) leave about $1,500 of AvailableFunds
#: (equity with loan 30,000 less 50 % initial margin) while maintenance is about $14,250.
MARGIN_TOML = (
    NAKED_PUT_TOML.replace('on_shutdown = "leave"', 'on_shutdown = "leave"\non_mismatch = "trade"')
    .replace("starting_cash = 1000000", "starting_cash = 30000")
    .replace("[risk]\n", "[risk]\ndaily_loss_limit_pct = 50.0\n")
    .replace("max_contracts = 3", "max_contracts = 1")
)


def _trader_buys_stock(tws: TwsSimServer, shares: int) -> None:
    """The trader's own purchase through a second API client (a position the engine never
    traded: the reconciliation reports it and, with ``on_mismatch = "trade"``, trades on)."""

    async def buy(ib: Any) -> None:
        (stock,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(stock, MarketOrder("BUY", shares))
        while not trade.isDone():
            await ib.updateEvent
        assert trade.orderStatus.status == "Filled"

    other_client(tws, buy, client_id=91)


def test_a_short_put_whose_what_if_margin_exceeds_the_available_funds_is_refused(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = parse_config(MARGIN_TOML, source="test.toml")
    tws = server_from_config(config, port=0, speed=SPEED, start=TUESDAY_10)
    engine_servers.append(tws)
    tws.start()
    _trader_buys_stock(tws, 300)
    engine = _engine_on(tws, config, tmp_path, engines)

    def refused() -> list[Any]:
        return [s for s in engine.ledger.signals(va_id="puts") if s.rule == "what_if_margin"]

    (decision, *_) = wait_until(refused, timeout_s=60.0, what="a what-if margin refusal")
    assert (decision.accepted, decision.stage) == (False, "order_manager")
    assert " P " in decision.contract_key and decision.side.value == "SELL"
    change, available = _numbers(decision.detail)
    assert change > available and Decimal(0) < available < Decimal(3000)
    # Nothing reached IB: no option order in the ledger, no open order at the simulated TWS.
    assert not [o for o in engine.ledger.orders() if " P " in o.contract_key]
    governor = engine.ask_snapshot("governor", timeout_s=5.0)
    assert governor.state.value == "ACTIVE"  # our own Reg-T check had let it through
    (line, *_) = engine.inspect_va("puts", timeout_s=5.0).margin_checks
    assert " refused " in line and "our Reg-T" in line


def _engine_on(
    tws: TwsSimServer, config: EngineConfig, tmp_path: Path, engines: list[Engine]
) -> Engine:
    """A started engine on the running ``tws`` (whose account the trader already used)."""
    engine = make_engine(config, tws, f"sqlite:///{tmp_path / 'ib.db'}", speed=SPEED)
    engines.append(engine)
    engine.start()
    return engine


def _numbers(detail: str) -> tuple[Decimal, Decimal]:
    """(change, available) from ``initial margin +X (what-if) > available funds Y``."""
    change = detail.split("+", 1)[1].split(" ", 1)[0]
    available = detail.rsplit(" ", 1)[1]
    return Decimal(change.replace(",", "")), Decimal(available.replace(",", ""))
