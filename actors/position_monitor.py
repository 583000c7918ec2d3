"""The PositionMonitor actor: marks every open position on each quote for its contract,
publishes position snapshots, evaluates the exit rules and asks the owning VA to exit
(reduce-only) when one fires. It learns positions from the OrderManager's ``PositionChanged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from actors.base import EngineActor
from actors.context import EngineContext
from actors.messages import (
    ExitRequest,
    PositionChanged,
    PositionSnapshot,
    QuotesReady,
    UnrealizedUpdate,
)
from actors.rules.exits import StockExitRules, evaluate_stock_exit
from broker.base import Contract, Quote

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
        self.watched: dict[tuple[str, str], _Watched] = {}

    def _rules(self) -> StockExitRules:
        exits = self.ctx.config.exits
        return StockExitRules(
            profit_target_pct=exits.profit_target_pct,
            max_holding_min=exits.max_holding_min,
            exit_before_close_min=exits.exit_before_close_min,
        )

    def on_config_changed(self) -> None:
        self.rules = self._rules()

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
        elif isinstance(message, PositionChanged):
            self._on_position(message)
        else:
            super().handle(message)

    def _on_position(self, change: PositionChanged) -> None:
        key = (change.va_id, change.contract.key)
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
        )
        self.watched[key] = watched
        self.ctx.quotes.subscribe(self.address, change.contract.key)
        quote = self.ctx.quotes.latest(change.contract.key)
        if quote is not None:
            watched.mark = _mid(quote)
        self._publish(watched, change.time)

    def _on_quotes(self, quotes: list[Quote]) -> None:
        if not quotes:
            return
        by_key = {q.contract.key: q for q in quotes}
        now = self.ctx.clock.now()
        for watched in self.watched.values():
            quote = by_key.get(watched.contract.key)
            if quote is None:
                continue
            watched.mark = _mid(quote)
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

    def _evaluate(self, watched: _Watched, now: datetime) -> None:
        if watched.mark is None:
            return
        # A request may be refused (halted, paced): ask again after a while, not per tick.
        if (
            watched.exit_requested_at is not None
            and (now - watched.exit_requested_at).total_seconds() < EXIT_RETRY_S
        ):
            return
        reason = evaluate_stock_exit(
            quantity=watched.quantity,
            avg_price=watched.avg_price,
            mark=watched.mark,
            stop_price=watched.stop_price,
            opened_at=watched.opened_at,
            now=now,
            rules=self.rules,
            calendar=self.ctx.calendar,
        )
        if reason is None:
            return
        watched.exit_requested = reason
        watched.exit_requested_at = now
        self.tell(f"va:{watched.va_id}", ExitRequest(watched.va_id, watched.contract, reason, now))

    def _publish(self, watched: _Watched, now: datetime, *, closed: bool = False) -> None:
        cost = abs(watched.avg_price * watched.quantity * watched.contract.multiplier)
        unrealized = watched.unrealized()
        self.bus.publish(
            PositionSnapshot(
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
            )
        )

    def snapshot(self) -> list[PositionSnapshot]:
        now = self.ctx.clock.now()
        out = []
        for w in self.watched.values():
            cost = abs(w.avg_price * w.quantity * w.contract.multiplier)
            unrealized = w.unrealized()
            out.append(
                PositionSnapshot(
                    w.va_id,
                    w.contract,
                    w.quantity,
                    w.avg_price,
                    float(w.mark) if w.mark is not None else None,
                    unrealized,
                    float(unrealized / cost * 100) if cost else 0.0,
                    w.stop_price,
                    w.opened_at,
                    now,
                )
            )
        return out
