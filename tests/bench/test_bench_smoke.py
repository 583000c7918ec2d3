"""Every benchmark runs once at its tiny size, so none of them can rot (``make bench`` is not
part of the suite), and the generated table leaves hand-written text alone."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from bench.report import BEGIN, END, render, rewrite
from bench.runner import FIGURES
from bench.stats import Row

#: The unit-suffixed keys each figure must report, all > 0.
EXPECTED: dict[str, tuple[str, ...]] = {
    "signal_to_order": ("p50_ms", "p99_ms", "handoff_p50_us", "rules_plain_us", "limit_ms"),
    "signal_to_order_tui": ("p50_ms", "p99_ms", "quiet_p99_ms"),
    "signal_to_order_attached": ("p50_ms", "p99_ms", "loaded_p99_ms", "quiet_p99_ms"),
    "halt_gate": ("p50_ms", "p99_ms", "quiet_p99_ms", "call_p99_ms"),
    "halt_attached": ("p50_ms", "p99_ms", "max_ms", "quiet_p99_ms", "untimed_p99_ms"),
    "notify_impact": (
        "none_signal_to_order_p50_ms",
        "down_signal_to_order_p50_ms",
        "slow_10s_signal_to_order_p50_ms",
        "none_halt_gate_p50_ms",
        "down_halt_gate_p50_ms",
        "slow_10s_halt_gate_p50_ms",
    ),
    "halt_ack": ("p50_ms", "p99_ms", "vas10_load_p99_ms", "vas30_quiet_p99_ms"),
    "flatten_engine": ("p50_ms", "p99_ms"),
    "flatten_tws": ("wall_s",),
    "quotes_absorbed": ("per_s", "load_p99_ms", "quiet_p99_ms", "marks_per_s", "untimed_p99_ms"),
    "ledger_writes": ("per_s", "raw_same_transactions_per_s", "raw_one_transaction_per_s"),
    "session_wall": ("wall_s",),
    "options_12w_wall": ("wall_s",),
    "va_footprint": ("kb", "python_kb", "start_ms"),
    "tui_cpu": ("pct", "ui_thread_pct"),
    "log_cost": ("engine_p50_us", "engine_p99_us", "enqueued_p50_us", "direct_p50_us"),
    "soak_memory": ("ib_rss_mb", "sim_rss_mb", "sessions"),
}


def test_every_figure_of_the_runner_has_expectations_here() -> None:
    assert set(EXPECTED) == set(FIGURES)


#: Figures whose tiny size needs more than the suite's default time limit.
_SLOW = {"soak_memory": 300}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=[pytest.mark.timeout(_SLOW[n]), pytest.mark.slow])
        if n in _SLOW
        else n
        for n in FIGURES
    ],
)
def test_each_benchmark_runs_at_the_tiny_size_and_reports_positive_numbers_in_units(
    name: str,
) -> None:
    module = importlib.import_module(FIGURES[name])

    result: dict[str, Any] = module.run(size="tiny")

    if name == "flatten_tws" and "status" in result:
        assert result["status"].startswith("not measured")  # the IB adapter is not built yet
        return
    assert "status" not in result, result
    for key in EXPECTED[name]:
        assert isinstance(result[key], int | float), (key, result)
        assert result[key] > 0, (key, result)
    row = module.describe(result)
    assert isinstance(row, Row)
    assert row.result and row.target == module.TARGET


def test_the_table_is_rewritten_between_the_markers_and_nothing_else_changes(
    tmp_path: Path,
) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(f"# Benchmarks\n\nintro\n\n{BEGIN}\nold table\n{END}\n\n## TUI CPU\n\nnotes\n")
    modules = {name: importlib.import_module(path) for name, path in FIGURES.items()}
    results = {"ledger_writes": {"status": "not measured: test"}, "date": "today"}

    rewrite(doc, render(results, modules))

    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nintro\n\n" + BEGIN)
    assert text.endswith(END + "\n\n## TUI CPU\n\nnotes\n")
    assert "old table" not in text
    assert "| 8 Ledger" in text and "not measured: test" in text
    assert text.count("| ") > len(FIGURES)


def test_a_document_without_markers_gets_the_table_after_its_title(tmp_path: Path) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n## Options 12-week run\n\nkept\n")

    rewrite(doc, f"{BEGIN}\ntable\n{END}")

    assert (
        doc.read_text()
        == f"# Benchmarks\n\n{BEGIN}\ntable\n{END}\n\n## Options 12-week run\n\nkept\n"
    )
