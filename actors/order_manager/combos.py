"""Combo (BAG) orders in the OrderManager: the checks a combo proposal passes, its stored
record, the contract each of its executions is booked in, and its net quote for re-pricing.

A combo is stored as one order under its BAG contract (``AAPL BAG``); its legs travel with the
``WorkingOrder`` in memory and go to the broker with it. Each execution names its leg's
contract and is booked there: positions, the ledger's executions and the reconciliation all see
legs, never the BAG. The legs are not stored in the ledger: after a restart a working combo is
still tracked, re-priced no further, and its fills are booked by their own contracts.

Every function runs on the OrderManager's actor thread.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from actors.messages.commands import OrderProposal
from actors.runtime.context import EngineContext
from core.domain import ComboLeg, Contract, OrderRequest
from core.events import ExecutionEvent
from core.rules import filters
from core.rules.combos import combo_problem, net_quote
from core.rules.decision import Decision, reject
from db.records import OrderRecord

__all__ = ["booked_contract", "combo_checks", "combo_net_quote", "combo_record"]

_CENT = Decimal("0.01")


def _request(proposal: OrderProposal) -> OrderRequest:
    return OrderRequest(
        client_order_id=proposal.proposal_id,
        contract=proposal.contract,
        side=proposal.side,
        order_type=proposal.order_type,
        quantity=proposal.quantity,
        limit_price=proposal.limit_price,
        reduce_only=proposal.reduce_only,
        legs=proposal.legs,
    )


def combo_checks(proposal: OrderProposal, now: datetime, ctx: EngineContext) -> Decision:
    """A combo proposal: well formed (``combo_problem``), its net limit in whole cents, and
    inside the trading window (the entries' margins)."""
    problem = combo_problem(_request(proposal))
    if problem is not None:
        return reject("combo", problem)
    limit = proposal.limit_price
    if limit is not None and limit != limit.quantize(_CENT):
        return reject("combo", f"net limit {limit} is not in whole cents")
    cfg = ctx.config.filters
    return filters.check_trading_window(
        now, ctx.calendar, cfg.open_margin_min, cfg.close_margin_min
    )


def combo_record(proposal: OrderProposal, now: datetime) -> OrderRecord:
    """The write-ahead record of a combo: one order under its BAG contract."""
    return OrderRecord.from_request(
        _request(proposal),
        va_id=proposal.va_id,
        purpose=proposal.purpose.value,
        created_at=now,
        reason=proposal.reason,
        signal_id=proposal.proposal_id,
        rolled_from=proposal.rolled_from or None,
    )


def booked_contract(record: OrderRecord, event: ExecutionEvent) -> Contract:
    """The contract an execution of ``record`` is booked in: its leg's for a combo, the
    order's own otherwise."""
    return event.contract if record.contract.is_combo else record.contract


def combo_net_quote(
    ctx: EngineContext, legs: tuple[ComboLeg, ...]
) -> tuple[Decimal, Decimal] | None:
    """The combo's net bid and ask now, from its legs' latest quotes (None: a leg unquoted)."""
    return net_quote(legs, lambda leg: ctx.quotes.latest(leg.contract.key))
