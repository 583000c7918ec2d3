"""A VirtualAccount's rolls: a short option it holds is moved to a later expiry as one combo
order (BUY the held option, SELL the new one) for a net credit (``core.rules.rolls``).

Flow: on each quote of a short option it holds, when the strategy's ``roll_settings`` say a roll
is due (``roll_due``: ``roll_at_dte`` or ``roll_at_profit_pct``, fewer than ``max_rolls`` rolls
in the position's chain, read from the ledger's ``rolled_from`` links) the VA reads the chain of
the roll window on its ``ChainReader`` (negative scan ids: the entries' scans are positive),
picks the new option (``select_roll``) and proposes the combo to the governor: purpose ``exit``,
``rolled_from`` the order that opened the held position, a net limit at the net mid that the
OrderManager walks toward the natural price by the entries' plan, never below the minimum
credit, and cancels when the plan ends. While a roll is read or works, the PositionMonitor's
time and profit exits of that option wait (its stop cancels the roll and closes).

A roll that cannot get its minimum credit (no option in the window, a mid short of it, refused
by the governor or the OrderManager, or cancelled unfilled at the end of its plan) falls back to
the ordinary exit: a buy to close, limit at the mid re-priced as the monitor's time exit, with
``roll failed: <why>`` recorded with the exit. That option is not tried again.

``OptionRolls`` is a part of ``VirtualAccount``: every method runs on the VA's actor thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from actors.messages.commands import ExitRequest, OrderProposal
from actors.messages.events import ChainScanned
from actors.runtime.context import EngineContext
from actors.virtual_account.chain_reader import ChainReader
from actors.virtual_account.exits import ExitProposals, exact_mid
from actors.virtual_account.option_quotes import OptionQuotes
from actors.virtual_account.state import DecisionLog, Tell, VAState
from core.domain import ComboLeg, Contract, OrderType, Purpose, Quote, Side, TradingState
from core.rules import filters
from core.rules.combos import net_quote
from core.rules.greeks import days_to_expiry
from core.rules.repricing import RepricePlan, repriced_limit
from core.rules.rolls import (
    RollSettings,
    roll_chain,
    roll_due,
    roll_legs,
    roll_limit,
    roll_window,
    select_roll,
)
from core.strategies.protocol import ChainRequest
from db.records import OrderRecord

__all__ = ["OptionRolls"]

#: Exits a roll under way stands for (a stop is more urgent: it cancels the roll).
_ROLL_REASONS = ("time", "profit_target")


@dataclass(frozen=True, slots=True)
class _Roll:
    """A roll under way: the option held, why it is rolled, and its chain so far."""

    held: Contract
    reason: str
    opened_by: str  # the order that opened the held position
    rolls_so_far: int
    today: date
    scan_id: int = 0


class OptionRolls:
    """Roll decisions, their chain reads and combo orders, and their fallback exits."""

    def __init__(
        self,
        *,
        ctx: EngineContext,
        state: VAState,
        log: DecisionLog,
        tell: Tell,
        exits: ExitProposals,
        quotes: OptionQuotes,
        chains: ChainReader,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.log = log
        self.tell = tell
        self.exits = exits
        self.quotes = quotes
        self.chains = chains
        self._reads: dict[int, _Roll] = {}  # chain reads under way, by (negative) scan id
        self._orders: dict[str, _Roll] = {}  # working roll orders, by order id
        self._done: set[str] = set()  # option keys rolled or fallen back: not tried again
        self._scans = 0

    def settings(self) -> RollSettings | None:
        return self.state.account.strategy.roll_settings()

    def busy(self, key: str) -> bool:
        """A roll of option ``key`` is being read or works."""
        return any(r.held.key == key for r in (*self._reads.values(), *self._orders.values()))

    def held_key(self, order_id: str) -> str | None:
        """The option a working roll order closes (None: not a roll)."""
        roll = self._orders.get(order_id)
        return roll.held.key if roll else None

    def stands_for(self, request: ExitRequest) -> bool:
        """True when a roll under way stands for the monitor's ``request`` (a time or profit
        exit of the option it rolls): the roll closes the position, or falls back to exiting."""
        return request.reason in _ROLL_REASONS and self.busy(request.contract.key)

    def recover(self, orders: Iterable[OrderRecord]) -> None:
        """After a restart (the book just replayed): a working roll counts again as the working
        exit of the option it rolls (the option the order it rolled from sold), so that no
        second roll or exit of it goes out and its end still falls back. Runs in ``recover``."""
        working = [o for o in orders if o.rolled_from and o.status.is_working]
        if not working:
            return
        sold = {
            e.order_id: e.contract_key
            for e in self.ctx.ledger.executions(va_id=self.state.va_id)
            if e.side is Side.SELL
        }
        book = self.state.vabook
        for order in working:
            key = sold.get(order.rolled_from or "")
            holding = book.holdings.get(key or "")
            if key is None or holding is None:
                continue
            book.working_exits[order.id] = key
            today = self.ctx.calendar.local(self.ctx.clock.now()).date()
            reason = order.reason.removeprefix("roll ") or "time"
            self.exits.reasons[order.id] = reason
            self._orders[order.id] = _Roll(
                holding.contract, reason, order.rolled_from or "", 0, today
            )

    # -- the decision ------------------------------------------------------------------------
    def on_quotes(self, by_key: dict[str, Quote], now: datetime) -> None:
        settings = self.settings()
        if settings is None or self._reads or not self._may_roll(now):
            return
        book = self.state.vabook
        for key, holding in list(book.holdings.items()):
            quote = by_key.get(key)
            contract = holding.contract
            if quote is None or not contract.is_option or contract.expiry is None:
                continue
            if key in self._done or self.busy(key) or key in book.working_exits.values():
                continue
            today = self.ctx.calendar.local(now).date()
            due = {
                "quantity": holding.quantity,
                "credit": holding.avg_price,
                "mark": exact_mid(quote),
                "dte": days_to_expiry(contract.expiry, today),
            }
            if roll_due(settings, rolls_so_far=0, **due) is None:  # type: ignore[arg-type]
                continue
            opened_by, rolls_so_far = self._chain_of(key)
            reason = roll_due(settings, rolls_so_far=rolls_so_far, **due)  # type: ignore[arg-type]
            if reason is None:  # the chain has had its rolls: the ordinary exits apply
                self._done.add(key)
                continue
            self._start(settings, _Roll(contract, reason, opened_by, rolls_so_far, today), today)
            return

    def _may_roll(self, now: datetime) -> bool:
        """A roll opens a position: not while the VA is paused or halted (its ordinary exits
        apply then), and only inside the entries' trading window (waiting for it, not falling
        back, near the open and the close)."""
        va = self.state
        if va.vabook.paused_reason or va.trading_state is TradingState.HALTED:
            return False
        cfg = self.ctx.config.filters
        return bool(
            filters.check_trading_window(
                now, self.ctx.calendar, cfg.open_margin_min, cfg.close_margin_min
            )
        )

    def _chain_of(self, key: str) -> tuple[str, int]:
        """The order that opened the position in ``key`` and the rolls of its chain."""
        ledger = self.ctx.ledger
        opened_by = ""
        for execution in ledger.executions(va_id=self.state.va_id):
            if execution.contract_key == key and execution.side is Side.SELL:
                opened_by = execution.order_id
        links = {o.id: o.rolled_from for o in ledger.orders(va_id=self.state.va_id)}
        return opened_by, len(roll_chain(opened_by, links)) - 1 if opened_by else 0

    def _start(self, settings: RollSettings, roll: _Roll, today: date) -> None:
        self._scans -= 1
        low, high = roll_window(settings, today)
        held = roll.held
        assert held.right is not None
        request = ChainRequest(held.symbol, held.right, low, high)
        if self.chains.read(self._scans, request):
            self._reads[self._scans] = _Roll(
                held, roll.reason, roll.opened_by, roll.rolls_so_far, today, self._scans
            )
            self.log.note(f"roll {roll.reason} {held.key}: reading the chain {low}..{high}")

    # -- the chain ---------------------------------------------------------------------------
    def owns(self, scan_id: int) -> bool:
        return scan_id < 0

    def on_chain(self, result: ChainScanned) -> None:
        roll = self._reads.pop(result.scan_id, None)
        if roll is None:
            return
        settings = self.settings()
        book = self.state.vabook
        position = book.position(roll.held.key)
        if settings is None or position >= 0 or roll.held.key in book.working_exits.values():
            return  # rolls turned off, the position closed, or a stop closing it meanwhile
        if result.error:
            self._fall_back(roll, f"chain read failed: {result.error}")
            return
        picked = select_roll(result.chain, roll.held, settings, roll.today)
        if isinstance(picked, str):
            self._fall_back(roll, picked)
            return
        held_quote = self.ctx.quotes.latest(roll.held.key)
        legs = roll_legs(roll.held, picked.contract)
        quotes = {roll.held.key: held_quote, picked.contract.key: picked}
        net = net_quote(legs, lambda leg: quotes.get(leg.contract.key))
        if net is None:
            self._fall_back(roll, f"no two-sided quote for {roll.held.key}")
            return
        limit = roll_limit(settings, bid=net[0], ask=net[1])
        if isinstance(limit, str):
            self._fall_back(roll, limit)
            return
        self._propose(roll, settings, legs, picked, limit, abs(position))

    def _propose(
        self,
        roll: _Roll,
        settings: RollSettings,
        legs: tuple[ComboLeg, ComboLeg],
        new: Quote,
        limit: Decimal,
        quantity: int,
    ) -> None:
        now = self.ctx.clock.now()
        contract = new.contract
        assert contract.expiry is not None
        dte = days_to_expiry(contract.expiry, roll.today)
        steps = settings.reprice_steps
        proposal = OrderProposal(
            proposal_id=self.ctx.new_id(self.state.va_id),
            va_id=self.state.va_id,
            contract=Contract.combo(roll.held.symbol),
            side=Side.BUY,
            quantity=quantity,
            order_type=OrderType.LMT,
            purpose=Purpose.EXIT,
            reason=f"roll {roll.reason}",  # the closed trade's exit reason: "roll time"
            note=f"{roll.held.key} -> {contract.key} net {limit:.2f} "
            f"(min credit {settings.min_credit}), roll {roll.rolls_so_far + 1} of its chain",
            time=now,
            ref_price=exact_mid(new),
            limit_price=limit,
            sector=self.ctx.config.sector_of(contract.symbol),
            reprice=RepricePlan(
                interval_s=settings.reprice_interval_s,
                steps=steps,
                max_reprices=steps,
                bound=settings.bound,
                cancel_when_done=True,
            ),
            delta=new.delta,
            dte=dte,
            theta=new.theta,
            vega=new.vega,
            legs=legs,
            rolled_from=roll.opened_by or "-",
        )
        self._orders[proposal.proposal_id] = roll
        self.state.rolling[proposal.proposal_id] = contract
        self.state.contracts[contract.key] = contract
        self.quotes.sync()
        self.exits.send(proposal, roll.reason)  # counted as the held option's working exit
        self.state.vabook.working_exits[proposal.proposal_id] = roll.held.key

    # -- the end of a roll -------------------------------------------------------------------
    def ended(self, order_id: str, why: str) -> None:
        """A roll order ended (filled, cancelled, refused): if the held option is still held,
        close it by the ordinary exit, unless a more urgent exit is waiting to replace it."""
        roll = self._orders.pop(order_id, None)
        if roll is None:
            return
        self.state.rolling.pop(order_id, None)
        self._done.add(roll.held.key)
        if self.state.vabook.position(roll.held.key) == 0:
            self.log.note(f"rolled {roll.held.key} ({roll.reason})")
            return
        if roll.held.key in self.exits.replacing:
            return  # a stop cancelled it: the stop closes the position
        self._fall_back(roll, why, ended=order_id)

    def _fall_back(self, roll: _Roll, why: str, *, ended: str = "") -> None:
        """Close the held option by the ordinary exit, with why the roll failed."""
        self._done.add(roll.held.key)
        self.log.note(f"roll {roll.reason} {roll.held.key} failed: {why}; closing instead")
        if ended:  # the roll's own working-exit entry goes first (the exit would be deduped)
            self.state.vabook.working_exits.pop(ended, None)
            self.exits.reasons.pop(ended, None)
        quote = self.ctx.quotes.latest(roll.held.key)
        cfg = self.ctx.config.exits.options
        plan = RepricePlan(interval_s=cfg.limit_reprice_s, steps=cfg.limit_reprice_steps)
        limit = None
        if quote is not None and quote.bid > 0 and quote.ask > 0:
            limit = repriced_limit(
                side=Side.BUY,
                bid=quote.bid,
                ask=quote.ask,
                step=0,
                steps=plan.steps,
                tick=self.ctx.broker.tick_rule(roll.held),
            )
        request = ExitRequest(
            self.state.va_id,
            roll.held,
            roll.reason,
            self.ctx.clock.now(),
            OrderType.LMT if limit is not None else OrderType.MKT,
            limit,
            plan if limit is not None else None,
            note=f"roll failed: {why}",
        )
        self.exits.on_exit_request(request)
