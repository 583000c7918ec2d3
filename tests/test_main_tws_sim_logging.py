"""``main.py tws-sim`` as a real process: its log (DEBUG lines for every API request) goes to
``<engine.log_dir>/tws-sim/`` and not to the terminal (issue 17: 651 DEBUG lines in three
minutes); ``--log-terminal`` puts it on the terminal too."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

from ib_async import IB

from tests.support.headless import CONFIG, MAIN


def _config(tmp_path: Path) -> Path:
    """The shipped config with its logs under ``tmp_path``."""
    text = CONFIG.read_text(encoding="utf-8")
    text, count = re.subn(r'(?m)^log_dir = "logs"$', f'log_dir = "{tmp_path / "logs"}"', text)
    assert count == 1
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _run_with_one_client(tmp_path: Path, *extra: str) -> str:
    """Start tws-sim, connect an API client (its requests are logged at DEBUG), stop it with
    SIGINT; what it wrote to the terminal (stderr)."""
    err_path = tmp_path / "stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(MAIN), "tws-sim", "--port", "0", "--no-state", "--speed", "10",
             "--config", str(_config(tmp_path)), *extra],
            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, cwd=tmp_path,
        )  # fmt: skip
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"tws-sim: listening on 127\.0\.0\.1:(\d+),", err_path.read_text())
            port = int(found.group(1)) if found else None
            if port is None:
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.1)  # bounded: wakes early if tws-sim exits
        assert port is not None, err_path.read_text()
        ib = IB()
        await ib.connectAsync("127.0.0.1", port, clientId=5, timeout=20)
        ib.disconnect()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return err_path.read_text()


async def test_tws_sim_logs_to_a_file_and_keeps_debug_lines_off_the_terminal(
    tmp_path: Path,
) -> None:
    terminal = await _run_with_one_client(tmp_path)
    log = (tmp_path / "logs" / "tws-sim" / "engine.log").read_text()
    assert "| DEBUG   |" in log and "tws-sim: client 5 request" in log
    assert "DEBUG" not in terminal and "INFO" not in terminal
    assert f"tws-sim: log in {tmp_path / 'logs' / 'tws-sim' / 'engine.log'}" in terminal
    assert "tws-sim: listening on 127.0.0.1:" in terminal  # what it says is still said


async def test_log_terminal_puts_the_whole_log_on_the_terminal(tmp_path: Path) -> None:
    terminal = await _run_with_one_client(tmp_path, "--log-terminal")
    assert re.search(r"(?m)^\d\d:\d\d:\d\d DEBUG tws-sim: client 5 request", terminal)
