"""A roll on ``--broker ib`` against the simulated TWS: the put the VA sold is due at once
(``roll_at_dte`` beyond its expiry), so the VA sends one BAG combo through the IB adapter
(buy the put back, sell a later one, a net credit); tws-sim fills both legs and reports an
execution per leg; the ledger books the close and the open, linked by ``rolled_from``, and
its positions equal tws-sim's."""

from __future__ import annotations

from pathlib import Path

import pytest
from ib_engine_support import TUESDAY_10, ledger_positions
from ib_support import wait_until
from test_ib_engine_options import NAKED_PUT_TOML, SPEED, _run, broker_positions_by_key

from broker.tws.server import TwsSimServer
from core.config import parse_config
from db.records import OrderRecord
from db.report import build_report
from engine.engine import Engine

#: Waits on wall-clock bounds while tws-sim runs at 10x: runs alone.
pytestmark = pytest.mark.serial

ROLL_TOML = NAKED_PUT_TOML.replace(
    "reprice_steps = 4\n",
    "reprice_steps = 4\nroll_at_dte = 30\nroll_dte = 35\nroll_max_dte = 75\n"
    "roll_min_credit = 0.05\n",
    1,
)


def test_a_roll_on_ib_is_one_combo_filled_per_leg_and_booked_as_tws_sim_reports_it(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = parse_config(ROLL_TOML, source="test.toml")
    tws, engine = _run(config, tmp_path, engine_servers, engines, start=TUESDAY_10, speed=SPEED)

    def filled_roll() -> list[OrderRecord]:
        return [
            o
            for o in engine.ledger.orders(va_id="puts")
            if o.contract_key == "AAPL BAG" and o.status.value == "filled"
        ]

    (roll,) = wait_until(filled_roll, timeout_s=60.0, what="a filled roll")
    entry = engine.ledger.order(roll.rolled_from)
    assert entry is not None and entry.purpose == "entry"
    legs = [e for e in engine.ledger.executions(va_id="puts") if e.order_id == roll.id]
    assert sorted(e.side.value for e in legs) == ["BUY", "SELL"]
    (bought,) = [e for e in legs if e.side.value == "BUY"]
    (sold,) = [e for e in legs if e.side.value == "SELL"]
    assert bought.contract_key == entry.contract_key and sold.price - bought.price >= 0.05
    wait_until(
        lambda: (
            ledger_positions(engine)
            == broker_positions_by_key(tws)
            == {sold.contract_key: -sold.quantity}
        ),
        timeout_s=20.0,
        what="the ledger and tws-sim both holding the new put",
    )
    [chain] = build_report(engine.ledger, tz=config.tz)["rolls"]
    assert [link["contract"] for link in chain["links"]] == [
        entry.contract_key,
        sold.contract_key,
    ]
