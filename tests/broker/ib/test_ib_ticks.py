"""Tick sizes through the IB adapter: it reads each contract's ``minTick``/``marketRuleIds``
from IB's contract details when it qualifies the contract, asks ``reqMarketRule`` once per rule
id, and answers ``tick_rule`` from that (the default rule before it knows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from ib_async import ContractDetails
from ib_support import SYMBOLS, Harness, wait_until

from broker.base import Contract
from broker.ib.ticks import smart_rule_id
from broker.sim import SimSymbol
from broker.ticks import NICKEL, STOCK, TickRule
from broker.tws import TwsSimServer

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
