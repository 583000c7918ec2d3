"""The report of several instances in one database (``main.py report --all``): each instance's
``build_report`` and the totals over them. Pure: no I/O.

``consolidate`` returns ``{"instances": {name: report}, "totals": {...}}``; ``totals`` (per
instance too, under ``"per_instance"``) holds ``trades``, ``wins``, ``losses``,
``realized_pnl`` (net of commissions, as the accounts' ``realized_pnl``), ``open_positions``
and ``orders``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from db.report import format_text_report

__all__ = ["consolidate", "format_consolidated_text", "totals_of"]

_MONEY = Decimal("0.01")
_KEYS = ("trades", "wins", "losses", "realized_pnl", "open_positions", "orders")


def totals_of(report: dict[str, Any]) -> dict[str, Any]:
    """One instance's totals, from its ``build_report`` result."""
    trades = report["trades"]
    realized = sum((Decimal(str(a["realized_pnl"])) for a in report["accounts"]), Decimal(0))
    return {
        "trades": len(trades),
        "wins": sum(1 for t in trades if t["pnl"] > 0),
        "losses": sum(1 for t in trades if t["pnl"] < 0),
        "realized_pnl": float(realized.quantize(_MONEY, rounding=ROUND_HALF_EVEN)),
        "open_positions": len(report["positions"]),
        "orders": len(report["orders"]),
    }


def consolidate(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every instance's report (by name) and the totals over all of them."""
    per_instance = {name: totals_of(report) for name, report in sorted(reports.items())}
    totals: dict[str, Any] = dict.fromkeys(_KEYS, 0)
    realized = Decimal(0)
    for figures in per_instance.values():
        for key in _KEYS:
            if key != "realized_pnl":
                totals[key] += figures[key]
        realized += Decimal(str(figures["realized_pnl"]))
    totals["realized_pnl"] = float(realized.quantize(_MONEY, rounding=ROUND_HALF_EVEN))
    totals["instances"] = len(per_instance)
    return {
        "instances": dict(sorted(reports.items())),
        "totals": totals,
        "per_instance": per_instance,
    }


def format_consolidated_text(data: dict[str, Any]) -> str:
    """A section per instance (its text report), then a line per instance and the totals."""
    parts = []
    for name, report in data["instances"].items():
        parts.append(f"=== Instance {name} ===\n{format_text_report(report)}")
    lines = [f"=== All instances ({data['totals']['instances']}) ==="]
    rows = [*data["per_instance"].items(), ("TOTAL", data["totals"])]
    for name, f in rows:
        lines.append(
            f"  {name:<16} trades {f['trades']:>4}  wins {f['wins']:>4}  losses {f['losses']:>4}"
            f"  realized {f['realized_pnl']:>+12,.2f}  open positions {f['open_positions']:>3}"
            f"  orders {f['orders']:>5}"
        )
    parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
