"""Notifications never in the way (#20): signal-to-order (figure 1's path) and halt-to-gate-closed
(figure 3's measure, quiet) with no notifier, with a notifier whose service is down (a loopback
port nobody listens on) and with one whose service answers only after 10 s (a loopback HTTP
server that holds every request). The notifier sends every fill and state change at once
(``min_interval_s = 0``), so its worker is busy with the dead or slow service throughout.

``python -m bench.notify_impact [--samples N]``: one line per setup, milliseconds.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from bench.halt_gate import measure as measure_halt
from bench.harness import BenchEngine, bench_config
from bench.stats import summary_ms
from bench.webhook import webhook_receiver
from core.config import EngineConfig

__all__ = ["main", "measure_setup"]

ENV = "BENCH_NOTIFY_URLS"


def _with_notify(config: EngineConfig) -> EngineConfig:
    notify = config.notify.model_copy(
        update={
            "enabled": True,
            "urls_env": ENV,
            "min_interval_s": 0.0,
            "events": ("fill", "trading_state"),
            "send_timeout_s": 30.0,
        }
    )
    return config.model_copy(update={"notify": notify})


def _dead_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _env(url: str | None) -> Iterator[None]:
    old = os.environ.pop(ENV, None)
    if url is not None:
        os.environ[ENV] = url
    try:
        yield
    finally:
        os.environ.pop(ENV, None)
        if old is not None:
            os.environ[ENV] = old


def measure_setup(setup: str, samples: int) -> dict[str, Any]:
    """``setup``: ``none`` | ``down`` | ``slow_10s``."""
    config = bench_config(vas=1, symbols=4, universe=1)
    receiver = webhook_receiver(delay_s=10.0) if setup == "slow_10s" else nullcontext(None)
    with receiver as slow:
        if setup == "none":
            url = None
        elif slow is not None:
            url = f"json://127.0.0.1:{slow.port}/hook/benchTOKEN"
        else:
            url = f"json://127.0.0.1:{_dead_port()}/hook/benchTOKEN"
        with _env(url), BenchEngine(_with_notify(config) if url else config) as be:
            va_id = be.va_ids[0]
            symbol = config.account(va_id).universe[0]
            for _ in range(5):
                be.round_trip(va_id, symbol)
            orders = [be.round_trip(va_id, symbol) for _ in range(samples)]
            halts, _, calls = measure_halt(be, samples)
            stats = be.engine.notifications.stats()
    order, halt, call = summary_ms(orders), summary_ms(halts), summary_ms(calls)
    return {
        "setup": setup,
        "signal_to_order_p50_ms": order["p50_ms"],
        "signal_to_order_p99_ms": order["p99_ms"],
        "halt_gate_p50_ms": halt["p50_ms"],
        "halt_gate_p99_ms": halt["p99_ms"],
        "halt_call_p99_ms": call["p99_ms"],
        "n": order["n"],
        "notify": None if stats is None else f"sent {stats.sent}, failed {stats.failed}",
    }


_FIGURES = (
    "signal_to_order_p50_ms",
    "signal_to_order_p99_ms",
    "halt_gate_p50_ms",
    "halt_gate_p99_ms",
    "halt_call_p99_ms",
)


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['setup']:<9} signal->order p50 {r['signal_to_order_p50_ms']:.3f} ms "
        f"p99 {r['signal_to_order_p99_ms']:.3f} ms | halt->gate p50 "
        f"{r['halt_gate_p50_ms']:.3f} ms p99 {r['halt_gate_p99_ms']:.3f} ms "
        f"(call p99 {r['halt_call_p99_ms']:.3f} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    """Rounds of the three setups, interleaved (a shared machine's load then hits each
    alike); each round's lines, then the median over the rounds per setup."""
    parser = argparse.ArgumentParser(prog="python -m bench.notify_impact")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    setups = ("none", "down", "slow_10s")
    results: dict[str, list[dict[str, Any]]] = {setup: [] for setup in setups}
    for round_no in range(1, args.rounds + 1):
        for setup in setups:
            r = measure_setup(setup, args.samples)
            results[setup].append(r)
            print(f"round {round_no} {_line(r)} n={r['n']} notifier: {r['notify']}", flush=True)
    for setup in setups:
        middle = {k: statistics.median(r[k] for r in results[setup]) for k in _FIGURES}
        print(f"median   {_line({'setup': setup, **middle})}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
