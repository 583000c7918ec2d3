"""The option-selling cycle of a VirtualAccount whose strategy sells options (``OptionSelling``
in ``core.strategies.protocol``; the naked put today).

Flow of an entry: when the VA is flat and its own rules allow an entry, as often as the strategy
allows (``scan_due``) the VA asks its ``ChainReader`` for the chain the strategy names, and goes
on handling messages. The chain comes back as a ``ChainScanned``; if the VA may still enter (it
may have been paused, halted, filled or restarted meanwhile: a stale result is dropped) the
strategy picks an option. The VA subscribes to that option's quotes and, on the first fresh
quote, proposes a SELL to open: a limit at the mid that the OrderManager re-prices toward the
bid (never past it). No protective stop is attached: the PositionMonitor's option stop rule is
the stop.

The wheel (``wheels_stock``): while the VA holds stock of its symbol (an assignment delivered
it), the scan reads calls instead and the strategy picks a covered call on every uncovered lot
(``choose_call``), judged by ``core.rules.wheel.check_covered_call_entry`` instead of the VA's
entry rules; once the stock is called away the VA is flat and sells puts again.

``OptionEntries`` is a part of ``VirtualAccount``: every method runs on the VA's actor thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from actors.messages.commands import OrderProposal, Signal
from actors.messages.events import ChainScanned
from actors.runtime.context import EngineContext
from actors.virtual_account.chain_reader import ChainReader
from actors.virtual_account.exits import exact_mid
from actors.virtual_account.option_quotes import OptionQuotes
from actors.virtual_account.state import DecisionLog, Tell, VAState
from core.domain import Contract, OrderType, Purpose, Quote, Side, TradingState
from core.rules import filters
from core.rules.decision import Decision, reject
from core.rules.repricing import repriced_limit
from core.rules.va_rules import check_entry
from core.rules.wheel import check_covered_call_entry, held_call
from core.strategies.protocol import OptionChoice, OptionSelling

__all__ = ["CANDIDATE_TIMEOUT_S", "ChainReadError", "OptionEntries"]

#: A chosen option whose first quote has not arrived after this long is dropped.
CANDIDATE_TIMEOUT_S = 30.0


class ChainReadError(RuntimeError):
    """The broker's chain read raised: the VA crashes and recovers, as on any broker error."""


@dataclass(frozen=True, slots=True)
class _Scan:
    """A chain read under way: what its result will be judged with."""

    scan_id: int
    symbol: str
    spot: Decimal
    today: date
    selling: OptionSelling
    calls: bool = False  # a covered-call scan (the wheel)


class OptionEntries:
    """Scans, the candidate option and its entry."""

    def __init__(
        self,
        *,
        ctx: EngineContext,
        state: VAState,
        log: DecisionLog,
        tell: Tell,
        quotes: OptionQuotes,
        chains: ChainReader,
        stopping: Callable[[], bool],
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.log = log
        self.tell = tell
        self.quotes = quotes
        self.chains = chains
        self.stopping = stopping
        self.scan: _Scan | None = None
        self._scans = 0
        self._candidate_since: datetime | None = None
        self._last_note = ""

    def forget_scan(self) -> None:
        """Forget the scan under way (a new strategy): its chain is dropped when it comes."""
        self.scan = None

    def reset(self) -> None:
        """Forget the scan under way and the candidate (a restart, a new strategy): a result
        that arrives later is dropped."""
        self.scan = None
        self.state.candidate = None
        self._candidate_since = None

    # -- quotes ------------------------------------------------------------------------------
    def on_quotes(self, by_key: dict[str, Quote], now: datetime) -> None:
        selling = self.state.strategy.option_selling()
        if selling is None or self.scan is not None:
            return
        if self.state.candidate is not None:
            self._candidate_quote(by_key, now)
            return
        for symbol in self.state.account.universe:
            quote = by_key.get(symbol)
            if quote is None or not selling.scan_due(now):
                continue
            if self._start_scan(selling, symbol, quote, now):
                return

    def _writes_calls(self, selling: OptionSelling, symbol: str) -> bool:
        """A wheel VA holding ``symbol``'s stock writes calls on it rather than selling puts."""
        return selling.wheels_stock and self.state.vabook.position(symbol) > 0

    def _may_enter(self, symbol: str, now: datetime, *, calls: bool = False) -> Decision:
        """The VA's rules and the trading window for a new option entry on ``symbol`` (a
        covered call: the wheel's rules instead of the VA's entry rules)."""
        if calls:
            allowed = self._call_allowed(symbol, now)
        else:
            allowed = self._entry_allowed(Contract.stock(symbol), now)
        if not allowed:
            return allowed
        cfg = self.ctx.config.filters
        return filters.check_trading_window(
            now, self.ctx.calendar, cfg.open_margin_min, cfg.close_margin_min
        )

    def _start_scan(
        self, selling: OptionSelling, symbol: str, spot_quote: Quote, now: datetime
    ) -> bool:
        """Ask for the chain when the VA may enter; True once the read is under way."""
        calls = self._writes_calls(selling, symbol)
        if not self._may_enter(symbol, now, calls=calls):
            return False
        selling.wait(now)
        today = self.ctx.calendar.local(now).date()
        self._scans += 1
        scan = _Scan(self._scans, symbol, exact_mid(spot_quote), today, selling, calls)
        request = (selling.call_request if calls else selling.chain_request)(symbol, today)
        if not self.chains.read(scan.scan_id, request):
            return False  # the engine is stopping
        self.scan = scan
        return True

    # -- the chain ---------------------------------------------------------------------------
    def on_chain(self, result: ChainScanned) -> None:
        """The chain of the scan under way: pick the option to sell, if the VA still may."""
        scan = self.scan
        if scan is None or scan.scan_id != result.scan_id:
            self.log.note(f"{self.state.strategy.kind} {result.symbol}: stale chain dropped")
            return
        self.scan = None
        if result.error:
            raise ChainReadError(f"option chain of {result.symbol}: {result.error}")
        if self.stopping():
            return
        now = self.ctx.clock.now()
        kind = self.state.strategy.kind
        allowed = self._may_enter(scan.symbol, now, calls=scan.calls)
        if not allowed:  # paused, halted, filled or out of the window while the chain was read
            self.log.note(f"{kind} {scan.symbol}: chain dropped: {allowed.rule} {allowed.detail}")
            return
        book = self.state.vabook
        if scan.calls:
            stock = book.holdings[scan.symbol]
            choice = scan.selling.choose_call(
                result.chain,
                today=scan.today,
                shares=stock.quantity,
                written=-held_call(book, scan.symbol),
                basis=stock.avg_price,
            )
        else:
            choice = scan.selling.choose(
                result.chain,
                spot=scan.spot,
                today=scan.today,
                capital=book.capital,
                equity=book.equity,
            )
        if isinstance(choice, str):
            if choice != self._last_note:
                self._last_note = choice
                self.log.note(f"{kind} {scan.symbol}: {choice}")
            return
        self.state.candidate = choice
        # The chain read takes a while (IB paces its requests): the candidate's quote timeout
        # starts once it is picked, not at the quote that triggered the scan.
        self._candidate_since = self.ctx.clock.now()
        self.state.contracts[choice.quote.contract.key] = choice.quote.contract
        self.quotes.sync()

    def _entry_allowed(self, contract: Contract, now: datetime) -> Decision:
        if contract.is_option and contract.right == "C":
            return self._call_allowed(contract.symbol, now)
        if self.state.trading_state is TradingState.HALTED:
            return reject("trading_state", "HALTED")
        return check_entry(self.state.vabook, contract, self.state.limits, now)

    def _call_allowed(self, symbol: str, now: datetime) -> Decision:
        if self.state.trading_state is TradingState.HALTED:
            return reject("trading_state", "HALTED")
        return check_covered_call_entry(self.state.vabook, symbol, self.state.limits, now)

    # -- the candidate -----------------------------------------------------------------------
    def _candidate_quote(self, by_key: dict[str, Quote], now: datetime) -> None:
        choice = self.state.candidate
        assert choice is not None
        contract = choice.quote.contract
        quote = by_key.get(contract.key)
        if quote is None:
            since = self._candidate_since or now
            if (now - since).total_seconds() >= CANDIDATE_TIMEOUT_S:
                self.log.note(f"{self.state.strategy.kind}: no quote for {contract.key}; dropped")
                self._drop_candidate()
            return
        self._drop_candidate(keep_subscription=True)
        signal_id = self.ctx.new_id(self.state.va_id)
        allowed = self._entry_allowed(contract, now)
        if not allowed:
            signal = Signal(
                signal_id, self.state.va_id, contract, Side.SELL, now, self.state.strategy.kind
            )
            self.log.refused(signal, allowed, now)
            self.quotes.sync()
            return
        self._submit_entry(signal_id, choice, quote, now)

    def _submit_entry(
        self, signal_id: str, choice: OptionChoice, quote: Quote, now: datetime
    ) -> None:
        selling = self.state.strategy.option_selling()
        assert selling is not None
        plan = selling.entry_plan()
        contract = quote.contract
        limit = repriced_limit(
            side=Side.SELL,
            bid=quote.bid,
            ask=quote.ask,
            step=0,
            steps=plan.steps,
            tick=self.ctx.broker.tick_rule(contract),
        )
        delta = quote.delta if quote.delta is not None else choice.delta
        kind = self.state.strategy.kind
        proposal = OrderProposal(
            proposal_id=signal_id,
            va_id=self.state.va_id,
            contract=contract,
            side=Side.SELL,
            quantity=choice.contracts,
            order_type=OrderType.LMT,
            purpose=Purpose.ENTRY,
            reason=f"{kind}{' covered call' if contract.right == 'C' else ''} delta {delta:.2f} "
            f"{choice.dte}DTE decision mid {exact_mid(quote):.2f}"
            + (" [delayed data]" if quote.data_type.is_delayed else ""),
            time=now,
            ref_price=limit,
            limit_price=limit,
            sector=self.ctx.config.sector_of(contract.symbol),
            reprice=plan,
            delta=delta,
            dte=choice.dte,
        )
        self.state.vabook.working_entries[proposal.proposal_id] = contract.key
        self._last_note = ""
        self.log.proposed(proposal)
        self.tell("governor", proposal)

    def _drop_candidate(self, *, keep_subscription: bool = False) -> None:
        self.state.candidate = None
        self._candidate_since = None
        if not keep_subscription:
            self.quotes.sync()

    def entry_ended(self, now: datetime, *, refused: bool = True) -> None:
        """An entry ended with nothing sold: wait a scan interval before the next scan, or the
        strategy's retry delay when a rule ``refused`` it."""
        selling = self.state.strategy.option_selling()
        if selling is not None:
            selling.entry_ended(now, refused=refused)
        self.quotes.sync()
