"""The report's roll chains: every position chain that was rolled, from the entry that opened
it through each roll (a combo order whose ``rolled_from`` names the order before it), with the
credit of each link and the chain's sum.

A link's ``credit`` is what its executions took in, before commissions: for the entry the
premium sold (price x qty x multiplier), for a roll the new option sold less the old one bought
back. Only rolls that traded are links (a roll cancelled unfilled closed nothing).

Pure over ledger records; runs on the calling thread (``build_report``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from core.domain import Side
from core.rules.rolls import roll_chain
from db.records import ExecutionRecord, OrderRecord

__all__ = ["format_roll_chains", "roll_chains"]

_MONEY = Decimal("0.01")


def roll_chains(
    orders: Mapping[str, OrderRecord], executions: Iterable[ExecutionRecord], *, tz: tzinfo
) -> list[dict[str, Any]]:
    """``{va, rolls, credit, links: [{order_id, time, contract, credit}]}`` per rolled chain,
    by the time of its last roll; ``contract`` is the option the link sold."""
    by_order: dict[str, list[ExecutionRecord]] = defaultdict(list)
    for execution in executions:
        by_order[execution.order_id].append(execution)
    rolls = [o for o in orders.values() if o.rolled_from and by_order.get(o.id)]
    links = {o.id: o.rolled_from for o in rolls}
    rolled = {o.rolled_from for o in rolls}
    chains = []
    for last in sorted((o for o in rolls if o.id not in rolled), key=lambda o: o.created_at):
        ids = [i for i in roll_chain(last.id, links) if i in orders]
        chain_links = [_link(orders[i], by_order.get(i, []), tz) for i in ids]
        total = sum((Decimal(str(link["credit"])) for link in chain_links), Decimal(0))
        chains.append(
            {
                "va": last.va_id,
                "rolls": sum(1 for i in ids if links.get(i)),
                "credit": _money(total),
                "links": chain_links,
            }
        )
    return chains


def _link(order: OrderRecord, fills: list[ExecutionRecord], tz: tzinfo) -> dict[str, Any]:
    credit = sum(
        ((1 if e.side is Side.SELL else -1) * e.price * e.quantity * e.multiplier for e in fills),
        Decimal(0),
    )
    sold = [e.contract_key for e in fills if e.side is Side.SELL]
    return {
        "order_id": order.id,
        "time": _time(min((e.time for e in fills), default=order.created_at), tz),
        "contract": sold[-1] if sold else order.contract_key,
        "credit": _money(credit),
    }


def format_roll_chains(chains: list[dict[str, Any]]) -> list[str]:
    """The text report's ``Rolls`` section."""
    lines = ["Rolls"]
    for chain in chains:
        path = " -> ".join(
            f"{link['contract']} ({link['credit']:+,.2f})" for link in chain["links"]
        )
        lines.append(
            f"  {chain['va']:<16} {chain['rolls']} roll(s)  credit {chain['credit']:+,.2f}: {path}"
        )
    if not chains:
        lines.append("  none")
    return lines


def _time(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).isoformat()


def _money(value: Decimal) -> float:
    return float(value.quantize(_MONEY, rounding=ROUND_HALF_EVEN))
