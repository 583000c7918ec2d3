"""The wheel on ``--broker ib`` against the simulated TWS, one full cycle: the put is sold and
assigned, the stock is kept and a covered call written on it, the call is assigned and the
stock called away, and the VA sells a put again. tws-sim reports each assignment as IB does
(the option's and the stock's position changes, no execution); the adapter infers them and
the OrderManager books them to the VA; the ledger's positions equal tws-sim's at every step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ib_engine_support import TUESDAY_10, governor, ledger_positions
from ib_support import wait_until
from test_ib_engine_options import NAKED_PUT_TOML, SPEED, _run, broker_positions_by_key

from broker.tws.server import TwsSimServer
from core.config import parse_config
from engine.engine import Engine

#: Waits on wall-clock bounds while tws-sim runs at 10x: runs alone.
pytestmark = pytest.mark.serial

WHEEL_TOML = NAKED_PUT_TOML.replace(
    "reprice_steps = 4\n",
    'reprice_steps = 4\non_assignment = "wheel"\ncall_target_dte = 7\ncall_max_dte = 30\n'
    "call_min_credit = 0.05\nallow_call_below_basis = true\n",
    1,
)


def _sold(engine: Engine, right: str) -> list[Any]:
    return [
        e
        for e in engine.ledger.executions(va_id="puts")
        if f" {right} " in e.contract_key and e.side.value == "SELL"
    ]


def _books_agree(engine: Engine, tws: TwsSimServer, expected: dict[str, int]) -> None:
    wait_until(
        lambda: ledger_positions(engine) == broker_positions_by_key(tws) == expected,
        timeout_s=20.0,
        what=f"the ledger and tws-sim both holding {expected}",
    )


def test_one_wheel_cycle_on_ib_is_booked_as_tws_sim_reports_it(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = parse_config(WHEEL_TOML, source="test.toml")
    assert config.account("puts").strategy.wheels_stock()
    tws, engine = _run(config, tmp_path, engine_servers, engines, start=TUESDAY_10, speed=SPEED)

    (put,) = wait_until(lambda: _sold(engine, "P"), timeout_s=40.0, what="a sold put")
    _books_agree(engine, tws, {put.contract_key: -put.quantity})
    assert tws.assign_early("AAPL") == put.quantity
    shares = 100 * put.quantity
    _books_agree(engine, tws, {"AAPL": shares})

    (call,) = wait_until(lambda: _sold(engine, "C"), timeout_s=60.0, what="a covered call")
    assert call.quantity == put.quantity
    _books_agree(engine, tws, {"AAPL": shares, call.contract_key: -call.quantity})
    assert not [o for o in engine.ledger.orders(va_id="puts") if o.purpose == "stop"]

    assert tws.assign_early("AAPL") == call.quantity  # the stock is called away
    _books_agree(engine, tws, {})
    assigned = [o for o in engine.ledger.orders(va_id="puts") if o.purpose == "assignment"]
    assert sorted((o.contract_key, o.side.value, o.quantity) for o in assigned) == sorted(
        [
            (put.contract_key, "BUY", put.quantity),
            ("AAPL", "BUY", shares),
            (call.contract_key, "BUY", call.quantity),
            ("AAPL", "SELL", shares),
        ]
    )
    # Position changes only: no execution of ours at a price for either delivery.
    stock_fills = [e for e in engine.ledger.executions(va_id="puts") if e.contract_key == "AAPL"]
    assert all(e.commission == 0 for e in stock_fills) and len(stock_fills) == 2

    (_, again) = wait_until(
        lambda: len(_sold(engine, "P")) == 2 and _sold(engine, "P"),
        timeout_s=60.0,
        what="puts sold again",
    )
    _books_agree(engine, tws, {again.contract_key: -again.quantity})
    assert governor(engine).state.value == "ACTIVE"
    assert not [e for e in engine.ledger.risk_events() if e.kind == "reconcile"]
