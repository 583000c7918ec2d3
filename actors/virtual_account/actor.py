"""The VirtualAccount actor: one strategy's slice of capital, its ledger view and its own rules.

Runs its strategy on the quotes of its universe, applies its rules (one symbol at a time,
cooldown, max open positions, max drawdown, sizing) and proposes orders to the RiskGovernor.
Fills, order updates and rejections come back as messages. The actor routes each message to its
parts, plain classes given their collaborators and the shared ``VAState``:

* ``signals.SignalProposals``: a signal (strategy, inbox, test) to a proposal or a refusal;
* ``exits.ExitProposals``: closing a position, replacing a less urgent option exit;
* ``options.OptionEntries``: the option-selling cycle of a strategy that sells options, its chain
  reads on ``chain_reader.ChainReader``'s worker thread (the handler never waits for one);
* ``option_quotes.OptionQuotes``: the option quotes the VA owns;
* ``rolls.OptionRolls``: rolling a short option to a later expiry as one combo, or closing it;
* ``assignment.AssignedStock``: closing stock an assignment delivered;
* ``ledger_view`` (the book replayed at start and after a crash) and ``views`` (snapshots).

The strategy comes from the registry (``core.strategies.registry.build_strategy``); the actor
asks it what it can do (``Strategy`` protocol), never which class it is. All state lives on the
actor's own thread; it is rebuilt from the ledger at start and after a crash.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import assert_never, get_args

from actors.messages.commands import ExitRequest, Halt, PauseVA, Resume, Signal
from actors.messages.events import (
    ChainScanned,
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
from actors.virtual_account import views
from actors.virtual_account.assignment import AssignedStock
from actors.virtual_account.chain_reader import ChainReader
from actors.virtual_account.exits import ExitProposals, exact_mid
from actors.virtual_account.ledger_view import replayed_book, stored_pause
from actors.virtual_account.option_quotes import OptionQuotes
from actors.virtual_account.options import OptionEntries
from actors.virtual_account.rolls import OptionRolls
from actors.virtual_account.signals import SignalProposals
from actors.virtual_account.state import DecisionLog, VAState
from core.domain import Contract, Purpose, Quote, TradingState
from core.rules.equity_curve import EquityCurve
from core.rules.va_rules import VABook
from core.strategies.registry import build_strategy

__all__ = ["VAMessage", "VirtualAccount"]

#: What a VirtualAccount is told.
VAMessage = (
    QuotesReady
    | Fill
    | FillRevised
    | OrderUpdate
    | OrderRejected
    | MarginReview
    | Signal
    | ExitRequest
    | Halt
    | Resume
    | PauseVA
    | ChainScanned
)


class VirtualAccount(EngineActor[VAMessage]):
    """``va:<id>``. ``__init__`` runs on the engine's thread; every other method on the
    actor's own thread (pykka)."""

    accepts = get_args(VAMessage)

    def __init__(self, ctx: EngineContext, account_id: str) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.va_id = account_id
        self.address = f"va:{account_id}"
        account = ctx.config.account(account_id)
        self.state = VAState(
            va_id=account_id,
            account=account,
            vabook=VABook(account_id, Decimal(account.capital)),
            strategy=build_strategy(account.strategy),
            universe={symbol: Contract.stock(symbol) for symbol in account.universe},
        )
        self.log = DecisionLog(clock=ctx.clock, address=self.address, tell=self.tell)
        self.exits = ExitProposals(ctx=ctx, state=self.state, log=self.log, tell=self.tell)
        self.signals = SignalProposals(
            ctx=ctx, state=self.state, log=self.log, exits=self.exits, tell=self.tell
        )
        self.option_quotes = OptionQuotes(ctx=ctx, state=self.state, address=self.address)
        self.assigned = AssignedStock(ctx=ctx, state=self.state, exits=self.exits)
        self.chains = ChainReader(
            broker=ctx.broker, book=ctx.book, address=self.address, va_id=account_id
        )
        self.options = OptionEntries(
            ctx=ctx,
            state=self.state,
            log=self.log,
            tell=self.tell,
            quotes=self.option_quotes,
            chains=self.chains,
            stopping=lambda: self.book.closing,
        )
        self.rolls = OptionRolls(
            ctx=ctx,
            state=self.state,
            log=self.log,
            tell=self.tell,
            exits=self.exits,
            quotes=self.option_quotes,
            chains=self.chains,
        )
        self._day: date | None = None
        self.equity_curve = EquityCurve()  # the inspector's sparkline

    # -- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        self.recover()
        for contract in self.state.universe.values():
            self.ctx.quotes.subscribe(self.address, contract.key)
        # Shown from the start (strategy, state, equity), not from the first quote or chain:
        # a naked put's first chain read can take seconds over IB.
        self._publish()

    def on_stop(self) -> None:
        self.chains.close()
        for contract in self.state.universe.values():
            self.ctx.quotes.unsubscribe(self.address, contract.key)
        self.option_quotes.release()
        self.ctx.ledger.close()

    def on_config_changed(self) -> None:
        """Limits apply at once; new strategy parameters restart the strategy (its bars, its
        scan pacing; a chain read under way is dropped when it comes back)."""
        va = self.state
        account = self.ctx.config.account(self.va_id)
        strategy_changed = account.strategy != va.account.strategy
        va.account = account
        if strategy_changed:
            va.strategy = build_strategy(account.strategy)
            self.options.forget_scan()
        self.log.note("config reloaded" + (" (strategy restarted)" if strategy_changed else ""))
        self._publish()

    def recover(self) -> None:
        """Rebuild the book from the ledger: replay this VA's executions, restore working
        orders. The strategy restarts cold (it rebuilds its bars from new quotes)."""
        va, ledger = self.state, self.ctx.ledger
        orders = {o.id: o for o in ledger.orders(va_id=self.va_id)}
        book = replayed_book(ledger, self.va_id, Decimal(va.account.capital), va.limits, orders)
        for order in orders.values():
            if order.status.is_working:
                va.contracts[order.contract_key] = order.contract
                if order.purpose == Purpose.ENTRY:
                    book.working_entries[order.id] = order.contract_key
                elif order.purpose == Purpose.EXIT:
                    book.working_exits[order.id] = order.contract_key
                    self.exits.reasons[order.id] = order.reason
        book.paused_reason = va.vabook.paused_reason or stored_pause(ledger, self.va_id)
        va.vabook = book
        va.strategy = build_strategy(va.account.strategy)
        self.options.reset()
        self.rolls.recover(orders.values())
        self.assigned.recover(
            {o.contract_key for o in orders.values() if o.purpose == Purpose.ASSIGNMENT}
        )
        self.option_quotes.sync()

    # -- messages ---------------------------------------------------------------------------
    def handle(self, message: VAMessage) -> None:
        match message:
            case QuotesReady():
                self._on_quotes(self.ctx.quotes.take(self.address))
            case Fill():
                self._on_fill(message)
            case FillRevised():
                self._on_fill_revised(message)
            case OrderUpdate():
                self._on_order_update(message)
            case OrderRejected():
                self._on_rejected(message)
            case MarginReview():
                verdict = "passed" if message.accepted else "refused"
                line = f"{message.time:%H:%M:%S} {verdict} {message.line}"
                self.state.margin_checks.appendleft(line)
            case Signal():
                self.signals.on_signal(message)
            case ExitRequest():
                if not self.rolls.stands_for(message):
                    self.exits.on_exit_request(message)
            case Halt():
                self.state.trading_state = TradingState.HALTED
                self.tell("governor", HaltAck(self.va_id, self.state.trading_state))
            case Resume():
                self.state.trading_state = TradingState.ACTIVE
            case PauseVA():
                self._on_pause(message)
            case ChainScanned() if self.rolls.owns(message.scan_id):
                self.rolls.on_chain(message)
                self._publish()
            case ChainScanned():
                self.options.on_chain(message)
                self._publish()
            case _:
                assert_never(message)

    def _on_quotes(self, quotes: list[Quote]) -> None:
        va = self.state
        if quotes:
            day = self.ctx.calendar.trading_day(quotes[0].time)
            if day != self._day:
                self._day = day
                va.vabook.day_start_equity = va.vabook.equity
        for quote in quotes:
            key = quote.contract.key
            va.vabook.mark(key, exact_mid(quote))
            intent = va.strategy.on_quote(quote, va.vabook.position(key))
            if intent is not None:
                self.signals.on_signal(
                    Signal(
                        signal_id=self.ctx.new_id(self.va_id),
                        va_id=self.va_id,
                        contract=quote.contract,
                        side=intent.side,
                        time=quote.time,
                        source=va.strategy.kind,
                        reason=intent.reason,
                        close=intent.close,
                    )
                )
        if quotes:
            now = self.ctx.clock.now()
            by_key = {q.contract.key: q for q in quotes}
            self.assigned.close(by_key, now)
            self.options.on_quotes(by_key, now)
            self.rolls.on_quotes(by_key, now)
        self._check_drawdown()
        self._publish()

    def _on_pause(self, message: PauseVA) -> None:
        self.state.vabook.paused_reason = message.reason if message.paused else ""
        self.log.note(f"{'paused' if message.paused else 'resumed'}: {message.reason}")
        if not message.stored:
            kind = "va_paused" if message.paused else "va_resumed"
            self._store_pause(message.paused, message.reason, kind=kind)
        self._publish()

    def _check_drawdown(self) -> None:
        book, limits = self.state.vabook, self.state.limits
        drawdown = book.drawdown_pct
        if not book.paused_reason and drawdown >= limits.max_drawdown_pct:
            reason = f"max_drawdown {drawdown:.2f}% >= {limits.max_drawdown_pct:.2f}%"
            book.paused_reason = reason
            self.log.note(f"paused: {reason}")
            self._store_pause(True, reason, kind="va_paused")

    def _store_pause(self, paused: bool, reason: str, *, kind: str) -> None:
        """Pauses are stored (by the governor, as risk events) so they survive a restart."""
        detail = json.dumps({"va": self.va_id, "paused": paused, "reason": reason})
        self.tell(
            "governor", RiskNotice(kind, f"{self.va_id} {reason}", self.ctx.clock.now(), detail)
        )

    # -- orders and fills -------------------------------------------------------------------
    def _on_fill(self, fill: Fill) -> None:
        book, limits = self.state.vabook, self.state.limits
        self.log.filled(fill)
        cooldown_before = book.cooldown_until
        pnl = book.apply_fill(fill, limits)
        if pnl is not None:
            outcome = "win" if pnl > 0 else "loss"
            self.log.note(f"closed {fill.contract.key} {outcome} {pnl:.2f} ({fill.reason})")
            until = book.cooldown_until
            if until is not None and until != cooldown_before:
                reason = (
                    f"{self.va_id} cooldown until {until:%H:%M:%S} after "
                    f"{limits.cooldown_losses} losses"
                )
                self.tell("governor", RiskNotice("cooldown", reason, fill.time))
        self.assigned.on_fill(fill)
        self.option_quotes.sync()
        self._publish()

    def _on_fill_revised(self, revised: FillRevised) -> None:
        """A stored execution changed (corrected, or its commission came late): the book is
        replayed from the ledger; working orders, marks, the pause and the day's start stay."""
        va = self.state
        old = va.vabook
        orders = {o.id: o for o in self.ctx.ledger.orders(va_id=self.va_id)}
        book = replayed_book(
            self.ctx.ledger, self.va_id, Decimal(va.account.capital), va.limits, orders
        )
        for key, holding in book.holdings.items():
            kept = old.holdings.get(key)
            if kept is not None and kept.mark is not None:
                holding.mark = kept.mark
        book.working_entries = old.working_entries
        book.working_exits = old.working_exits
        book.paused_reason = old.paused_reason
        book.day_start_equity = old.day_start_equity
        va.vabook = book
        self.log.note(revised.detail)
        self._publish()

    def _on_order_update(self, update: OrderUpdate) -> None:
        held = self.rolls.held_key(update.order_id)
        if update.status.is_terminal and held is not None:
            self._forget(update.order_id)
            self.rolls.ended(update.order_id, f"{update.status.value}, {update.filled} filled")
            self._exit_finished(update.order_id, held)
            self.option_quotes.sync()
        elif update.status.is_terminal:
            self._forget(update.order_id)
            if update.purpose is Purpose.EXIT:
                self._exit_finished(update.order_id, update.contract.key)
            elif update.contract.is_option and update.filled == 0:
                self.options.entry_ended(update.time, refused=False)  # unfilled: rescan later
            self.option_quotes.sync()
        self._publish()

    def _on_rejected(self, message: OrderRejected) -> None:
        held = self.rolls.held_key(message.proposal_id)
        self._forget(message.proposal_id)
        self.log.note(
            f"{message.purpose.value} {message.contract.key} rejected: "
            f"{message.rule} {message.detail}"
        )
        if held is not None:
            self.rolls.ended(message.proposal_id, f"refused: {message.rule} {message.detail}")
            self._exit_finished(message.proposal_id, held)
        elif message.purpose is Purpose.ENTRY:
            self.options.entry_ended(message.time)
        else:
            self._exit_finished(message.proposal_id, message.contract.key)

    def _exit_finished(self, order_id: str, contract_key: str) -> None:
        """A working exit ended: its replacement goes out; an assignment's close that ended
        with stock still held is tried again at the next quote."""
        if self.exits.finished(order_id, contract_key) == "assignment":
            self.assigned.exit_ended(contract_key)

    def _forget(self, order_id: str) -> None:
        self.log.ended(order_id)
        self.state.vabook.working_entries.pop(order_id, None)
        self.state.vabook.working_exits.pop(order_id, None)

    # -- views ------------------------------------------------------------------------------
    def snapshot(self) -> VASnapshot:
        return views.snapshot(self.state, self.log, self.ctx, mailbox=self.mailbox_depth())

    def answer(self, query: Query) -> VAInspection:
        if not isinstance(query, InspectVA):
            raise TypeError(f"{self.address}: unknown query {type(query).__name__}")
        return views.inspection(
            self.state,
            self.log,
            self.ctx,
            mailbox=self.mailbox_depth(),
            crashes=self.crashes,
            handled_stats=self.handling.stats(),
            equity_curve=self.equity_curve.points,
        )

    def engine_time(self) -> datetime:
        """The engine's clock: the inspector's handling times are in engine time."""
        return self.ctx.clock.now()

    def _publish(self) -> None:
        snapshot = self.snapshot()
        self.equity_curve.sample(snapshot.time, snapshot.equity)
        self.bus.publish(snapshot)
