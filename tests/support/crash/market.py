"""The market the engine trades in: a ``TwsSimServer`` in the harness's process on a free
port, from a copy of the config pointed at it (and at the work dir). Built and read on the
harness's thread; the server runs on its own threads."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tests.support.crash.options import FAST_BARS, MA_CROSS, HarnessError, HarnessOptions


class Market:
    """The simulated TWS and the config copy the engine runs with."""

    def __init__(self, options: HarnessOptions, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.config_path = workdir / "config.toml"
        self.overrides: dict[str, Any] = {}
        self.server: Any = None
        self.config: Any = None
        self.trading_day: Callable[[datetime], date] = lambda when: when.date()
        self.max_trades = 0

    def _write_config(self, port: int) -> None:
        options = self.options
        text = options.config.read_text()
        text, found = re.subn(
            r"(?ms)^(\[broker\.ib\].*?^port = )\d+$", rf"\g<1>{port}", text, count=1
        )
        if not found:
            raise HarnessError("config.toml: no [broker.ib] port to point at the simulator")
        log_dir = (self.workdir / "logs").as_posix()
        inbox = (self.workdir / "inbox" / "signals.jsonl").as_posix()
        text = re.sub(r'(?m)^log_dir = ".*"$', f'log_dir = "{log_dir}"', text, count=1)
        text = re.sub(r'(?m)^path = "inbox/.*"$', f'path = "{inbox}"', text, count=1)
        self.overrides = {"broker.ib.port": port, "engine.log_dir": log_dir, "inbox.path": inbox}
        if options.fast_bars:
            bars = "\n".join(f"{k} = {v}" for k, v in FAST_BARS.items())
            text, count = MA_CROSS.subn(f'kind = "ma_cross"\n{bars}', text)
            if count:
                self.overrides["ma_cross VAs"] = f"{count} on {', '.join(bars.splitlines())}"
        if options.max_trades_per_day is not None:
            value = options.max_trades_per_day
            text, found = re.subn(
                r"(?m)^max_trades_per_day = \d+$", f"max_trades_per_day = {value}", text, count=1
            )
            if found:
                self.overrides["risk.max_trades_per_day"] = value
        if options.on_mismatch is not None:
            text, found = re.subn(
                r'(?m)^on_mismatch = "\w+"$', f'on_mismatch = "{options.on_mismatch}"', text
            )
            if found:
                self.overrides["engine.on_mismatch"] = options.on_mismatch
        self.config_path.write_text(text)
        self.config_path.chmod(0o600)

    def start(self) -> int:
        """Start the simulated TWS at ``options.start``; its port."""
        from broker.tws.runner import server_from_config
        from core.config import load_config

        self._write_config(7497)  # the simulator reads [sim] and [engine] only
        config = load_config(self.config_path)
        server = server_from_config(
            config, port=0, speed=self.options.speed, start=self.start_time(config.tz)
        )
        server.start()
        self.server = server
        self._write_config(server.port)
        self.config = load_config(self.config_path)
        self.trading_day = server.calendar.trading_day
        self.max_trades = self.config.risk.max_trades_per_day
        port: int = server.port
        return port

    def start_time(self, tz: Any) -> datetime:
        """``options.start`` in exchange time (``tz`` when it names none)."""
        start = datetime.fromisoformat(self.options.start)
        return start.replace(tzinfo=tz) if start.tzinfo is None else start

    def now(self) -> datetime:
        """The simulated time."""
        now: datetime = self.server.now()
        return now

    def sim_now(self) -> str:
        return self.server.now().isoformat(timespec="seconds") if self.server else ""

    def tws_view(self) -> dict[str, bool] | None:
        """Every orderRef the simulated TWS was sent, and whether it went on to the market
        (False: held there with ``transmit=False``, or refused): read from the in-process
        server's order desk on its own loop. None if the server's internals are not there."""
        hub, call = getattr(self.server, "_hub", None), getattr(self.server, "_call", None)
        desk = getattr(hub, "desk", None)
        if desk is None or call is None:
            return None

        def read() -> dict[str, bool]:
            return {o.spec.order_ref: bool(o.transmitted) for o in desk._orders.values()}

        try:
            view: dict[str, bool] = call(read)
        except Exception:  # diagnostics only: the server's internals may change
            return None
        return view

    def freeze(self) -> None:
        """No more quotes and no more matching (``TwsSimServer.freeze_market``, which raises
        when it cannot): the simulator keeps its orders and account, so reads and cancels still
        work."""
        self.server.freeze_market()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
