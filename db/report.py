"""The session report: trades, orders, accounts, risk events, decisions and open positions.

``build_report`` returns plain JSON-ready data whose key names are a stable public contract
(``main.py report`` prints it, tools read it):

* ``trades``: ``{va, contract, side ("LONG"|"SHORT"), qty, entry_time, exit_time,
  entry_price, exit_price, pnl, exit_reason, dte_at_entry, delta_at_entry, credit}``, by exit
  time; the last three are for option trades (null for stocks): calendar days to expiry and
  delta when the entry was decided, and ``credit``, the premium received for a short option
  (entry price x qty x multiplier, before commissions; null for a long one);
* ``orders``: ``{id, va, contract, action ("BUY"|"SELL"), type, qty, limit_price,
  stop_price, status, parent_id, created_at, reason, purpose}``, by creation time;
  ``purpose`` is entry, stop, exit, or assignment / expiry for the orders that book an
  option's exercise, assignment or expiry;
* ``rolls``: ``{va, rolls, credit, links: [{order_id, time, contract, credit}]}``, one per
  rolled position chain: its entry, then each roll that traded, the option each sold and
  the credit each took in (before commissions), ``credit`` their sum (``db/report_rolls.py``);
* ``accounts``: ``{id, capital, balance, realized_pnl}``; ``realized_pnl`` is net of every
  commission paid (open trades' too) and ``balance = capital + realized_pnl``;
* ``risk_events``: ``{time, kind, reason}``, by time; a ``reconciled`` event also has
  ``differences``, every difference its pass found (one line per contract or order);
* ``decisions``: ``{time, va, signal, accepted, rule, detail}``, by time; ``signal`` reads
  ``"SELL 2 SPY (naked_put)"`` (side, quantity if the signal gave one, contract, source);
* ``positions``: ``{va, contract, qty, avg_price}`` for open positions.

Times are ISO-8601 strings in the exchange time zone ``tz``; prices are numbers rounded to
4 decimal places, money (pnl, capital, balance) to 2; absent values are ``null``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from core.rules.reconcile_text import differences_of
from core.rules.trades import Trade, derive_positions_and_trades
from db.ledger import Ledger
from db.records import OrderRecord, RiskEventRecord, SignalRecord
from db.report_rolls import format_roll_chains, roll_chains

__all__ = ["build_report", "format_text_report"]

_PRICE = Decimal("0.0001")
_MONEY = Decimal("0.01")
_LAST_RISK_EVENTS = 5


def build_report(ledger: Ledger, *, tz: tzinfo, with_decisions: bool = True) -> dict[str, Any]:
    """The report of everything in ``ledger``, times rendered in ``tz`` (a ``ZoneInfo``);
    without ``with_decisions`` its ``decisions`` are left empty (unread: a run's summary counts
    them in the database instead).

    Reads on the calling thread. ``json.dumps`` accepts the result as is.
    """
    orders = ledger.orders()
    orders_by_id = {order.id: order for order in orders}
    executions = ledger.executions()
    positions, trades = derive_positions_and_trades(executions, orders_by_id)

    realized_by_va: dict[str, Decimal] = defaultdict(Decimal)
    for state in positions.values():
        realized_by_va[state.va_id] += state.realized_pnl

    return {
        "trades": [
            {
                "va": t.va_id,
                "contract": t.contract_key,
                "side": t.side,
                "qty": t.quantity,
                "entry_time": _time(t.entry_time, tz),
                "exit_time": _time(t.exit_time, tz),
                "entry_price": _price(t.entry_price),
                "exit_price": _price(t.exit_price),
                "pnl": _money(t.pnl),
                "exit_reason": t.exit_reason,
                **_option_entry(t, orders_by_id.get(t.entry_order_id)),
            }
            for t in trades
        ],
        "orders": [
            {
                "id": o.id,
                "va": o.va_id,
                "contract": o.contract_key,
                "action": str(o.side),
                "type": str(o.order_type),
                "qty": o.quantity,
                "limit_price": _price(o.limit_price),
                "stop_price": _price(o.stop_price),
                "status": str(o.status),
                "parent_id": o.parent_id,
                "created_at": _time(o.created_at, tz),
                "reason": o.reason,
                "purpose": o.purpose,
                "dry_run": o.dry_run,
            }
            for o in orders
        ],
        "accounts": [
            {
                "id": a.id,
                "capital": _money(a.capital),
                "balance": _money(a.capital + realized_by_va[a.id]),
                "realized_pnl": _money(realized_by_va[a.id]),
            }
            for a in ledger.accounts()
        ],
        "risk_events": [_risk_event(e, tz) for e in ledger.risk_events()],
        "decisions": [
            {
                "time": _time(s.time, tz),
                "va": s.va_id,
                "signal": _describe(s),
                "accepted": s.accepted,
                "rule": s.rule,
                "detail": s.detail,
            }
            for s in (ledger.signals() if with_decisions else [])
        ],
        "positions": [
            {
                "va": p.va_id,
                "contract": p.contract_key,
                "qty": p.quantity,
                "avg_price": _price(p.avg_price),
            }
            for _, p in sorted(positions.items(), key=lambda item: item[0])
            if p.quantity != 0
        ],
        "rolls": roll_chains(orders_by_id, executions, tz=tz),
    }


def format_text_report(report: dict[str, Any]) -> str:
    """A human summary of a ``build_report`` result: per-VA results and totals, open positions,
    orders by status, rejections by rule and the last risk events."""
    trades_by_va: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trade in report["trades"]:
        trades_by_va[trade["va"]].append(trade)
    realized = {a["id"]: a for a in report["accounts"]}
    va_ids = sorted(set(realized) | set(trades_by_va))

    lines = ["Virtual accounts"]
    total_trades = total_wins = total_losses = 0
    total_pnl = Decimal(0)
    for va in va_ids:
        trades = trades_by_va.get(va, [])
        wins = sum(1 for t in trades if t["pnl"] > 0)
        losses = sum(1 for t in trades if t["pnl"] < 0)
        account = realized.get(va)
        if account is not None:
            pnl = Decimal(str(account["realized_pnl"]))
            balance = f"  balance {account['balance']:,.2f}"
        else:
            pnl = sum((Decimal(str(t["pnl"])) for t in trades), Decimal(0))
            balance = ""
        lines.append(
            f"  {va:<16} trades {len(trades):>4}  wins {wins:>4}  losses {losses:>4}"
            f"  realized {pnl:>+12,.2f}{balance}"
        )
        total_trades += len(trades)
        total_wins += wins
        total_losses += losses
        total_pnl += pnl
    lines.append(
        f"  {'TOTAL':<16} trades {total_trades:>4}  wins {total_wins:>4}"
        f"  losses {total_losses:>4}  realized {total_pnl:>+12,.2f}"
    )

    reasons = Counter(trade["exit_reason"] or "-" for trade in report["trades"])
    lines.append("Exit reasons")
    lines.extend(f"  {reason:<24} {count:>6}" for reason, count in reasons.most_common())
    if not reasons:
        lines.append("  none")

    lines.append("Open positions")
    lines.extend(
        f"  {p['va']:<16} {p['contract']:<28} {p['qty']:>+8} @ {p['avg_price']}"
        for p in report["positions"]
    )
    if not report["positions"]:
        lines.append("  none")

    lines.extend(format_roll_chains(report.get("rolls", [])))

    lines.append("Orders by status")
    statuses = Counter(order["status"] for order in report["orders"])
    lines.extend(f"  {status:<18} {count:>6}" for status, count in sorted(statuses.items()))
    if not statuses:
        lines.append("  none")
    dry = sum(1 for order in report["orders"] if order.get("dry_run"))
    if dry:
        lines.append(f"  ({dry} of them dry-run: recorded, never sent to the broker)")

    lines.append("Rejections by rule")
    rules = Counter(d["rule"] for d in report["decisions"] if not d["accepted"])
    lines.extend(f"  {rule:<24} {count:>6}" for rule, count in rules.most_common())
    if not rules:
        lines.append("  none")

    lines.append("Last risk events")
    events = report["risk_events"][-_LAST_RISK_EVENTS:]
    lines.extend(f"  {e['time']}  {e['kind']:<16} {e['reason']}" for e in events)
    if not events:
        lines.append("  none")
    passes = [e for e in report["risk_events"] if e["kind"] == "reconciled"]
    if passes:
        last = passes[-1]
        found = last.get("differences", [])
        lines.append(f"Last reconciliation ({last['time']}): {len(found)} difference(s)")
        lines.extend(f"  {line}" for line in found)
    return "\n".join(lines) + "\n"


def _risk_event(event: RiskEventRecord, tz: tzinfo) -> dict[str, Any]:
    """One ``risk_events`` row (a ``reconciled`` event with its differences)."""
    row: dict[str, Any] = {"time": _time(event.time, tz), "kind": event.kind}
    row["reason"] = event.reason
    if event.kind == "reconciled":
        row["differences"] = list(differences_of(event.detail))
    return row


def _option_entry(trade: Trade, entry: OrderRecord | None) -> dict[str, Any]:
    """``dte_at_entry``, ``delta_at_entry`` and ``credit`` of an option trade (nulls for a
    stock trade or a trade whose entry order is unknown)."""
    if entry is None or entry.sec_type != "OPT":
        return {"dte_at_entry": None, "delta_at_entry": None, "credit": None}
    credit = None
    if trade.side == "SHORT":
        credit = _money(trade.entry_price * trade.quantity * trade.multiplier)
    delta = entry.delta_at_entry
    return {
        "dte_at_entry": entry.dte_at_entry,
        "delta_at_entry": round(delta, 4) if delta is not None else None,
        "credit": credit,
    }


def _describe(signal: SignalRecord) -> str:
    quantity = f" {signal.quantity}" if signal.quantity is not None else ""
    side = signal.side if signal.side is not None else "?"
    return f"{side}{quantity} {signal.contract_key or '?'} ({signal.source})"


def _time(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).isoformat()


def _price(value: Decimal | None) -> float | None:
    if value is None:
        return None
    return float(value.quantize(_PRICE, rounding=ROUND_HALF_EVEN))


def _money(value: Decimal) -> float:
    return float(value.quantize(_MONEY, rounding=ROUND_HALF_EVEN))
