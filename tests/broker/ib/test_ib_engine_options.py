"""The engine on ``--broker ib`` against the simulated TWS with a naked-put VA: it reads the put
chain through the API, sells a put through the real order path, and the ledger's positions
(options keyed by contract) equal the simulated TWS's.

Both clocks run at 10x, not the 60x of the stock session tests: a chain read sends about a
hundred requests, which the adapter's data budget (20 a second after a burst of 10) spreads over
several wall seconds; at 60x that is several simulated minutes, longer than an option entry's
re-pricing plan.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ib_engine_support import TUESDAY_10, ib_header, ledger_positions, make_engine
from ib_support import TZ, other_client, wait_until

from broker.ib.parsing.contracts import from_ib_contract
from broker.tws.runner import server_from_config
from broker.tws.server import TwsSimServer
from core.config import EngineConfig, parse_config
from core.ticks import NICKEL
from engine.engine import Engine

SPEED = 10.0

NAKED_PUT_TOML = (
    ib_header(33)
    + """

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
)


def _run(
    config: EngineConfig,
    tmp_path: Path,
    engine_servers: list[TwsSimServer],
    engines: list[Engine],
    *,
    start: datetime,
    speed: float,
    **ib_overrides: Any,
) -> tuple[TwsSimServer, Engine]:
    """A simulated TWS for ``config`` and a started engine on it, both at ``speed``."""
    tws = server_from_config(config, port=0, speed=speed, start=start)
    engine_servers.append(tws)
    tws.start()
    engine = make_engine(
        config, tws, f"sqlite:///{tmp_path / 'ib.db'}", speed=speed, **ib_overrides
    )
    engines.append(engine)
    engine.start()
    return tws, engine


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
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = parse_config(NAKED_PUT_TOML, source="test.toml")
    tws, engine = _run(config, tmp_path, engine_servers, engines, start=TUESDAY_10, speed=SPEED)

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
    # AAPL's options are a nickel class at tws-sim (not listed as penny): the rule the
    # adapter read from IB, and every limit the entry sent (first and re-prices) is on it.
    assert engine.broker.tick_rule(order.contract).rule_id == 110
    sent = [order.limit_price] + [
        Decimal(event.detail.rsplit(" to ", 1)[1])
        for event in engine.ledger.order_events(order.id)
        if " re-price " in event.detail
    ]
    assert all(p is not None and NICKEL.on_tick(p) for p in sent), sent
    assert not [o for o in engine.ledger.orders(va_id="puts") if o.status.value == "rejected"]
    expected = {sale.contract_key: -sale.quantity}
    wait_until(
        lambda: ledger_positions(engine) == expected == broker_positions_by_key(tws),
        timeout_s=10.0,
        what="ledger positions == the simulated TWS's",
    )


#: Two VAs on AAPL selling puts that expire the next day: one deep in the money (assigned at
#: the close unless AAPL rallies about two standard deviations overnight), one far out of it.
#: The session is half an hour long so a trading day passes in 15 wall seconds at 120x.
SETTLEMENT_TOML = (
    NAKED_PUT_TOML.replace(
        'timezone = "America/New_York"',
        'timezone = "America/New_York"\nsession_open = "09:30"\nsession_close = "10:00"',
    )
    .replace("stale_data_s = 120", "stale_data_s = 3600")
    .replace(
        "max_option_spread_pct = 50.0",
        "max_option_spread_pct = 200.0\n\n[orders]\nstale_entry_s = 900\n\n"
        # Held to expiry: no time exit, and profit and stop levels a day cannot reach.
        "[exits.options]\ntime_exit_dte = 0\nprofit_take_pct = 99.0\nstop_loss_multiple = 100.0",
    )
)
_PUTS_VA = SETTLEMENT_TOML[SETTLEMENT_TOML.index("[[accounts]]") :]
SETTLEMENT_TOML = SETTLEMENT_TOML[: SETTLEMENT_TOML.index("[[accounts]]")] + "".join(
    _PUTS_VA.replace('id = "puts"', f'id = "{va}"')
    .replace("target_delta = 0.3", f"target_delta = {delta}")
    .replace("target_dte = 7\nmax_dte = 30", "target_dte = 1\nmax_dte = 1")
    .replace("min_credit = 0.5", "min_credit = 0.01")
    .replace("max_contracts = 3", "max_contracts = 1")
    for va, delta in (("itm", 0.95), ("otm", 0.05))
)
#: A Thursday, a minute after the (half-hour) session opens; Friday's puts expire next day.
THURSDAY_0931 = datetime(2026, 1, 8, 9, 31, tzinfo=TZ)


@pytest.mark.slow
def test_puts_sold_on_ib_expire_or_are_assigned_at_the_close_and_the_vas_book_it(
    tmp_path: Path, engines: list[Engine], engine_servers: list[TwsSimServer]
) -> None:
    config = parse_config(SETTLEMENT_TOML, source="test.toml")
    tws, engine = _run(
        config,
        tmp_path,
        engine_servers,
        engines,
        start=THURSDAY_0931,
        speed=120.0,
        clock_sync_s=0.5,
    )

    def sold(va: str) -> list[Any]:
        return [e for e in engine.ledger.executions(va_id=va) if " P " in e.contract_key]

    wait_until(lambda: sold("itm") and sold("otm"), timeout_s=15.0, what="both VAs to sell")
    puts = {va: sold(va)[0] for va in ("itm", "otm")}
    assert all(p.contract_key.startswith("AAPL 20260109 P ") for p in puts.values())

    def settled() -> list[Any]:
        return [o for o in engine.ledger.orders() if o.purpose in ("expiry", "assignment")]

    wait_until(lambda: len({o.va_id for o in settled()}) == 2, timeout_s=30.0, what="the close")
    # Each VA's put left its book through an expiry or an assignment booking, never a fill.
    by_va = {o.va_id: o for o in settled() if o.contract_key.startswith("AAPL ")}
    for va, put in puts.items():
        booking = by_va[va]
        assert booking.contract_key == put.contract_key
        assert booking.reason in ("expired", "assigned")
        # An assignment delivered 100 shares a contract at the strike to the VA that held it.
        stock = [
            e
            for e in engine.ledger.executions(va_id=va)
            if e.order_id.startswith("ib-assigned-") and e.contract_key == "AAPL"
        ]
        if booking.reason == "assigned":
            (delivery,) = stock
            assert delivery.side.value == "BUY" and delivery.quantity == 100 * put.quantity
            assert f" P {delivery.price.normalize():f}" in put.contract_key
        else:
            assert stock == []
    # The settlement follows the strikes: the lower-strike put assigned means the higher too.
    if by_va["otm"].reason == "assigned":
        assert by_va["itm"].reason == "assigned"
    # The ledger's positions (options gone; the assigned stock, or what the VA did with it)
    # equal the simulated TWS's.
    wait_until(
        lambda: (
            not [k for k in ledger_positions(engine) if " P " in k]
            and ledger_positions(engine) == broker_positions_by_key(tws)
        ),
        timeout_s=10.0,
        what="ledger positions == the simulated TWS's after the close",
    )
