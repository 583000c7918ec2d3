"""The option side of a VirtualAccount: the naked-put strategy's scans and entries, the option
quote subscriptions the VA owns, closing stock delivered by an assignment, and replacing a
working option exit by a more urgent one.

``OptionTrading`` is a mixin of ``VirtualAccount``: every method runs on the VA's own actor
thread and uses the VA's state (``ctx``, ``vabook``, ``limits``, ...).

Flow of an entry: when the VA is flat and its own rules allow an entry, at most once per
``scan_interval_s`` it asks the broker for a chain snapshot of its underlying and the
strategy picks a put. The VA subscribes to that put's quotes and, on the first fresh quote,
proposes a SELL to open: a limit at the mid that the OrderManager re-prices toward the bid
(never past it). No protective stop is attached: the PositionMonitor's option stop rule is the
stop.
"""

from __future__ import annotations

from datetime import datetime

from loguru import logger

from actors.messages.commands import CancelOrder, ExitRequest, OrderProposal, Signal
from actors.messages.events import Fill, SignalDecision
from actors.va_signals import SignalHandling
from core.config import NakedPutStrategy
from core.domain import Contract, OrderType, Purpose, Quote, Side, TradingState
from core.rules import filters
from core.rules.decision import Decision, reject
from core.rules.repricing import RepricePlan, repriced_limit
from core.rules.va_rules import check_entry
from core.strategies.ma_cross import MACross
from core.strategies.naked_put import NakedPut, PutChoice, option_mid

__all__ = ["CANDIDATE_TIMEOUT_S", "EXIT_URGENCY", "OptionTrading"]

#: A chosen put whose first quote has not arrived after this long is dropped.
CANDIDATE_TIMEOUT_S = 30.0
#: A working option exit is replaced by a request that is more urgent than its own reason.
EXIT_URGENCY = {"profit_target": 0, "signal": 0, "time": 1, "stop": 2, "flatten": 3}


class OptionTrading(SignalHandling):
    """Mixin: see the module docstring. Builds on the VA's signal side (``SignalHandling``:
    exit proposals, decisions, the attributes it requires) and also requires ``address`` and
    ``strategy``."""

    address: str
    strategy: MACross | NakedPut | None

    @property
    def put_strategy(self) -> NakedPut | None:
        """The VA's strategy when it sells puts."""
        return self.strategy if isinstance(self.strategy, NakedPut) else None

    def _init_options(self) -> None:
        self.candidate: PutChoice | None = None
        self._candidate_since: datetime | None = None
        self._option_subs: dict[str, Contract] = {}
        self._contracts: dict[str, Contract] = {}
        self._assigned: set[str] = set()
        self._exit_reasons: dict[str, str] = {}
        self._replacing: dict[str, ExitRequest] = {}
        self._last_put_note = ""

    # -- quotes ------------------------------------------------------------------------------
    def _options_on_quotes(self, quotes: list[Quote], now: datetime) -> None:
        by_key = {q.contract.key: q for q in quotes}
        self._close_assigned(by_key, now)
        strategy = self.put_strategy
        if strategy is None:
            return
        if self.candidate is not None:
            self._candidate_quote(by_key, now)
            return
        for symbol in self.account.universe:
            quote = by_key.get(symbol)
            if quote is None or not strategy.scan_due(now):
                continue
            if self._scan(strategy, symbol, quote, now):
                break

    def _scan(self, strategy: NakedPut, symbol: str, spot_quote: Quote, now: datetime) -> bool:
        """Ask for the chain and pick a put when the VA may enter; True once one is picked."""
        stock = Contract.stock(symbol)
        cfg = self.ctx.config.filters
        allowed = self._entry_allowed(stock, now)
        if allowed:
            allowed = filters.check_trading_window(
                now, self.ctx.calendar, cfg.open_margin_min, cfg.close_margin_min
            )
        if not allowed:
            return False
        strategy.wait(now)
        today = self.ctx.calendar.local(now).date()
        low, high = strategy.expiry_window(today)
        chain = self.ctx.broker.option_chain(symbol, right="P", min_expiry=low, max_expiry=high)
        choice = strategy.choose(
            chain,
            spot=option_mid(spot_quote),
            today=today,
            capital=self.vabook.capital,
            equity=self.vabook.equity,
        )
        if isinstance(choice, str):
            if choice != self._last_put_note:
                self._last_put_note = choice
                self._note(f"naked_put {symbol}: {choice}")
            return False
        self.candidate = choice
        # The chain read may block for a while (IB paces its requests): the candidate's quote
        # timeout starts once it is picked, not at the quote that triggered the scan.
        self._candidate_since = self.ctx.clock.now()
        self._contracts[choice.quote.contract.key] = choice.quote.contract
        self._sync_option_subscriptions()
        return True

    def _entry_allowed(self, contract: Contract, now: datetime) -> Decision:
        if self.trading_state is TradingState.HALTED:
            return reject("trading_state", "HALTED")
        return check_entry(self.vabook, contract, self.limits, now)

    def _candidate_quote(self, by_key: dict[str, Quote], now: datetime) -> None:
        choice = self.candidate
        assert choice is not None
        contract = choice.quote.contract
        quote = by_key.get(contract.key)
        if quote is None:
            since = self._candidate_since or now
            if (now - since).total_seconds() >= CANDIDATE_TIMEOUT_S:
                self._note(f"naked_put: no quote for {contract.key}; dropped")
                self._drop_candidate()
            return
        self._drop_candidate(keep_subscription=True)
        signal_id = self.ctx.new_id(self.va_id)
        allowed = self._entry_allowed(contract, now)
        if not allowed:
            self._journal_refusal(signal_id, contract, allowed, now)
            self._sync_option_subscriptions()
            return
        self._submit_entry(signal_id, choice, quote, now)

    def _submit_entry(self, signal_id: str, choice: PutChoice, quote: Quote, now: datetime) -> None:
        spec = self.account.strategy
        assert isinstance(spec, NakedPutStrategy)
        contract = quote.contract
        plan = RepricePlan(
            interval_s=spec.reprice_interval_s,
            steps=spec.reprice_steps,
            max_reprices=spec.reprice_steps,
        )
        limit = repriced_limit(
            side=Side.SELL,
            bid=quote.bid,
            ask=quote.ask,
            step=0,
            steps=spec.reprice_steps,
            tick=self.ctx.broker.tick_rule(contract),
        )
        delta = quote.delta if quote.delta is not None else choice.delta
        proposal = OrderProposal(
            proposal_id=signal_id,
            va_id=self.va_id,
            contract=contract,
            side=Side.SELL,
            quantity=choice.contracts,
            order_type=OrderType.LMT,
            purpose=Purpose.ENTRY,
            reason=f"naked_put delta {delta:.2f} {choice.dte}DTE credit {option_mid(quote):.2f}"
            + (" [delayed data]" if quote.data_type.is_delayed else ""),
            time=now,
            ref_price=limit,
            limit_price=limit,
            sector=self.ctx.config.sector_of(contract.symbol),
            reprice=plan,
            delta=delta,
            dte=choice.dte,
        )
        self.vabook.working_entries[proposal.proposal_id] = contract.key
        self._last_put_note = ""
        self.tell("governor", proposal)

    def _journal_refusal(
        self, signal_id: str, contract: Contract, decision: Decision, now: datetime
    ) -> None:
        signal = Signal(signal_id, self.va_id, contract, Side.SELL, now, "naked_put")
        self._note(f"SELL {contract.key}: {decision.rule} {decision.detail}")
        self.tell(
            "journal",
            SignalDecision(signal, False, "va", decision.rule, decision.detail, now),
        )

    def _drop_candidate(self, *, keep_subscription: bool = False) -> None:
        self.candidate = None
        self._candidate_since = None
        if not keep_subscription:
            self._sync_option_subscriptions()

    def _put_rejected(self, now: datetime, *, refused: bool = True) -> None:
        """An entry ended with nothing sold: wait a scan interval before the next scan, or
        ``retry_after_reject_s`` when a rule ``refused`` it."""
        spec = self.account.strategy
        if self.put_strategy is not None and isinstance(spec, NakedPutStrategy):
            self.put_strategy.wait(now, spec.retry_after_reject_s if refused else None)
        self._sync_option_subscriptions()

    # -- subscriptions -----------------------------------------------------------------------
    def _sync_option_subscriptions(self) -> None:
        """Subscribe (at the broker and in the QuoteBook) to exactly the options this VA holds,
        has working orders in, or is about to trade."""
        wanted: dict[str, Contract] = {
            key: h.contract for key, h in self.vabook.holdings.items() if h.contract.is_option
        }
        working = {*self.vabook.working_entries.values(), *self.vabook.working_exits.values()}
        for key in working:
            contract = self._contracts.get(key)
            if contract is not None and contract.is_option:
                wanted.setdefault(key, contract)
        if self.candidate is not None:
            contract = self.candidate.quote.contract
            wanted.setdefault(contract.key, contract)
        for key in [k for k in self._option_subs if k not in wanted]:
            contract = self._option_subs.pop(key)
            self.ctx.quotes.unsubscribe(self.address, key)
            self.ctx.broker.unsubscribe_quotes([contract])
        for key, contract in wanted.items():
            if key in self._option_subs:
                continue
            try:
                self.ctx.broker.subscribe_quotes([contract])
            except ValueError as exc:  # expired or not listed: nothing to quote
                logger.debug("{}: no quotes for {}: {}", self.address, key, exc)
                continue
            self._option_subs[key] = contract
            self.ctx.quotes.subscribe(self.address, key)

    def _release_option_subscriptions(self) -> None:
        for key, contract in self._option_subs.items():
            self.ctx.quotes.unsubscribe(self.address, key)
            self.ctx.broker.unsubscribe_quotes([contract])
        self._option_subs.clear()

    # -- assignment --------------------------------------------------------------------------
    def _options_on_fill(self, fill: Fill) -> None:
        """Remember stock delivered by an assignment, to close it at the next quote of an open
        market (while the gate lets exits pass)."""
        spec = self.account.strategy
        if (
            fill.purpose is Purpose.ASSIGNMENT
            and not fill.contract.is_option
            and isinstance(spec, NakedPutStrategy)
            and spec.on_assignment == "close"
        ):
            self._assigned.add(fill.contract.key)
        if self.vabook.position(fill.contract.key) == 0:
            self._assigned.discard(fill.contract.key)
        self._sync_option_subscriptions()

    def _close_assigned(self, by_key: dict[str, Quote], now: datetime) -> None:
        if not self.ctx.gate.allows(reduce_only=True):
            return  # disconnected or halted: kept for a quote once exits may pass again
        for key in sorted(self._assigned):
            quote = by_key.get(key)
            if quote is None or not self.ctx.calendar.is_open(quote.time):
                continue
            if self.vabook.position(key) == 0:
                self._assigned.discard(key)
                continue
            proposal = self._exit_proposal(
                quote.contract,
                "assignment",
                now,
                self.ctx.new_id(self.va_id),
                OrderType.MKT,
                None,
            )
            if isinstance(proposal, Decision):
                continue  # an exit is already working; try again on a later quote
            self._assigned.discard(key)
            self.vabook.working_exits[proposal.proposal_id] = key
            self._exit_reasons[proposal.proposal_id] = "assignment"
            self.tell("governor", proposal)

    def _recover_assigned(self, assigned_keys: set[str]) -> None:
        spec = self.account.strategy
        if isinstance(spec, NakedPutStrategy) and spec.on_assignment == "close":
            self._assigned = {key for key in assigned_keys if self.vabook.position(key) != 0}

    # -- exits -------------------------------------------------------------------------------
    def _replace_exit(self, request: ExitRequest) -> bool:
        """For an option: if a less urgent exit is working, cancel it and send ``request``
        once the cancel is confirmed. True when the request is taken care of here."""
        key = request.contract.key
        if not request.contract.is_option:
            return False
        if key in self._replacing:
            self._replacing[key] = request
            return True
        urgency = EXIT_URGENCY.get(request.reason, 0)
        for order_id, order_key in self.vabook.working_exits.items():
            if order_key != key:
                continue
            if EXIT_URGENCY.get(self._exit_reasons.get(order_id, ""), 0) >= urgency:
                return False  # the working exit is as urgent: the usual dedupe applies
            self._replacing[key] = request
            self.tell("order_manager", CancelOrder(order_id, self.va_id, request.reason))
            self._note(f"replacing exit {order_id} of {key} by {request.reason}")
            return True
        return False

    def _exit_finished(self, order_id: str, contract_key: str) -> None:
        """A working exit ended: send the request that was waiting to replace it. An
        assignment's close that ended (refused, or unfilled at the broker) with stock still held
        is tried again at the next quote: that stock has no protective stop."""
        reason = self._exit_reasons.pop(order_id, None)
        if reason == "assignment" and self.vabook.position(contract_key) != 0:
            self._assigned.add(contract_key)
        request = self._replacing.pop(contract_key, None)
        if request is not None and contract_key not in self.vabook.working_exits.values():
            self._on_exit_request(request)
