"""The command line with ``--broker ib``: the live-trading refusal (config and command line),
options that make no sense against a broker, ``tws-sim`` and ``run --broker ib`` in two
processes, dry-run, and the default config's 30 simulated minutes at 60x."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ib_support import make_server, other_client

import main
from broker.tws.runner import server_from_config
from broker.tws.server import TwsSimServer
from core.config import load_config

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config.toml"
FAST_BARS = {  # the shipped MA-cross VAs on 10-15 s bars: trades within minutes
    "fast_bars = 5\nslow_bars = 20\nbar_seconds = 60": "fast_bars = 2\nslow_bars = 4\nbar_seconds = 10",  # noqa: E501
    "fast_bars = 8\nslow_bars = 30\nbar_seconds = 60": "fast_bars = 2\nslow_bars = 5\nbar_seconds = 10",  # noqa: E501
    "fast_bars = 3\nslow_bars = 12\nbar_seconds = 60": "fast_bars = 2\nslow_bars = 4\nbar_seconds = 15",  # noqa: E501
}


def config_file(tmp_path: Path, *, port: int, fast: bool = False, **ib: str) -> Path:
    """The shipped config with the broker on ``port``; its ledger, logs and inbox under
    ``tmp_path`` (never the checkout's ``data/``: an engine there would hold the lease another
    test, or a developer's own engine, needs)."""
    text = CONFIG.read_text()
    ledger = 'database_url = "sqlite:///data/engine.db"'
    assert ledger in text, "the shipped config changed: update config_file"
    text = text.replace(ledger, f'database_url = "sqlite:///{(tmp_path / "engine.db").as_posix()}"')
    text = re.sub(r"(?m)^port = \d+$", f"port = {port}", text, count=1)
    text = text.replace('log_dir = "logs"', f'log_dir = "{(tmp_path / "logs").as_posix()}"')
    text = text.replace('path = "inbox/signals.jsonl"', f'path = "{tmp_path.as_posix()}/in.jsonl"')
    for key, value in ib.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
    if fast:
        for old, new in FAST_BARS.items():
            assert old in text, "the shipped config changed: update FAST_BARS"
            text = text.replace(old, new)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_test_config_keeps_the_ledger_and_logs_out_of_the_checkout(tmp_path: Path) -> None:
    """An engine these tests start without ``--db`` (cwd: the checkout) must not take the
    lease on the checkout's ``data/engine.db``: a test beside it, or the developer's own engine,
    would find the ledger held."""
    config = load_config(config_file(tmp_path, port=7497))
    assert config.engine.database_url == f"sqlite:///{(tmp_path / 'engine.db').as_posix()}"
    assert Path(config.engine.log_dir) == tmp_path / "logs"


def run_cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        cwd=ROOT,
    )


# -- refusals ----------------------------------------------------------------------------------
def test_a_live_port_without_allow_live_is_refused_by_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, port=7496)
    with pytest.raises(SystemExit) as exited:
        main.main(["run", "--broker", "ib", "--headless", "--config", str(path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"{path}: broker.ib.port: 7496 is a live trading port; set broker.ib.allow_live = true "
        "to use it"
    )


def test_a_live_port_with_allow_live_still_needs_live_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, port=4001, allow_live="true")
    assert main.main(["run", "--broker", "ib", "--headless", "--config", str(path)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "4001 is a live-trading port and --live was not given: refused" in line


def test_live_on_the_command_line_without_allow_live_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, port=7497)
    assert main.main(["run", "--broker", "ib", "--live", "--config", str(path)]) == 2
    assert "--live: set broker.ib.allow_live = true" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "2026-01-06T09:30"], "--start: not with --broker ib"),
        (["--speed", "max"], "--speed max: not with --broker ib"),
        (["--seed", "3"], "--seed: not with --broker ib"),
    ],
)
def test_simulator_options_are_refused_with_broker_ib(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    path = config_file(tmp_path, port=7497)
    assert main.main(["run", "--broker", "ib", "--config", str(path), *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def tws_server() -> Iterator[list[TwsSimServer]]:
    made: list[TwsSimServer] = []
    yield made
    for server in made:
        server.stop()


def test_a_non_paper_account_is_refused_after_connecting(
    tmp_path: Path, tws_server: list[TwsSimServer]
) -> None:
    server = make_server(account="U7654321")  # started
    tws_server.append(server)
    path = config_file(tmp_path, port=server.port)
    result = run_cli("run", "--broker", "ib", "--headless", "--config", str(path))
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "main.py run: IB account U7654321 is not a paper account (paper accounts start with D): "
        "refused (set broker.ib.allow_live = true in the config and pass --live to trade real "
        "money)"
    )


def test_an_unreachable_tws_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = config_file(tmp_path, port=1, connect_timeout_s="1.0")
    result = run_cli("run", "--broker", "ib", "--headless", "--config", str(path))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("main.py run: cannot connect to TWS / IB Gateway at 127.0.0.1:1")
    assert "Traceback" not in result.stderr


# -- two processes -----------------------------------------------------------------------------
class TwsSimProcess:
    """``main.py tws-sim`` in a subprocess on a free port (stopped with SIGTERM)."""

    def __init__(self, config: Path, *extra: str) -> None:
        command = [sys.executable, str(ROOT / "main.py"), "tws-sim", "--port", "0"]
        self.process = subprocess.Popen(
            [*command, "--config", str(config), *extra],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        self.lines: list[str] = []
        self._port: queue.Queue[int] = queue.Queue()
        # Read stderr to its end on a thread: a full pipe would block tws-sim's logging.
        self._reader = threading.Thread(target=self._read, name="tws-sim-stderr", daemon=True)
        self._reader.start()
        try:
            self.port = self._port.get(timeout=20)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"tws-sim did not start: {''.join(self.lines)[-2000:]}") from None

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            found = re.search(r"tws-sim: listening on [\d.]+:(\d+)", line)
            if found:
                self._port.put(int(found.group(1)))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(10)
        finally:
            self._reader.join(5)
            if self.process.stderr is not None:
                self.process.stderr.close()


@pytest.fixture
def tws_process() -> Iterator[list[TwsSimProcess]]:
    made: list[TwsSimProcess] = []
    yield made
    for proc in made:
        proc.stop()  # idempotent; closes the pipe


def report(path: Path, db: str) -> dict[str, Any]:
    result = run_cli("report", "--json", "--config", str(path), "--db", db)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.slow
def test_run_broker_ib_against_tws_sim_in_two_processes_trades_and_reports(
    tmp_path: Path, tws_process: list[TwsSimProcess]
) -> None:
    sim_config = config_file(tmp_path, port=7497, fast=True)  # tws-sim reads only [sim]
    sim = TwsSimProcess(sim_config, "--start", "2026-01-06T09:40", "--speed", "60")
    tws_process.append(sim)
    path = config_file(tmp_path, port=sim.port, fast=True)
    db = f"sqlite:///{tmp_path / 'ib.db'}"
    run = run_cli(
        "run", "--broker", "ib", "--headless", "--config", str(path), "--speed", "60",
        "--until", "09:52", "--db", db,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert " fill " in run.stderr
    assert sim.stop() == 0
    data = report(path, db)
    assert {"trades", "orders", "accounts", "risk_events", "decisions", "positions"} <= data.keys()
    times = [o["created_at"] for o in data["orders"]]
    assert times and all(t.startswith("2026-01-06T09:") for t in times)  # the simulator's day
    entries = [o for o in data["orders"] if o["purpose"] == "entry" and " " not in o["contract"]]
    stops = {o["parent_id"]: o for o in data["orders"] if o["type"] == "STP"}
    assert entries
    for entry in entries:
        assert entry["id"] in stops and stops[entry["id"]]["action"] != entry["action"]
    assert not any(o["dry_run"] for o in data["orders"])


def test_dry_run_stores_orders_marked_dry_run_and_none_reaches_tws(
    tmp_path: Path, tws_server: list[TwsSimServer]
) -> None:
    path = config_file(tmp_path, port=7497, fast=True)
    config = load_config(path)
    from datetime import datetime

    start = datetime(2026, 1, 6, 9, 40, tzinfo=config.tz)
    server = server_from_config(config, port=0, speed=60.0, start=start)
    server.start()
    tws_server.append(server)
    path = config_file(tmp_path, port=server.port, fast=True)
    db = f"sqlite:///{tmp_path / 'dry.db'}"
    run = run_cli(
        "run", "--broker", "ib", "--dry-run", "--headless", "--config", str(path),
        "--speed", "60", "--until", "09:50", "--db", db,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    data = report(path, db)
    assert data["orders"], "the engine would have traded"
    assert all(o["dry_run"] for o in data["orders"])
    assert not any(o["status"] == "filled" for o in data["orders"])

    async def everything(ib: Any) -> list[Any]:
        return [*await ib.reqAllOpenOrdersAsync(), *await ib.reqCompletedOrdersAsync(False)]

    assert other_client(server, everything) == []  # not one order reached the broker
    assert "dry-run" in run_cli("report", "--config", str(path), "--db", db).stdout


@pytest.mark.slow
def test_thirty_simulated_minutes_on_the_default_config_produce_trades(
    tmp_path: Path, tws_process: list[TwsSimProcess]
) -> None:
    """The issue's acceptance: ``tws-sim --start 2026-01-06T09:30 --speed 60`` and
    ``run --broker ib --speed 60`` on the shipped config trade within 30 simulated minutes
    (the fastest MA-cross VA, energy-fast, needs 12 one-minute bars)."""
    sim_config = config_file(tmp_path, port=7497)
    sim = TwsSimProcess(sim_config, "--start", "2026-01-06T09:30", "--speed", "60")
    tws_process.append(sim)
    path = config_file(tmp_path, port=sim.port)
    db = f"sqlite:///{tmp_path / 'ib.db'}"
    run = run_cli(
        "run", "--broker", "ib", "--headless", "--config", str(path), "--speed", "60",
        "--until", "10:00", "--db", db, timeout_s=90,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert " fill " in run.stderr
    assert report(path, db)["orders"]


def test_the_tui_header_says_dry_run_when_no_order_is_sent(tmp_path: Path) -> None:
    from tui.controls import TradingMode, trading_mode

    config = load_config(config_file(tmp_path, port=7497, dry_run="true", kind='"ib"'))
    assert trading_mode(config) is TradingMode.DRY_RUN
    live = load_config(config_file(tmp_path, port=7496, allow_live="true", kind='"ib"'))
    assert trading_mode(live) is TradingMode.LIVE
