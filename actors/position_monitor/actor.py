"""The PositionMonitor actor: marks every open position on each quote for its contract,
publishes position snapshots, evaluates the exit rules and asks the owning VA to exit
(reduce-only) when one fires. It learns positions from the OrderManager's ``PositionChanged``.

Options (``_option_exit`` and the ``option_*`` helpers): the option exit rules (profit target,
stop, time) with the order each one closes with, greeks, days to expiry and P&L as a percent
of the credit on every position snapshot, and per VA and for the portfolio a
``GreeksSnapshot`` (delta in dollars, theta per day, margin in use) after every batch of
quotes.

Stale marks (``actors/rules/marks.py``): every snapshot carries its mark's time and whether it
is stale or delayed. On each ``MarksDue`` (engine timer) a mark that went stale is
published as such, and the exit rules run on it: a stop or time exit goes out labelled with
the mark's age (``ExitRequest.note``), a profit target waits for a fresh quote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from actors.messages.commands import ExitRequest
from actors.messages.events import EngineEvent, PositionChanged, QuotesReady, UnrealizedUpdate
from actors.messages.snapshots import GreeksSnapshot, PositionSnapshot
from actors.messages.timers import MarksDue
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from core.domain import Contract, OrderType, Quote, Side
from core.rules.exits import (
    OptionExitRules,
    StockExitRules,
    evaluate_option_exit,
    evaluate_stock_exit,
    profit_target_price,
)
from core.rules.greeks import PositionRisk, days_to_expiry, position_risk, total_risk
from core.rules.marks import MarkAge, exit_note, exit_policy, mark_age
from core.rules.repricing import RepricePlan, repriced_limit

__all__ = ["PositionMonitor"]

ZERO = Decimal(0)
EXIT_RETRY_S = 30.0


@dataclass(slots=True)
class _Watched:
    va_id: str
    contract: Contract
    quantity: int
    avg_price: Decimal
    stop_price: Decimal | None
    opened_at: datetime | None
    mark: Decimal | None = None
    exit_requested: str = ""  # the reason already sent, until the position changes
    exit_requested_at: datetime | None = None
    quote: Quote | None = None  # the latest quote of the contract (greeks for an option)
    risk: PositionRisk | None = None  # as on the last snapshot published
    stale: bool = False  # the mark was stale on the last snapshot published

    @property
    def mark_time(self) -> datetime | None:
        return self.quote.time if self.quote is not None and self.mark is not None else None

    @property
    def delayed(self) -> bool:
        return self.quote is not None and self.quote.data_type.is_delayed

    def unrealized(self) -> Decimal:
        if self.mark is None:
            return ZERO
        return (self.mark - self.avg_price) * self.quantity * self.contract.multiplier


def _mid(quote: Quote) -> Decimal:
    """The exact mid (``Decimal(str(quote.mid))`` would carry the float sum's error)."""
    return (Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2


class PositionMonitor(EngineActor):
    address = "position_monitor"

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.rules = self._rules()
        self.option_rules = self._option_rules()
        self.watched: dict[tuple[str, str], _Watched] = {}
        self._va_greeks: dict[str, PositionRisk] = {}  # per VA, as last published

    def _rules(self) -> StockExitRules:
        exits = self.ctx.config.exits
        return StockExitRules(
            profit_target_pct=exits.profit_target_pct,
            max_holding_min=exits.max_holding_min,
            exit_before_close_min=exits.exit_before_close_min,
        )

    def _option_rules(self) -> OptionExitRules:
        options = self.ctx.config.exits.options
        return OptionExitRules(
            profit_take_pct=options.profit_take_pct,
            stop_loss_multiple=options.stop_loss_multiple,
            time_exit_dte=options.time_exit_dte,
        )

    def on_config_changed(self) -> None:
        self.rules = self._rules()
        self.option_rules = self._option_rules()

    def on_start(self) -> None:
        self.recover()

    def on_stop(self) -> None:
        for key in {w.contract.key for w in self.watched.values()}:
            self.ctx.quotes.unsubscribe(self.address, key)
        self.ctx.ledger.close()

    def recover(self) -> None:
        """Rebuild the watched positions from the ledger (stops from working stop orders)."""
        ledger = self.ctx.ledger
        stops = {
            (o.va_id, o.contract_key): o.stop_price
            for o in ledger.orders(working_only=True)
            if o.purpose == "stop"
        }
        self.watched = {}
        self._va_greeks = {}
        for position in ledger.open_positions():
            key = (position.va_id, position.contract_key)
            self.watched[key] = _Watched(
                position.va_id,
                position.contract,
                position.quantity,
                position.avg_price,
                stops.get(key),
                position.opened_at,
            )
            self.ctx.quotes.subscribe(self.address, position.contract_key)

    def handle(self, message: object) -> None:
        if isinstance(message, QuotesReady):
            self._on_quotes(self.ctx.quotes.take(self.address))
        elif isinstance(message, MarksDue):
            self._on_marks_tick(self.ctx.clock.now())
        elif isinstance(message, PositionChanged):
            self._on_position(message)
        else:
            super().handle(message)

    def _on_position(self, change: PositionChanged) -> None:
        key = (change.va_id, change.contract.key)
        self._va_greeks.pop(change.va_id, None)  # its totals are recomputed at the next batch
        if change.quantity == 0:
            watched = self.watched.pop(key, None)
            if watched is not None:
                self._publish(watched, change.time, closed=True)
            if not any(w.contract.key == change.contract.key for w in self.watched.values()):
                self.ctx.quotes.unsubscribe(self.address, change.contract.key)
            return
        previous = self.watched.get(key)
        watched = _Watched(
            change.va_id,
            change.contract,
            change.quantity,
            change.avg_price,
            change.stop_price,
            change.opened_at,
            mark=previous.mark if previous else None,
            quote=previous.quote if previous else None,
        )
        self.watched[key] = watched
        self.ctx.quotes.subscribe(self.address, change.contract.key)
        quote = self.ctx.quotes.latest(change.contract.key)
        if quote is not None:
            watched.mark = _mid(quote)
            watched.quote = quote
        self._publish(watched, change.time)

    def _on_quotes(self, quotes: list[Quote]) -> None:
        if not quotes:
            return
        by_key = {q.contract.key: q for q in quotes}
        now = self.ctx.clock.now()
        marked: set[tuple[str, str]] = set()
        for key, watched in self.watched.items():
            quote = by_key.get(watched.contract.key)
            if quote is None:
                continue
            marked.add(key)
            watched.mark = _mid(quote)
            watched.quote = quote
            if watched.contract.is_option:
                self._option_exit(watched, now)
            else:
                self._evaluate(watched, now)
            self._publish(watched, now)
        self.tell(
            "governor",
            UnrealizedUpdate(
                sum((w.unrealized() for w in self.watched.values()), ZERO),
                sum(
                    (abs(w.quantity * (w.mark or w.avg_price)) for w in self.watched.values()), ZERO
                ),
                now,
            ),
        )
        self._publish_greeks(now, marked)

    # -- mark ages ------------------------------------------------------------------------------
    def _age(self, watched: _Watched, now: datetime) -> MarkAge:
        calendar = self.ctx.calendar
        return mark_age(
            watched.mark_time,
            now,
            limit_s=self.ctx.config.exits.stale_mark_s,
            market_open=calendar.is_open(now),
            session_open=calendar.session_open(calendar.trading_day(now)),
        )

    def _on_marks_tick(self, now: datetime) -> None:
        """Publish marks that went stale (or fresh) since the last snapshot, and run the exit
        rules on stale ones: no quote will run them (actors/rules/marks.py)."""
        for watched in list(self.watched.values()):
            age = self._age(watched, now)
            if age.stale:
                if watched.contract.is_option:
                    self._option_exit(watched, now, age)
                else:
                    self._evaluate(watched, now, age)
            if age.stale != watched.stale:
                self._publish(watched, now)

    def _request_exit(self, watched: _Watched, request: ExitRequest) -> None:
        """Send an exit; one that decided on a stale or delayed mark is also shown."""
        watched.exit_requested = request.reason
        watched.exit_requested_at = request.time
        self.tell(f"va:{watched.va_id}", request)
        if request.note:
            self.bus.publish(
                EngineEvent(
                    kind="risk",
                    text=f"exit {request.reason} {watched.contract.key}: {request.note}",
                    time=request.time,
                    va_id=watched.va_id,
                )
            )

    def _evaluate(self, watched: _Watched, now: datetime, age: MarkAge | None = None) -> None:
        if watched.mark is None:
            return
        # A request may be refused (halted, paced): ask again after a while, not per tick.
        if (
            watched.exit_requested_at is not None
            and (now - watched.exit_requested_at).total_seconds() < EXIT_RETRY_S
        ):
            return
        age = age or self._age(watched, now)
        # On a stale mark the profit target cannot fire (it waits for a fresh mark); the stop
        # and the time rules still run.
        rules = replace(self.rules, profit_target_pct=math.inf) if age.stale else self.rules
        reason = exit_policy(
            evaluate_stock_exit(
                quantity=watched.quantity,
                avg_price=watched.avg_price,
                mark=watched.mark,
                stop_price=watched.stop_price,
                opened_at=watched.opened_at,
                now=now,
                rules=rules,
                calendar=self.ctx.calendar,
            ),
            age,
        )
        if reason is None:
            return
        note = exit_note(age, delayed=watched.delayed)
        self._request_exit(
            watched, ExitRequest(watched.va_id, watched.contract, reason, now, note=note)
        )

    def _publish(self, watched: _Watched, now: datetime, *, closed: bool = False) -> None:
        watched.stale = self._age(watched, now).stale
        self.bus.publish(self._position_snapshot(watched, now, closed=closed))

    def _position_snapshot(
        self, watched: _Watched, now: datetime, *, closed: bool = False
    ) -> PositionSnapshot:
        cost = abs(watched.avg_price * watched.quantity * watched.contract.multiplier)
        unrealized = watched.unrealized()
        extra = {} if closed else self._risk_fields(watched, now, unrealized)
        return PositionSnapshot(
            va_id=watched.va_id,
            contract=watched.contract,
            quantity=0 if closed else watched.quantity,
            avg_price=watched.avg_price,
            mark=float(watched.mark) if watched.mark is not None else None,
            unrealized_pnl=ZERO if closed else unrealized,
            unrealized_pct=float(unrealized / cost * 100) if cost and not closed else 0.0,
            stop_price=watched.stop_price,
            opened_at=watched.opened_at,
            time=now,
            mark_time=watched.mark_time,
            mark_stale=watched.stale,
            mark_delayed=watched.delayed,
            **extra,
        )

    def snapshot(self) -> list[PositionSnapshot]:
        now = self.ctx.clock.now()
        return [self._position_snapshot(w, now) for w in self.watched.values()]

    # -- options and risk figures ----------------------------------------------------------------
    def _option_exit(self, watched: _Watched, now: datetime, age: MarkAge | None = None) -> None:
        """Evaluate the option exit rules; a request for the same reason is not repeated for
        ``EXIT_RETRY_S``, a different (more urgent) one goes out at once. On a stale mark the
        profit target waits (an infinite ask never reaches it); stop and time go out labelled."""
        quote, contract = watched.quote, watched.contract
        if quote is None or watched.mark is None or contract.expiry is None:
            return
        age = age or self._age(watched, now)
        reason = exit_policy(
            evaluate_option_exit(
                quantity=watched.quantity,
                credit=watched.avg_price,
                ask=Decimal("Infinity") if age.stale else Decimal(repr(quote.ask)),
                mark=watched.mark,
                dte=days_to_expiry(contract.expiry, self.ctx.calendar.local(now).date()),
                rules=self.option_rules,
                tick=self.ctx.broker.tick_rule(contract),
            ),
            age,
        )
        if reason is None:
            return
        if (
            reason == watched.exit_requested
            and watched.exit_requested_at is not None
            and (now - watched.exit_requested_at).total_seconds() < EXIT_RETRY_S
        ):
            return
        request = self._option_exit_request(watched, quote, reason, now)
        self._request_exit(watched, replace(request, note=exit_note(age, delayed=watched.delayed)))

    def _option_exit_request(
        self, watched: _Watched, quote: Quote, reason: str, now: datetime
    ) -> ExitRequest:
        """Profit target: a limit at the target price. Stop: must fill now, a market order or a
        marketable limit re-priced every second then market. Time: a limit from the mid
        walking to the natural price."""
        cfg = self.ctx.config.exits.options
        side = Side.BUY if watched.quantity < 0 else Side.SELL
        va, contract = watched.va_id, watched.contract
        tick = self.ctx.broker.tick_rule(contract)
        if reason == "profit_target":
            limit = profit_target_price(watched.avg_price, self.option_rules, tick)
            return ExitRequest(va, contract, reason, now, OrderType.LMT, limit)
        if reason == "stop":
            if cfg.stop_order == "market":
                return ExitRequest(va, contract, reason, now, OrderType.MKT)
            plan = RepricePlan(
                interval_s=cfg.stop_reprice_s,
                steps=0,
                max_reprices=cfg.stop_max_reprices,
                then_market=True,
            )
            limit = repriced_limit(
                side=side, bid=quote.bid, ask=quote.ask, step=0, steps=0, tick=tick
            )
            return ExitRequest(va, contract, reason, now, OrderType.LMT, limit, plan)
        steps = cfg.limit_reprice_steps
        plan = RepricePlan(interval_s=cfg.limit_reprice_s, steps=steps)
        limit = repriced_limit(
            side=side, bid=quote.bid, ask=quote.ask, step=0, steps=steps, tick=tick
        )
        return ExitRequest(va, contract, reason, now, OrderType.LMT, limit, plan)

    def _risk(self, watched: _Watched) -> PositionRisk:
        sim = self.ctx.config.sim
        underlying = self.ctx.quotes.latest(watched.contract.symbol)
        return position_risk(
            watched.contract,
            watched.quantity,
            quote=watched.quote,
            underlying=_mid(underlying) if underlying is not None else None,
            long_margin_pct=sim.maint_margin_long_pct,
            short_margin_pct=sim.maint_margin_short_pct,
        )

    def _risk_fields(self, watched: _Watched, now: datetime, unrealized: Decimal) -> dict[str, Any]:
        risk = watched.risk = self._risk(watched)
        fields: dict[str, Any] = {
            "delta_dollars": risk.delta_dollars,
            "theta_per_day": risk.theta_per_day,
            "margin": risk.margin,
        }
        contract, quote = watched.contract, watched.quote
        if not contract.is_option or contract.expiry is None:
            return fields
        fields["dte"] = days_to_expiry(contract.expiry, self.ctx.calendar.local(now).date())
        if quote is not None:
            fields.update(
                delta=quote.delta,
                gamma=quote.gamma,
                theta=quote.theta,
                vega=quote.vega,
                iv=quote.iv,
            )
        if watched.quantity < 0:
            credit = watched.avg_price * -watched.quantity * contract.multiplier
            fields["credit"] = credit
            fields["pnl_pct_of_credit"] = float(unrealized / credit * 100) if credit else None
        return fields

    def _publish_greeks(self, now: datetime, marked: set[tuple[str, str]]) -> None:
        """Delta in dollars, theta per day and margin in use, per VA and for the portfolio.

        Only VAs with a position this batch re-marked (``marked``), or changed since, are
        recomputed and published, from the figures of the snapshots just published; the others
        keep their last totals (bench/quotes_absorbed.py: with 100 VAs, rebuilding every VA's
        risk twice per batch made the monitor's batches half as long again)."""
        held = {watched.va_id for watched in self.watched.values()}
        for va_id in self._va_greeks.keys() - held:
            del self._va_greeks[va_id]
        stale = {va_id for va_id, _ in marked} | (held - self._va_greeks.keys())
        by_va: dict[str, list[PositionRisk]] = {}
        for key, watched in self.watched.items():
            if watched.va_id in stale:
                risk = watched.risk if key in marked and watched.risk else self._risk(watched)
                by_va.setdefault(watched.va_id, []).append(risk)
        for va_id, risks in sorted(by_va.items()):
            total = self._va_greeks[va_id] = total_risk(risks)
            self.bus.publish(
                GreeksSnapshot(
                    va_id,
                    total.delta_dollars,
                    total.theta_per_day,
                    total.margin,
                    total.positions,
                    now,
                )
            )
        total = total_risk(list(self._va_greeks.values()))
        self.bus.publish(
            GreeksSnapshot(
                None, total.delta_dollars, total.theta_per_day, total.margin, total.positions, now
            )
        )
