"""Notifications never in the way (#20): signal-to-order (figure 1's path) and halt-to-gate-closed
(figure 3's measure, quiet) with no notifier, with a notifier whose service is down (a loopback
port nobody listens on) and with one whose service answers only after 10 s (a loopback HTTP
server that holds every request). The notifier sends every fill and state change at once
(``min_interval_s = 0``), so its worker is busy with the dead or slow service throughout.

Figure 3c of ``make bench`` (``python -m bench notify_impact``, ``run``/``describe``): rounds of
the three setups, interleaved (a shared machine's load then hits each alike), medians over the
rounds; the target is that the notifier changes neither p50 beyond the machine's noise (1.5x of
no notifier). ``python -m bench.notify_impact [--samples N] [--rounds N]``: one line per setup
and round, milliseconds.
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
from bench.stats import Row, summary_ms
from bench.webhook import webhook_receiver
from core.config import EngineConfig

__all__ = ["FIGURE", "TARGET", "describe", "main", "measure_setup", "run"]

ENV = "BENCH_NOTIFY_URLS"
FIGURE = (
    "3c Notifications never in the way: signal to order and halt with a notifier whose service "
    "is down or answers after 10 s"
)
#: The most a setup's p50 may be of no notifier's and still count as unchanged (noise).
WITHIN = 1.5
TARGET = (
    f"unchanged within noise: signal-to-order p50 and halt-to-gate p50 within {WITHIN:g}x of "
    "no notifier"
)
SETUPS = ("none", "down", "slow_10s")
_SIZES = {"tiny": (1, 5), "full": (3, 50)}  # rounds, samples per setup and round
_P50S = ("signal_to_order_p50_ms", "halt_gate_p50_ms")


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


def measure_rounds(rounds: int, samples: int, *, show: bool = False) -> dict[str, Any]:
    """``rounds`` rounds of the three setups, interleaved; per setup the median over the rounds
    of each figure (keys ``<setup>_<figure>``), the samples per setup (``n``) and what its
    notifier did (``<setup>_notify``). ``show``: print each round's lines and the medians."""
    results: dict[str, list[dict[str, Any]]] = {setup: [] for setup in SETUPS}
    for round_no in range(1, rounds + 1):
        for setup in SETUPS:
            r = measure_setup(setup, samples)
            results[setup].append(r)
            if show:
                line = f"round {round_no} {_line(r)} n={r['n']} notifier: {r['notify']}"
                print(line, flush=True)
    out: dict[str, Any] = {"rounds": rounds, "n": rounds * samples}
    for setup in SETUPS:
        middle = {k: statistics.median(r[k] for r in results[setup]) for k in _FIGURES}
        if show:
            print(f"median   {_line({'setup': setup, **middle})}", flush=True)
        out.update({f"{setup}_{k}": round(v, 4) for k, v in middle.items()})
        out[f"{setup}_notify"] = results[setup][-1]["notify"]
    return out


def run(*, size: str = "full") -> dict[str, Any]:
    """The figure for ``make bench`` (``bench.runner``)."""
    rounds, samples = _SIZES[size]
    return measure_rounds(rounds, samples)


def worst_ratio(result: dict[str, Any]) -> float:
    """The largest of the down and slow setups' p50s over no notifier's (both figures)."""
    return max(
        result[f"{setup}_{key}"] / result[f"none_{key}"]
        for setup in SETUPS[1:]
        for key in _P50S
        if result[f"none_{key}"] > 0
    )


def describe(result: dict[str, Any]) -> Row:
    def p50s(key: str) -> str:
        return " / ".join(f"{result[f'{setup}_{key}']:.3f}" for setup in SETUPS)

    worst = worst_ratio(result)
    return Row(
        figure=FIGURE,
        result=(
            f"p50 none / down / slow: signal to order {p50s('signal_to_order_p50_ms')} ms, "
            f"halt to gate {p50s('halt_gate_p50_ms')} ms (n={result['n']} per setup over "
            f"{result['rounds']} interleaved rounds; down: {result['down_notify']}; slow: "
            f"{result['slow_10s_notify']})"
        ),
        target=TARGET,
        limit=(
            f"no notifier: signal to order p50 {result['none_signal_to_order_p50_ms']:.3f} ms, "
            f"halt to gate p50 {result['none_halt_gate_p50_ms']:.3f} ms"
        ),
        ratio=f"{worst:.2f}x (worst p50 with a notifier / without)",
        met=worst <= WITHIN,
    )


def main(argv: list[str] | None = None) -> int:
    """Rounds of the three setups, interleaved (a shared machine's load then hits each
    alike); each round's lines, then the median over the rounds per setup."""
    parser = argparse.ArgumentParser(prog="python -m bench.notify_impact")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    measure_rounds(args.rounds, args.samples, show=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
