"""Tick sizes through the IB adapter: it reads each contract's ``minTick``/``marketRuleIds``
from IB's contract details when it qualifies the contract, asks ``reqMarketRule`` once per rule
id, and answers ``tick_rule`` from that (the default rule before it knows)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import cast

from ib_async import ContractDetails, PriceIncrement
from ib_support import SYMBOLS, Harness, limit, wait_until

from broker.ib.context import IbContext
from broker.ib.ticks import RETRY_FAILED_RULE_S, TickBook, smart_rule_id
from broker.sim import SimSymbol
from broker.tws.server import TwsSimServer
from core.domain import Contract, OrderStatus, Side
from core.ticks import NICKEL, STOCK, TickRule

D = Decimal


def _bands(rule: TickRule) -> list[tuple[Decimal, Decimal]]:
    return [(band.low_edge, band.increment) for band in rule.bands]


def _near_put(h: Harness, symbol: str) -> Contract:
    quotes = h.broker.option_chain(symbol, right="P")
    assert quotes, f"no listed puts of {symbol}"
    spot = h.quote(symbol).mid
    return min((q.contract for q in quotes), key=lambda c: abs(float(c.strike or 0) - spot))


def test_the_adapter_learns_each_contracts_market_rule_from_ib(
    servers: Callable[..., TwsSimServer], harness: Callable[..., Harness]
) -> None:
    penny_msft = SimSymbol("MSFT", 400.0, 0.2, 2.0, 300, option_ticks="penny")
    server = servers(symbols={**SYMBOLS, "MSFT": penny_msft})
    h = harness(server)
    aapl_put = Contract.option("AAPL", date(2024, 3, 29), D("190"), "P")
    assert h.broker.tick_rule(aapl_put) is NICKEL  # nothing learnt yet: the safe default
    h.start("AAPL", "MSFT")
    wait_until(
        lambda: h.broker.tick_rule(Contract.stock("AAPL")).rule_id == 26,
        what="AAPL's market rule",
    )
    assert _bands(h.broker.tick_rule(Contract.stock("AAPL"))) == _bands(STOCK)
    nickel_put = _near_put(h, "AAPL")  # AAPL is not listed as penny here: a nickel class
    nickel = h.broker.tick_rule(nickel_put)
    assert nickel.rule_id == 110 and nickel.name == "ib-110"
    assert _bands(nickel) == [(D("0.0"), D("0.05")), (D("3.0"), D("0.1"))]
    penny = h.broker.tick_rule(_near_put(h, "MSFT"))
    assert penny.rule_id == 32
    assert _bands(penny) == [(D("0.0"), D("0.01")), (D("3.0"), D("0.05"))]
    # Every AAPL put shares rule 110: one rule object, asked for once.
    others = [q.contract for q in h.broker.option_chain("AAPL", right="P")]
    assert {h.broker.tick_rule(c).rule_id for c in others} == {110}
    assert len({id(h.broker.tick_rule(c)) for c in others}) == 1


def _details(rule_ids: str, exchanges: str) -> ContractDetails:
    return ContractDetails(marketRuleIds=rule_ids, validExchanges=exchanges)


def test_the_rule_of_the_smart_entry_is_the_one_kept() -> None:
    assert smart_rule_id(_details("110,32,110", "CBOE,SMART,AMEX")) == 32
    assert smart_rule_id(_details("110,32", "CBOE,AMEX")) == 110  # no SMART: the first
    assert smart_rule_id(_details(",32", "SMART,CBOE")) == 32  # SMART's id empty: any id
    assert smart_rule_id(_details("", "SMART")) is None


class _FakeIb:
    """``reqMarketRuleAsync`` answering from a table (None: no answer), counting requests."""

    def __init__(self, answers: dict[int, list[PriceIncrement] | None]) -> None:
        self.answers = answers
        self.asked: list[int] = []

    async def reqMarketRuleAsync(self, rule_id: int) -> list[PriceIncrement] | None:
        self.asked.append(rule_id)
        await asyncio.sleep(0)
        return self.answers.get(rule_id)


class _FakeCtx:
    def __init__(self, ib: _FakeIb) -> None:
        self.ib = ib
        self.now = 0.0

    async def paced(self) -> None:
        return None

    def mono(self) -> float:
        return self.now


def _put_details(rule_ids: str) -> ContractDetails:
    return ContractDetails(marketRuleIds=rule_ids, validExchanges="SMART,CBOE", minTick=0.05)


async def test_a_rule_is_asked_for_once_even_by_qualifications_at_the_same_time() -> None:
    ib = _FakeIb({110: [PriceIncrement(0.0, 0.05), PriceIncrement(3.0, 0.1)]})
    book = TickBook(cast(IbContext, _FakeCtx(ib)))
    puts = [Contract.option("AAPL", date(2024, 3, 29), D(k), "P") for k in (180, 185, 190)]
    await asyncio.gather(*(book.learn(p, _put_details("110,110")) for p in puts))
    assert ib.asked == [110]
    assert {book.rule(p).name for p in puts} == {"ib-110"}


async def test_a_rule_ib_does_not_answer_keeps_the_default_and_is_retried_only_later() -> None:
    ib = _FakeIb({})
    ctx = _FakeCtx(ib)
    book = TickBook(cast(IbContext, ctx))
    put = Contract.option("AAPL", date(2024, 3, 29), D(190), "P")
    await book.learn(put, _put_details("110,110"))
    await book.learn(put, _put_details("110,110"))
    assert ib.asked == [110] and book.rule(put) is NICKEL
    ib.answers[110] = [PriceIncrement(0.0, 0.05), PriceIncrement(3.0, 0.1)]
    ctx.now += RETRY_FAILED_RULE_S
    await book.learn(put, _put_details("110,110"))
    assert ib.asked == [110, 110] and book.rule(put).rule_id == 110


async def test_a_malformed_rule_or_no_rule_id_keeps_the_default() -> None:
    ib = _FakeIb({7: [PriceIncrement(1.0, 0.01)]})  # no band from 0
    book = TickBook(cast(IbContext, _FakeCtx(ib)))
    put = Contract.option("AAPL", date(2024, 3, 29), D(190), "P")
    await book.learn(put, _put_details("7"))
    await book.learn(put, _put_details(""))
    assert book.rule(put) is NICKEL and ib.asked == [7]


def test_the_adapter_counts_the_110_refusals_it_received(harness: Callable[..., Harness]) -> None:
    """What the validation reports as "110 rejections of our own prices": IB's codes as the
    adapter heard them, not our reading of a rejection's text (IB's 110 text has no code)."""
    h = harness().start("AAPL")
    assert h.broker.notice_counts().get(110, 0) == 0
    off_tick = replace(
        limit("off-tick", Side.BUY, h.quote().bid - 5), limit_price=Decimal("180.005")
    )
    assert h.broker.place_order(off_tick)
    wait_until(
        lambda: OrderStatus.REJECTED in h.recorder.statuses("off-tick"), what="the 110 refusal"
    )
    assert h.broker.notice_counts()[110] == 1
