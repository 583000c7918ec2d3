"""Benchmarks against the physical limits (issue 8), with their own runner.

    python -m bench [NAME ...]      # every figure, or the named ones; `make bench`

Each figure is a module with ``run(*, size="tiny"|"full") -> dict`` that drives the real engine
(actors, rules, ledger, simulator) and returns its numbers under unit-suffixed keys (``p50_ms``,
``p99_ms``, ``per_s``, ``wall_s``, ``kb``, ``pct``), and ``describe(result) -> Row`` for the
table. ``bench.runner`` runs them, writes ``bench/results.json`` and rewrites the generated
part of ``docs/BENCHMARKS.md``. Not part of the test suite: ``tests/bench`` only runs each
figure once at the tiny size so they cannot rot.
"""

from __future__ import annotations

__all__: list[str] = []
