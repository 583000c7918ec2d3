"""``make bench-check`` (``python -m bench.check``): the quick figures at their tiny size, each
compared with its committed value, failing when one got worse by more than ``TOLERANCE``.

Noise: these machines are shared, so a raw time says as much about the neighbours as about the
code. Each figure is therefore divided by a calibration measured in the same process just
before and just after it (``calibrate``: fixed pure-Python work, the kind of work the engine
does) and the check compares that ratio, the median of ``ROUNDS`` rounds, with the one
committed in ``bench/check_baseline.json``. A slower machine slows both alike; a change that
doubles the engine's work doubles the ratio.

``python -m bench.check --update`` measures and writes the baseline (commit it with the change
that moved a figure on purpose, and say why in the commit).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BASELINE",
    "CHECKS",
    "TOLERANCE",
    "Check",
    "Verdict",
    "calibrate",
    "judge",
    "main",
    "measure",
    "one_round",
]

BASELINE = Path(__file__).with_name("check_baseline.json")
#: A figure fails when its ratio to the calibration is more than this times the committed one.
TOLERANCE = 2.0
ROUNDS = 3
_CHILD_TIMEOUT_S = 120.0
_ROUND_TRIPS = 100


@dataclass(frozen=True, slots=True)
class Check:
    """One figure: ``measure`` returns seconds (lower is better) at the tiny size."""

    name: str
    what: str
    measure: Callable[[], float]


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    ratio: float  # the figure over the calibration, now
    committed: float | None  # the same, committed
    worse_by: float | None  # ratio / committed
    failed: bool


def _signal_to_order() -> float:
    """CPU seconds of the whole process per signal round trip (the entry to the broker, then
    the position closed again), 1 VA. CPU, not latency: a latency on a shared machine is
    mostly how long woken threads wait for a core, which no calibration corrects."""
    from bench.harness import BenchEngine, bench_config

    config = bench_config(vas=1, symbols=4, universe=1)
    with BenchEngine(config) as be:
        va_id = be.va_ids[0]
        symbol = config.account(va_id).universe[0]
        for _ in range(5):  # warm-up: first connections, first inserts
            be.round_trip(va_id, symbol)
        started = time.process_time()
        for _ in range(_ROUND_TRIPS):
            be.round_trip(va_id, symbol)
        return (time.process_time() - started) / _ROUND_TRIPS


def _ledger_write() -> float:
    from bench import ledger_writes

    return 1.0 / float(ledger_writes.run(size="tiny")["per_s"])


def _log_line() -> float:
    from bench import log_cost

    return float(log_cost.run(size="tiny")["engine_p50_us"]) / 1e6


def _session() -> float:
    from bench import session_wall

    return float(session_wall.run(size="tiny")["wall_s"])


def _quotes() -> float:
    from bench import quotes_absorbed

    return 1.0 / float(quotes_absorbed.run(size="tiny")["per_s"])


CHECKS: tuple[Check, ...] = (
    Check("signal_to_order", "CPU per signal round trip, 1 VA (figure 1's path)", _signal_to_order),
    Check("ledger_write", "one entry + stop + execution stored (figure 8)", _ledger_write),
    Check("log_line", "one log line on the caller (figure 13)", _log_line),
    Check("session", "09:30-09:45 simulated, main.py run --speed max (figure 9)", _session),
    Check("quotes", "one quote absorbed, 10 VAs (figure 7)", _quotes),
)


def calibrate() -> float:
    """Seconds for a fixed piece of pure-Python work (dicts, sorting, string formatting) of
    about a millisecond: the fastest of 40 tries. The minimum, not a mean: a short piece is
    rarely cut by the scheduler, like the short operations the checks time, so a machine shared
    with other jobs slows neither much; a long one would be time-sliced and read slow."""
    rng = random.Random(7)
    values = [rng.random() for _ in range(2_000)]

    def work() -> float:
        started = time.perf_counter()
        table = {f"k{i}": v for i, v in enumerate(values)}
        ordered = sorted(table.items(), key=lambda kv: kv[1])
        total = sum(v for _, v in ordered[::3])
        assert total > 0
        return time.perf_counter() - started

    return min(work() for _ in range(40))


def one_round(check: Check) -> float:
    """The figure over the calibration measured just before and just after it."""
    before = calibrate()
    seconds = check.measure()
    after = calibrate()
    return seconds / ((before + after) / 2)


def measure(check: Check, rounds: int = ROUNDS) -> float:
    """Median of ``rounds`` rounds, each in a fresh process (``--child``: no thread, logger or
    database of one figure left over into the next)."""
    ratios = []
    for _ in range(rounds):
        child = subprocess.run(
            [sys.executable, "-m", "bench.check", "--child", check.name],
            capture_output=True,
            text=True,
            timeout=_CHILD_TIMEOUT_S,
            check=False,
        )
        if child.returncode != 0:
            tail = (child.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
            raise RuntimeError(
                f"bench-check: {check.name} failed (exit {child.returncode}): {tail}"
            )
        ratios.append(float(child.stdout.strip().splitlines()[-1]))
    return statistics.median(ratios)


def judge(
    ratios: dict[str, float], committed: dict[str, float], tolerance: float = TOLERANCE
) -> list[Verdict]:
    """Each figure against its committed ratio (pure). A figure with no committed value fails:
    a new check must come with its baseline."""
    verdicts = []
    for name, ratio in ratios.items():
        base = committed.get(name)
        worse = None if not base else ratio / base
        verdicts.append(Verdict(name, ratio, base, worse, worse is None or worse > tolerance))
    return verdicts


def _line(verdict: Verdict, what: str) -> str:
    if verdict.committed is None:
        return f"FAIL {verdict.name}: no committed value (run python -m bench.check --update)"
    status = "FAIL" if verdict.failed else "ok  "
    return (
        f"{status} {verdict.name}: {verdict.worse_by:.2f}x the committed value "
        f"(ratio {verdict.ratio:.3g} vs {verdict.committed:.3g}; limit {TOLERANCE:g}x) - {what}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.check", description=__doc__)
    parser.add_argument("--update", action="store_true", help="write the committed baseline")
    parser.add_argument("--child", choices=[c.name for c in CHECKS], help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(c.name for c in CHECKS))
    args = parser.parse_args(argv)
    if args.child:
        print(one_round(next(c for c in CHECKS if c.name == args.child)))
        return 0
    chosen = [c for c in CHECKS if not args.names or c.name in args.names]
    if unknown := set(args.names) - {c.name for c in CHECKS}:
        parser.error(f"unknown check(s) {', '.join(sorted(unknown))}")
    started = time.monotonic()
    ratios = {}
    for check in chosen:
        print(f"bench-check: {check.name} ...", file=sys.stderr, flush=True)
        ratios[check.name] = measure(check)
    if args.update:
        committed = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
        committed.update({name: float(f"{ratio:.4g}") for name, ratio in ratios.items()})
        BASELINE.write_text(json.dumps(committed, indent=2, sort_keys=True) + "\n")
        print(f"bench-check: wrote {BASELINE.name} ({len(ratios)} figure(s))")
        return 0
    committed = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    verdicts = judge(ratios, committed)
    whats = {c.name: c.what for c in CHECKS}
    for verdict in verdicts:
        print(_line(verdict, whats[verdict.name]))
    failed = [v.name for v in verdicts if v.failed]
    took = time.monotonic() - started
    kept = len(verdicts) - len(failed)
    print(f"bench-check: {kept}/{len(verdicts)} within {TOLERANCE:g}x in {took:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
