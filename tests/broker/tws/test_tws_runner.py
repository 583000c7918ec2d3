"""``run_tws_sim`` (``main.py tws-sim`` / ``python -m broker.tws``): built from the engine
config's ``[sim]``, serving until stopped, refusing bad input; and the loopback-only rule."""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
from ib_async import IB, Stock
from tws_support import SYMBOLS, TZ, bounded, wait_for_condition

from broker.tws.runner import add_tws_sim_arguments, run_tws_sim, server_from_config
from broker.tws.server import TwsSimServer
from core.config import parse_config

CONFIG = """
[sim]
seed = 3
tick_interval_s = 1.0
starting_cash = 250000

[sim.symbols.AAPL]
price = 190.0
volatility = 0.25
spread_bps = 1.0
sector = "Technology"

[sim.symbols.XOM]
price = 110.0
volatility = 0.30
spread_bps = 2.0
sector = "Energy"

[[accounts]]
id = "va-1"
capital = 100000
universe = ["AAPL"]

[accounts.strategy]
kind = "external"
"""


def arguments(*argv: str) -> argparse.Namespace:
    return add_tws_sim_arguments(argparse.ArgumentParser()).parse_args(list(argv))


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


async def test_run_tws_sim_serves_the_config_until_stopped(config_path: Path) -> None:
    args = arguments(
        "--config", str(config_path), "--port", "0", "--speed", "10",
        "--start", "2024-03-13T11:00:00",
    )  # fmt: skip
    stop = threading.Event()
    started: list[TwsSimServer] = []
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(run_tws_sim(args, stop=stop, on_started=started.append)),
        name="tws-sim-runner",
    )
    runner.start()
    ib = IB()
    try:
        await wait_for_condition(lambda: bool(started), what="the server to listen")
        server = started[0]
        await bounded(ib.connectAsync("127.0.0.1", server.port, clientId=1, timeout=4))
        (xom,) = await bounded(ib.qualifyContractsAsync(Stock("XOM", "SMART", "USD")))
        assert xom is not None and xom.conId == server.con_id("XOM")
        assert xom.primaryExchange == "NYSE"  # its real listing (broker.sim.listings)
        now = await bounded(ib.reqCurrentTimeAsync())
        assert abs((now - datetime(2024, 3, 13, 11, 0, tzinfo=TZ)).total_seconds()) < 30
        cash = [v.value for v in ib.accountValues() if v.tag == "TotalCashValue"]
        assert cash == ["250000.00"]
    finally:
        ib.disconnect()
        stop.set()
        runner.join(10)
    assert result == [0]
    assert not runner.is_alive()


def test_a_symbols_primary_exchange_in_the_config_overrides_its_listing() -> None:
    text = CONFIG.replace(
        'sector = "Technology"\n', 'sector = "Technology"\nprimary_exchange = "BATS"\n'
    )
    server = server_from_config(parse_config(text), port=0)
    listed = {i.symbol: i.primary_exchange for i in server._settings.registry}
    assert listed == {"AAPL": "BATS", "XOM": "NYSE"}


def test_a_missing_config_exits_with_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_tws_sim(arguments("--config", str(tmp_path / "nope.toml"))) == 2
    assert "file not found" in capsys.readouterr().err


def test_a_non_loopback_host_is_refused_unless_allowed(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_tws_sim(arguments("--config", str(config_path), "--host", "0.0.0.0")) == 2
    assert "loopback" in capsys.readouterr().err
    start = datetime(2024, 3, 13, 10, 0, tzinfo=TZ)
    with pytest.raises(ValueError, match="allow_remote"):
        TwsSimServer("192.0.2.1", 0, symbols=SYMBOLS, seed=1, start=start)
    allowed = TwsSimServer("192.0.2.1", 0, symbols=SYMBOLS, seed=1, start=start, allow_remote=True)
    assert allowed.host == "192.0.2.1" and not allowed.running
    assert TwsSimServer("localhost", 0, symbols=SYMBOLS, seed=1, start=start).host == "localhost"


def test_unknown_server_options_are_refused() -> None:
    start = datetime(2024, 3, 13, 10, 0, tzinfo=TZ)
    with pytest.raises(TypeError, match="bogus"):
        TwsSimServer("127.0.0.1", 0, symbols=SYMBOLS, seed=1, start=start, bogus=1)
    with pytest.raises(ValueError, match="speed"):
        TwsSimServer("127.0.0.1", 0, symbols=SYMBOLS, seed=1, start=start, speed=0)


def test_the_package_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "broker.tws", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0
    assert "--port" in done.stdout and "--allow-remote" in done.stdout


def serve(args: argparse.Namespace) -> tuple[threading.Thread, threading.Event, list[TwsSimServer]]:
    """``run_tws_sim(args)`` on a thread; (the thread, its stop event, the started server)."""
    stop = threading.Event()
    started: list[TwsSimServer] = []
    runner = threading.Thread(
        target=lambda: run_tws_sim(args, stop=stop, on_started=started.append),
        name="tws-sim-runner",
    )
    runner.start()
    return runner, stop, started


async def test_the_command_keeps_its_account_in_a_state_file_next_to_the_config(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = arguments(
        "--config", str(config_path), "--port", "0", "--speed", "10",
        "--start", "2024-03-13T11:00:00",
    )  # fmt: skip
    for run in (1, 2):
        runner, stop, started = serve(args)
        ib = IB()
        try:
            await wait_for_condition(lambda s=started: bool(s), what="the server to listen")
            server = started[0]
            await bounded(ib.connectAsync("127.0.0.1", server.port, clientId=1, timeout=4))
            if run == 1:
                (xom,) = await bounded(ib.qualifyContractsAsync(Stock("XOM", "SMART", "USD")))
                from ib_async import MarketOrder

                trade = ib.placeOrder(xom, MarketOrder("BUY", 7))
                await wait_for_condition(trade.isDone, what="the fill")
                first_stop = server.now()
            else:
                await wait_for_condition(lambda i=ib: bool(i.positions()), what="positions")
                assert [(p.contract.symbol, p.position) for p in ib.positions()] == [("XOM", 7.0)]
                assert server.now() >= first_stop
        finally:
            ib.disconnect()
            stop.set()
            runner.join(10)
    assert (config_path.parent / "tws-sim-state.json").exists()
    err = capsys.readouterr().err
    assert "(new)" in err and "resumed at 2024-03-13" in err and "1 position(s)" in err


def test_a_bad_scenario_or_state_file_exits_2_with_one_line(
    config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "drill.toml"
    bad.write_text('[[fault]]\nafter = "5m"\nkind = "outage"\n', encoding="utf-8")
    common = ("--config", str(config_path), "--port", "0", "--start", "2024-03-13T11:00:00")
    assert run_tws_sim(arguments(*common, "--no-state", "--scenario", str(bad))) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"tws-sim: {bad}:1: fault 1 (outage): duration_s: missing")
    state = tmp_path / "broken.json"
    state.write_text("{", encoding="utf-8")
    assert run_tws_sim(arguments(*common, "--state", str(state))) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"tws-sim: {state}: corrupt tws-sim state")


async def test_no_state_leaves_no_state_file(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = arguments(
        "--config", str(config_path), "--port", "0", "--no-state",
        "--start", "2024-03-13T11:00:00",
    )  # fmt: skip
    runner, stop, started = serve(args)
    try:
        await wait_for_condition(lambda: bool(started), what="the server to listen")
        assert started[0].restored is None
    finally:
        stop.set()
        runner.join(10)
    assert not (config_path.parent / "tws-sim-state.json").exists()
    assert "no state file" in capsys.readouterr().err
