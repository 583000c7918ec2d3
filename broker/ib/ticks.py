"""``TickBook``: each contract's price increments as IB describes them, for ``round_to_tick``.

IB gives a contract's increments in two steps (interactivebrokers.github.io/tws-api/
minimum_increment.html): ``ContractDetails.minTick`` (the smallest increment on any exchange at
any price, so too fine for an option above $3) and ``ContractDetails.marketRuleIds``, one rule
id per entry of ``validExchanges``; ``reqMarketRule(id)`` answers the rule's price bands
(lowEdge, increment). The book keeps the rule of the SMART entry (the exchange our orders are
routed to) per contract key, and each rule once per id: rules are few and shared by thousands
of contracts, so one request per id per session is all it costs (concurrent qualifications
share one request; a rule IB did not answer is asked for again only after
``RETRY_FAILED_RULE_S``).

Threads: ``learn`` runs on the ib-loop thread (it awaits IB). ``rule`` is read from actor
threads: it only reads a dict the loop thread writes with single assignments (atomic in
CPython), and answers ``core.ticks.default_rule`` (nickel for an option: on tick in every
class) for a contract not learnt yet or whose rule IB did not send.
"""

from __future__ import annotations

import asyncio

from ib_async import ContractDetails
from loguru import logger

from broker.ib.context import IbContext
from core.domain import Contract
from core.ticks import TickRule, default_rule

__all__ = ["RETRY_FAILED_RULE_S", "TickBook", "smart_rule_id"]

#: A market rule IB did not answer (or answered malformed) is not asked for again for this long
#: (wall seconds); its contracts keep the default rule meanwhile.
RETRY_FAILED_RULE_S = 600.0


def smart_rule_id(details: ContractDetails) -> int | None:
    """The market rule id of the SMART entry of ``validExchanges`` (the first id when SMART is
    not listed); None when IB sent no usable id.

    ``marketRuleIds`` and ``validExchanges`` are parallel comma-separated lists.
    """
    ids = [part.strip() for part in (details.marketRuleIds or "").split(",")]
    exchanges = [part.strip() for part in (details.validExchanges or "").split(",")]
    index = exchanges.index("SMART") if "SMART" in exchanges else 0
    for candidate in (ids[index] if index < len(ids) else "", *ids):
        if candidate.isdigit():
            return int(candidate)
    return None


class TickBook:
    """Rules by contract key and by IB rule id (see the module docstring)."""

    def __init__(self, ctx: IbContext) -> None:
        self.ctx = ctx
        self._by_key: dict[str, TickRule] = {}
        self._by_id: dict[int, TickRule] = {}
        self._fetching: dict[int, asyncio.Future[TickRule | None]] = {}
        self._failed: dict[int, float] = {}  # rule id -> when IB last failed to answer (mono)

    def rule(self, contract: Contract) -> TickRule:
        """``contract``'s rule, or ``default_rule`` while it is not known (any thread)."""
        return self._by_key.get(contract.key) or default_rule(contract)

    async def learn(self, contract: Contract, details: ContractDetails) -> None:
        """Keep ``contract``'s rule from its contract details, asking IB for the rule once
        per id (ib-loop thread). A rule IB does not send, or sends malformed, is logged and
        the contract keeps the default rule."""
        rule_id = smart_rule_id(details)
        if rule_id is None:
            logger.warning(
                "ib: {} has no market rule id (minTick {}): using the {} rule",
                contract.key,
                details.minTick,
                default_rule(contract).name,
            )
            return
        rule = await self._rule_by_id(rule_id)
        if rule is not None:
            self._by_key[contract.key] = rule

    async def _rule_by_id(self, rule_id: int) -> TickRule | None:
        known = self._by_id.get(rule_id)
        if known is not None:
            return known
        failed_at = self._failed.get(rule_id)
        if failed_at is not None and self.ctx.mono() - failed_at < RETRY_FAILED_RULE_S:
            return None  # not asked again for a while: each try costs ib_async's 1 s wait
        pending = self._fetching.get(rule_id)
        if pending is not None:  # another qualification is asking already
            return await asyncio.shield(pending)
        future: asyncio.Future[TickRule | None] = asyncio.get_running_loop().create_future()
        self._fetching[rule_id] = future
        rule: TickRule | None = None
        try:
            rule = await self._fetch(rule_id)
        finally:
            del self._fetching[rule_id]
            future.set_result(rule)
        return rule

    async def _fetch(self, rule_id: int) -> TickRule | None:
        await self.ctx.paced()
        # ib_async waits 1 s for the answer and returns None without one.
        increments = await self.ctx.ib.reqMarketRuleAsync(rule_id)
        if not increments:
            logger.warning("ib: market rule {} not answered: default tick rules apply", rule_id)
            self._failed[rule_id] = self.ctx.mono()
            return None
        try:
            rule = TickRule.from_increments(
                ((i.lowEdge, i.increment) for i in increments), rule_id=rule_id
            )
        except ValueError as exc:
            logger.warning("ib: {}: default tick rules apply", exc)
            self._failed[rule_id] = self.ctx.mono()
            return None
        self._failed.pop(rule_id, None)
        self._by_id[rule_id] = rule
        return rule
