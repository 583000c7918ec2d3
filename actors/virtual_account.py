"""The VirtualAccount actor: one strategy's slice of capital, its ledger view and its own rules.

Runs its strategy on the quotes of its universe, applies its rules (one symbol at a time,
cooldown, max open positions, max drawdown, sizing) and proposes orders to the RiskGovernor.
Signals and exit requests become proposals in ``actors.va_signals``; the option side (naked
puts, option subscriptions, assigned stock) is ``actors.va_options``.
Fills, order updates and rejections come back as messages. All state lives on the actor's own
thread; it is rebuilt from the ledger at start and after a crash.
"""

from __future__ import annotations

import json
from collections import deque
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger

from actors.messages.commands import ExitRequest, Halt, PauseVA, Resume, Signal
from actors.messages.events import (
    Fill,
    FillRevised,
    HaltAck,
    MarginReview,
    OrderRejected,
    OrderUpdate,
    QuotesReady,
    RiskNotice,
)
from actors.messages.queries import InspectVA, Query, VAInspection
from actors.messages.snapshots import VASnapshot
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from actors.va_options import OptionTrading
from actors.va_signals import exact_mid
from core.domain import Contract, Purpose, Quote, Side, TradingState
from core.rules.marks import mark_age
from core.rules.va_rules import VABook
from core.strategies.ma_cross import MACross
from core.strategies.naked_put import NakedPut
from db.records import OrderRecord

__all__ = ["VirtualAccount"]


class VirtualAccount(OptionTrading, EngineActor):
    def __init__(self, ctx: EngineContext, account_id: str) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.va_id = account_id
        self.address = f"va:{account_id}"
        self.account = ctx.config.account(account_id)
        self.limits = self.account.limits
        self.universe = {symbol: Contract.stock(symbol) for symbol in self.account.universe}
        self.trading_state = TradingState.ACTIVE
        self.decisions: deque[str] = deque(maxlen=20)
        self.margin_checks: deque[str] = deque(maxlen=5)  # what-if vs Reg-T, newest first
        self._day: object = None
        self.vabook = VABook(account_id, Decimal(self.account.capital))
        self._init_options()
        self.strategy = self._build_strategy()

    def _build_strategy(self) -> MACross | NakedPut | None:
        spec = self.account.strategy
        if spec.kind == "ma_cross":
            return MACross(
                fast_bars=spec.fast_bars,
                slow_bars=spec.slow_bars,
                bar_seconds=spec.bar_seconds,
                allow_short=spec.allow_short,
            )
        if spec.kind == "naked_put":
            return NakedPut(spec)
        return None  # "external": signals arrive from the inbox only

    # -- lifecycle --------------------------------------------------------------------------
    def on_config_changed(self) -> None:
        """Limits apply at once; new strategy parameters restart the strategy's bars."""
        account = self.ctx.config.account(self.va_id)
        strategy_changed = account.strategy != self.account.strategy
        self.account = account
        self.limits = account.limits
        if strategy_changed:
            self.strategy = self._build_strategy()
        self._note("config reloaded" + (" (strategy restarted)" if strategy_changed else ""))
        self._publish()

    def answer(self, query: Query) -> VAInspection:
        if not isinstance(query, InspectVA):
            raise TypeError(f"{self.address}: unknown query {type(query).__name__}")
        config: dict[str, Any] = {}
        for key, value in self.account.model_dump(mode="json").items():
            if isinstance(value, dict):
                config.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                config[key] = value
        return VAInspection(
            snapshot=self.snapshot(),
            config=tuple((key, str(value)) for key, value in config.items()),
            holdings=tuple(
                (h.contract.key, h.quantity, h.avg_price, h.mark)
                for h in self.vabook.holdings.values()
                if h.quantity
            ),
            working_orders=tuple(
                sorted(self.vabook.working_entries) + sorted(self.vabook.working_exits)
            ),
            handled=tuple(tuple(h) for h in self.handled),  # type: ignore[misc]
            crashes=self.crashes,
            margin_checks=tuple(self.margin_checks),
            mark_ages=self._mark_ages(),
        )

    def _mark_ages(self) -> tuple[tuple[str, float | None, bool, bool], ...]:
        """How old each holding's mark (its latest quote) is, for the inspector."""
        now, calendar = self.ctx.clock.now(), self.ctx.calendar
        ages = []
        for holding in self.vabook.holdings.values():
            if not holding.quantity:
                continue
            quote = self.ctx.quotes.latest(holding.contract.key)
            age = mark_age(
                quote.time if quote is not None else None,
                now,
                limit_s=self.ctx.config.exits.stale_mark_s,
                market_open=calendar.is_open(now),
                session_open=calendar.session_open(calendar.trading_day(now)),
            )
            delayed = quote is not None and quote.data_type.is_delayed
            ages.append((holding.contract.key, age.age_s, age.stale, delayed))
        return tuple(ages)

    def on_start(self) -> None:
        self.recover()
        for contract in self.universe.values():
            self.ctx.quotes.subscribe(self.address, contract.key)

    def on_stop(self) -> None:
        for contract in self.universe.values():
            self.ctx.quotes.unsubscribe(self.address, contract.key)
        self._release_option_subscriptions()
        self.ctx.ledger.close()

    def _replayed_book(self, orders: dict[str, OrderRecord]) -> VABook:
        """A new book with every one of this VA's executions in the ledger applied."""
        book = VABook(self.va_id, Decimal(self.account.capital))
        for execution in self.ctx.ledger.executions(va_id=self.va_id):
            order = orders.get(execution.order_id)
            if order is None:
                continue
            book.apply_fill(_ReplayFill(order.contract, execution), self.limits)
        return book

    def recover(self) -> None:
        """Rebuild the book from the ledger: replay this VA's executions, restore working
        orders. The strategy restarts cold (it rebuilds its bars from new quotes)."""
        ledger = self.ctx.ledger
        orders = {o.id: o for o in ledger.orders(va_id=self.va_id)}
        book = self._replayed_book(orders)
        for order in orders.values():
            if order.status.is_working:
                self._contracts[order.contract_key] = order.contract
                if order.purpose == Purpose.ENTRY:
                    book.working_entries[order.id] = order.contract_key
                elif order.purpose == Purpose.EXIT:
                    book.working_exits[order.id] = order.contract_key
                    self._exit_reasons[order.id] = order.reason
        book.paused_reason = self.vabook.paused_reason or self._stored_pause()
        self.vabook = book
        self.strategy = self._build_strategy()
        self.candidate = None
        self._recover_assigned(
            {o.contract_key for o in orders.values() if o.purpose == Purpose.ASSIGNMENT}
        )
        self._sync_option_subscriptions()

    # -- messages ---------------------------------------------------------------------------
    def handle(self, message: object) -> None:
        if isinstance(message, QuotesReady):
            self._on_quotes(self.ctx.quotes.take(self.address))
        elif isinstance(message, Fill):
            self._on_fill(message)
        elif isinstance(message, FillRevised):
            self._on_fill_revised(message)
        elif isinstance(message, OrderUpdate):
            self._on_order_update(message)
        elif isinstance(message, OrderRejected):
            self._forget(message.proposal_id)
            self._note(
                f"{message.purpose.value} {message.contract.key} rejected: "
                f"{message.rule} {message.detail}"
            )
            if message.purpose is Purpose.ENTRY:
                self._put_rejected(message.time)
            else:
                self._exit_finished(message.proposal_id, message.contract.key)
        elif isinstance(message, MarginReview):
            verdict = "passed" if message.accepted else "refused"
            self.margin_checks.appendleft(f"{message.time:%H:%M:%S} {verdict} {message.line}")
        elif isinstance(message, Signal):
            self._on_signal(message)
        elif isinstance(message, ExitRequest):
            self._on_exit_request(message)
        elif isinstance(message, Halt):
            self.trading_state = TradingState.HALTED
            self.tell("governor", HaltAck(self.va_id, self.trading_state))
        elif isinstance(message, Resume):
            self.trading_state = TradingState.ACTIVE
        elif isinstance(message, PauseVA):
            self.vabook.paused_reason = message.reason if message.paused else ""
            self._note(f"{'paused' if message.paused else 'resumed'}: {message.reason}")
            self._store_pause(
                message.paused, message.reason, kind="va_paused" if message.paused else "va_resumed"
            )
            self._publish()
        else:
            super().handle(message)

    def _on_quotes(self, quotes: list[Quote]) -> None:
        if quotes:
            day = self.ctx.calendar.trading_day(quotes[0].time)
            if day != self._day:
                self._day = day
                self.vabook.day_start_equity = self.vabook.equity
        for quote in quotes:
            key = quote.contract.key
            self.vabook.mark(key, exact_mid(quote))
            if not isinstance(self.strategy, MACross):
                continue
            intent = self.strategy.on_quote(quote, self.vabook.position(key))
            if intent is not None:
                self._on_signal(
                    Signal(
                        signal_id=self.ctx.new_id(self.va_id),
                        va_id=self.va_id,
                        contract=quote.contract,
                        side=intent.side,
                        time=quote.time,
                        source=self.strategy.name,
                        reason=intent.reason,
                        close=intent.close,
                    )
                )
        if quotes:
            self._options_on_quotes(quotes, self.ctx.clock.now())
        self._check_drawdown()
        self._publish()

    def _check_drawdown(self) -> None:
        drawdown = self.vabook.drawdown_pct
        if not self.vabook.paused_reason and drawdown >= self.limits.max_drawdown_pct:
            reason = f"max_drawdown {drawdown:.2f}% >= {self.limits.max_drawdown_pct:.2f}%"
            self.vabook.paused_reason = reason
            self._note(f"paused: {reason}")
            self._store_pause(True, reason, kind="va_paused")

    def _store_pause(self, paused: bool, reason: str, *, kind: str) -> None:
        """Pauses are stored (by the governor, as risk events) so they survive a restart."""
        detail = json.dumps({"va": self.va_id, "paused": paused, "reason": reason})
        self.tell(
            "governor", RiskNotice(kind, f"{self.va_id} {reason}", self.ctx.clock.now(), detail)
        )

    def _stored_pause(self) -> str:
        """The pause reason in force according to the ledger ("" when not paused)."""
        reason = ""
        for event in self.ctx.ledger.risk_events():
            if event.kind not in ("va_paused", "va_resumed"):
                continue
            try:
                detail = json.loads(event.detail)
            except ValueError:
                continue
            if isinstance(detail, dict) and detail.get("va") == self.va_id:
                reason = str(detail.get("reason", "paused")) if detail.get("paused") else ""
        return reason

    # -- orders and fills -------------------------------------------------------------------
    def _on_fill(self, fill: Fill) -> None:
        cooldown_before = self.vabook.cooldown_until
        pnl = self.vabook.apply_fill(fill, self.limits)
        if pnl is not None:
            outcome = "win" if pnl > 0 else "loss"
            self._note(f"closed {fill.contract.key} {outcome} {pnl:.2f} ({fill.reason})")
            until = self.vabook.cooldown_until
            if until is not None and until != cooldown_before:
                reason = (
                    f"{self.va_id} cooldown until {until:%H:%M:%S} after "
                    f"{self.limits.cooldown_losses} losses"
                )
                self.tell("governor", RiskNotice("cooldown", reason, fill.time))
        self._options_on_fill(fill)
        self._publish()

    def _on_fill_revised(self, revised: FillRevised) -> None:
        """A stored execution changed (corrected, or its commission came late): the book is
        replayed from the ledger; working orders, marks, the pause and the day's start stay."""
        old = self.vabook
        book = self._replayed_book({o.id: o for o in self.ctx.ledger.orders(va_id=self.va_id)})
        for key, holding in book.holdings.items():
            kept = old.holdings.get(key)
            if kept is not None and kept.mark is not None:
                holding.mark = kept.mark
        book.working_entries = old.working_entries
        book.working_exits = old.working_exits
        book.paused_reason = old.paused_reason
        book.day_start_equity = old.day_start_equity
        self.vabook = book
        self._note(revised.detail)
        self._publish()

    def _on_order_update(self, update: OrderUpdate) -> None:
        if update.status.is_terminal:
            self._forget(update.order_id)
            if update.purpose is Purpose.EXIT:
                self._exit_finished(update.order_id, update.contract.key)
            elif update.contract.is_option and update.filled == 0:
                self._put_rejected(update.time, refused=False)  # unfilled: rescan later
            self._sync_option_subscriptions()
        self._publish()

    def _forget(self, order_id: str) -> None:
        self.vabook.working_entries.pop(order_id, None)
        self.vabook.working_exits.pop(order_id, None)

    def _note(self, text: str) -> None:
        stamp = self.ctx.clock.now().strftime("%H:%M:%S")
        self.decisions.appendleft(f"{stamp} {text}")
        logger.debug("{}: {}", self.address, text)

    # -- views ------------------------------------------------------------------------------
    def _state_name(self, now: datetime) -> str:
        book = self.vabook
        if book.paused_reason:
            return "paused"
        if self.trading_state is TradingState.HALTED:
            return "halted"
        if book.in_cooldown(now):
            return "cooldown"
        if book.working_exits:
            return "exiting"
        if book.open_positions:
            return "in_position"
        if book.working_entries:
            return "entering"
        return "idle"

    def snapshot(self) -> VASnapshot:
        now = self.ctx.clock.now()
        book = self.vabook
        day_start = book.day_start_equity if book.day_start_equity is not None else book.capital
        return VASnapshot(
            va_id=self.va_id,
            strategy=self.account.strategy.kind,
            symbol=book.symbol_in_play(),
            state=self._state_name(now),
            capital=book.capital,
            equity=book.equity,
            realized_pnl=book.realized_pnl,
            unrealized_pnl=book.unrealized_pnl,
            day_pnl=book.equity - day_start,
            drawdown_pct=book.drawdown_pct,
            peak_equity=book.peak_equity,
            wins=book.wins,
            losses=book.losses,
            consecutive_losses=book.consecutive_losses,
            cooldown_until=book.cooldown_until if book.in_cooldown(now) else None,
            open_positions=book.open_positions,
            working_orders=len(book.working_entries) + len(book.working_exits),
            time=now,
            last_decisions=tuple(self.decisions),
            mailbox=self.mailbox_depth(),
        )

    def _publish(self) -> None:
        self.bus.publish(self.snapshot())


class _ReplayFill:
    """An execution from the ledger in the shape ``VABook.apply_fill`` reads."""

    __slots__ = ("commission", "contract", "price", "quantity", "side", "time")

    def __init__(self, contract: Contract, execution: object) -> None:
        self.contract = contract
        self.side = Side(getattr(execution, "side"))  # noqa: B009
        self.quantity = int(getattr(execution, "quantity"))  # noqa: B009
        self.price = Decimal(getattr(execution, "price"))  # noqa: B009
        self.commission = Decimal(getattr(execution, "commission"))  # noqa: B009
        self.time = getattr(execution, "time")  # noqa: B009
