"""``python -m bench [NAME ...] [--size tiny|full]``: run the benchmarks, write
``bench/results.json`` and rewrite the generated part of ``docs/BENCHMARKS.md``.

Each figure runs in its own child process (a clean interpreter: no threads, engines or GC
garbage left by the previous figure) with a time limit. Figures not run this time keep their
last result (each result carries its own ``date``); ``options_12w_wall`` (minutes on its own)
runs only when named.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.report import render, rewrite, row_for
from bench.stats import machine

__all__ = ["FIGURES", "RESULTS", "load_figures", "main", "run_child"]

#: Short name -> module, in table order.
FIGURES: dict[str, str] = {
    "signal_to_order": "bench.signal_to_order",
    "signal_to_order_tui": "bench.signal_to_order_tui",
    "signal_to_order_attached": "bench.signal_to_order_attached",
    "halt_gate": "bench.halt_gate",
    "halt_attached": "bench.halt_attached",
    "notify_impact": "bench.notify_impact",
    "halt_ack": "bench.halt_ack",
    "flatten_engine": "bench.flatten_engine",
    "flatten_tws": "bench.flatten_tws",
    "quotes_absorbed": "bench.quotes_absorbed",
    "ledger_writes": "bench.ledger_writes",
    "session_wall": "bench.session_wall",
    "options_12w_wall": "bench.options_12w_wall",
    "va_footprint": "bench.va_footprint",
    "tui_cpu": "bench.tui_cpu_figure",
    "log_cost": "bench.log_cost",
    "soak_memory": "bench.soak_memory",
}
ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results.json")
DOC = ROOT / "docs" / "BENCHMARKS.md"
_TIMEOUT_S = {"options_12w_wall": 1500.0, "soak_memory": 1200.0}
_DEFAULT_TIMEOUT_S = 420.0


def load_figures() -> dict[str, ModuleType]:
    return {name: importlib.import_module(path) for name, path in FIGURES.items()}


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def run_child(name: str, size: str, out: Path) -> int:
    """In the child: run one figure and write its result as JSON to ``out``."""
    module = importlib.import_module(FIGURES[name])
    result = module.run(size=size)
    out.write_text(json.dumps(result), encoding="utf-8")
    return 0


def _run_one(name: str, size: str) -> dict[str, Any]:
    timeout = _TIMEOUT_S.get(name, _DEFAULT_TIMEOUT_S)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "bench", "--child", name, "--size", size]
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [*command, "--out", str(out)], cwd=ROOT, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return {"status": f"failed: no result within {timeout:.0f} s"}
        took = time.perf_counter() - started
        if done.returncode != 0 or not out.exists():
            return {"status": f"failed: exit {done.returncode} (see the output above)"}
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["took_s"] = round(took, 1)
    return result


def _load_results() -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(FIGURES))
    parser.add_argument(
        "--size",
        choices=["tiny", "full"],
        default="full",
        help="tiny: a quick check that prints the rows and writes nothing",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: rewrite docs/BENCHMARKS.md from bench/results.json",
    )
    parser.add_argument("--child", choices=list(FIGURES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.size, args.out)

    unknown = [n for n in args.names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    modules = load_figures()
    if args.report_only:
        rewrite(DOC, render(_load_results(), modules))
        return 0
    names = args.names or [n for n, m in modules.items() if not getattr(m, "OPT_IN", False)]
    results = {k: v for k, v in _load_results().items() if k in FIGURES}
    started = time.perf_counter()
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        result = _run_one(name, args.size)
        result["date"] = _now()
        row = row_for(modules[name], result)
        print(f"bench: {name}: {row.result} [target {row.target}]", file=sys.stderr, flush=True)
        if args.size == "full":
            results[name] = result
            _save(results)
    print(
        f"bench: {len(names)} figure(s) in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    if args.size == "full":
        _save(results)
        rewrite(DOC, render(results, modules))
    return 0


def _save(results: dict[str, Any]) -> None:
    ordered = {name: results[name] for name in FIGURES if name in results}
    ordered.update(machine=machine(), date=_now())
    results.clear()
    results.update(ordered)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
