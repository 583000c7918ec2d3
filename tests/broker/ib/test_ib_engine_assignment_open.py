"""The engine on ``--broker ib`` against the simulated TWS when IB reports an early assignment
at the open after a closed night (when real IB processes them): tws-sim skips the night, the
engine's clock jumps with it, and the assignment must still be booked and the books agree."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ib_engine_support import governor, ledger_positions
from ib_support import TZ, wait_until
from test_ib_engine_options import (
    SETTLEMENT_TOML,
    _run,
    broker_positions_by_key,
)

from broker.tws.scenario import ScenarioFault
from broker.tws.server import TwsSimServer
from core.config import parse_config
from engine.engine import Engine

#: A Tuesday a minute after the (half-hour) session opens.
TUESDAY_0931 = datetime(2026, 1, 6, 9, 31, tzinfo=TZ)

#: One naked-put VA selling Friday's put on Tuesday (3 days to expiry) and closing it by time
#: at 2 days: at Wednesday's open, the moment IB reports the overnight assignment.
_CONFIG = SETTLEMENT_TOML[: SETTLEMENT_TOML.index("[[accounts]]")].replace(
    "time_exit_dte = 0", "time_exit_dte = 2"
) + (
    '[[accounts]]\nid = "puts"\ncapital = 200000\nuniverse = ["AAPL"]\n'
    '[accounts.strategy]\nkind = "naked_put"\ntarget_delta = 0.3\ntarget_dte = 3\n'
    "max_dte = 3\nmin_credit = 0.01\nmin_open_interest = 10\nmax_contracts = 1\n"
)


def _puts(engine: Engine) -> list[Any]:
    return [e for e in engine.ledger.executions(va_id="puts") if " P " in e.contract_key]


def test_an_early_assignment_at_the_open_after_a_skipped_night_is_booked(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = parse_config(_CONFIG, source="test.toml")
    tws, engine = _run(
        config,
        tmp_path,
        engine_servers,
        engines,
        start=TUESDAY_0931,
        speed=120.0,
        clock_sync_s=0.5,
    )
    (sale,) = wait_until(lambda: _puts(engine), timeout_s=20.0, what="a sold put")
    wait_until(
        lambda: broker_positions_by_key(tws).get(sale.contract_key) == -sale.quantity,
        what="the short put at IB",
    )
    # Due in the closed hours: fires when tws-sim reopens, at Wednesday's open.
    due = TUESDAY_0931.replace(hour=13)
    tws.schedule_faults([ScenarioFault(1, 1, "assign_early", due, ("AAPL",))])
    (fired,) = wait_until(tws.fired_faults, timeout_s=30.0, what="the assignment at the open")
    assert fired.outcome == str(sale.quantity), fired
    assert tws.now() - due > timedelta(hours=12)

    def assigned() -> list[Any]:
        return [o for o in engine.ledger.orders() if o.purpose == "assignment"]

    bookings = wait_until(
        lambda: len(assigned()) == 2 and assigned(), timeout_s=10.0, what="the assignment booked"
    )
    assert {o.contract_key for o in bookings} == {sale.contract_key, "AAPL"}
    # The race of the validation run: the VA bought the (gone) put back at the open, so IB
    # holds it long; the assignment is booked to that VA all the same.
    assert [e for e in _puts(engine) if e.side.value == "BUY" and "assigned" not in e.order_id]
    wait_until(
        lambda: ledger_positions(engine) == broker_positions_by_key(tws),
        timeout_s=10.0,
        what="the ledger and IB holding the delivered stock",
    )
    assert governor(engine).state.value == "ACTIVE"
