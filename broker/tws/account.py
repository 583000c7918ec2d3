"""The simulated TWS account as clients see it: positions (stocks and options, keyed by
contract), average costs, realized P&L, the account values of ``reqAccountUpdates`` /
``reqAccountSummary``, and what-if margins.

Threads: event-loop thread only. ``AccountBook`` keeps its own ``SimAccount`` fed with exactly
the executions (and expiry settlements) already reported to clients, in the same order, so
positions and values pushed after an ``execDetails`` always agree with the fills a client has
seen (the simulator's own account may already be ahead by fills still queued for delivery).
Values come from ``SimAccount.snapshot``: net liquidation = cash + signed market value at the
marks (quote mids; an option's times its multiplier); maintenance margin = the configured
percentages of stock value plus Reg-T for short options; initial margin = ``init_margin_pct``
of stock value (Regulation T's 50 %, 12 CFR 220.12) plus the same Reg-T for short options.
AvailableFunds = equity with loan value less initial margin, ExcessLiquidity = equity with loan
value less maintenance margin, as IB defines them; buying power is four times available funds.
As IB does, an option's average cost is reported per contract (price x multiplier) and its
market price per share.

What-if orders are answered with the initial and maintenance margin changes of the order at the
marks. For a short option the change is IB's rule for an uncovered option in a Reg-T account
(IBKR "Options Margin Requirements", US options, short put: put price x 100 + max(20 % of the
underlying - the out-of-the-money amount, 10 % of the strike) x 100; short call: the same with
10 % of the underlying), the formula of ``core.rules.margin``, for initial and maintenance
alike; a stock's initial change is ``init_margin_pct`` of its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from loguru import logger

from broker.sim.account import SimAccount, cumulative_commission
from broker.sim.market import to_cents
from broker.tws.account_values import account_value_rows, money_text, summary_rows
from broker.tws.contracts import Instrument, InstrumentRegistry
from broker.tws.order_codec import MarginState
from broker.tws.state_codec import BookState
from core.domain import Contract, Quote, Side
from core.events import AssignmentEvent, ExpiryEvent
from core.rules.margin import option_position_margin, positions_margin

__all__ = ["AccountBook", "PortfolioLine"]

_CENT = Decimal("0.01")
_BUYING_POWER_FACTOR = 4
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PortfolioLine:
    """One ``updatePortfolio`` row (``avg_cost`` per contract for an option, as IB sends it)."""

    instrument: Instrument
    quantity: int
    market_price: Decimal
    market_value: Decimal
    avg_cost: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal


class AccountBook:
    """Positions, cash and P&L of the one simulated account (event-loop thread only).

    Positions, marks and realized P&L are keyed by the simulator's contract key (a stock's key
    is its symbol; an option's names expiry, right and strike).

    Args:
        account_id: the account code reported everywhere (e.g. ``DU1234567``).
        registry: the stocks by symbol.
        reference_prices: each symbol's mark before its first quote.
        starting_cash / maint_margin_long_pct / maint_margin_short_pct: as the simulator's.
        init_margin_pct: initial margin on stock positions, percent of value.
        commission_per_share / commission_min: stock what-if commission estimates.
        commission_per_contract / option_commission_min: option what-if estimates.
    """

    def __init__(
        self,
        *,
        account_id: str,
        registry: InstrumentRegistry,
        reference_prices: Mapping[str, Decimal],
        starting_cash: Decimal,
        maint_margin_long_pct: float,
        maint_margin_short_pct: float,
        commission_per_share: Decimal,
        init_margin_pct: float = 50.0,
        commission_min: Decimal,
        commission_per_contract: Decimal = Decimal("0.65"),
        option_commission_min: Decimal = Decimal("1.00"),
    ) -> None:
        self.account_id = account_id
        self._registry = registry
        self._ledger = SimAccount(
            starting_cash=starting_cash,
            maint_margin_long_pct=maint_margin_long_pct,
            maint_margin_short_pct=maint_margin_short_pct,
        )
        self._long_rate = Decimal(str(maint_margin_long_pct)) / 100
        self._short_rate = Decimal(str(maint_margin_short_pct)) / 100
        self._init_rate = Decimal(str(init_margin_pct)) / 100
        self._per_share = commission_per_share
        self._commission_min = commission_min
        self._per_contract = commission_per_contract
        self._option_min = option_commission_min
        self._marks = {inst.symbol: reference_prices[inst.symbol] for inst in registry}
        self._instruments: dict[str, Instrument] = {inst.symbol: inst for inst in registry}
        self._realized: dict[str, Decimal] = {}
        self._day: date | None = None
        self._day_start_net_liq: Decimal | None = None
        self._day_start_realized = Decimal(0)

    # -- changes -------------------------------------------------------------------------------
    def on_quote(self, quote: Quote, trading_day: date) -> None:
        """Mark the stock at the quote's mid; the first quote of a new day starts its P&L."""
        self._marks[quote.contract.key] = (to_cents(quote.bid) + to_cents(quote.ask)) / 2
        if trading_day != self._day:
            self._day = trading_day
            self._day_start_net_liq = None
            self._day_start_realized = self.total_realized()
        if self._day_start_net_liq is None:
            self._day_start_net_liq = self._net_liq(quote.time)

    def on_option_quote(self, quote: Quote) -> None:
        """Mark an option the account holds (or held) at the quote's mid."""
        key = quote.contract.key
        if key in self._instruments:
            self._marks[key] = (to_cents(quote.bid) + to_cents(quote.ask)) / 2

    def apply_fill(
        self, instrument: Instrument, side: Side, quantity: int, price: Decimal, commission: Decimal
    ) -> Decimal | None:
        """Book one execution; return its realized P&L (None for an opening fill): the closed
        shares or contracts times the move from the average cost (times the multiplier), less
        this execution's commission."""
        contract = instrument.contract()
        key = contract.key
        self._instruments.setdefault(key, instrument)
        self._marks.setdefault(key, price)
        held, avg = self.position(key)
        realized: Decimal | None = None
        if held != 0 and (held > 0) != (side is Side.BUY):
            closed = min(quantity, abs(held))
            direction = 1 if held > 0 else -1
            move = closed * (price - avg) * direction * contract.multiplier
            realized = (move - commission).quantize(_CENT)
            self._realized[key] = self._realized.get(key, _ZERO) + realized
        self._ledger.apply_fill(contract, side, quantity, price, commission)
        return realized

    def settle(self, event: ExpiryEvent | AssignmentEvent) -> list[Instrument]:
        """Book an expiry or assignment as the simulator settled it: the option leaves at no
        cash; an assignment delivers the stock at the strike, with no commission. Returns the
        instruments whose positions changed, option first (none for an unknown option)."""
        option = self._instruments.get(event.contract.key)
        held, _ = self.position(event.contract.key)
        if option is None or held == 0:
            logger.warning("tws-sim: settlement of {} not held here", event.contract.key)
            return []
        closing = Side.BUY if held < 0 else Side.SELL
        self.apply_fill(option, closing, abs(held), _ZERO, _ZERO)
        self._marks[event.contract.key] = _ZERO
        if not isinstance(event, AssignmentEvent) or event.stock_quantity == 0:
            return [option]
        stock = self._registry.by_symbol(event.stock.symbol)
        side = Side.BUY if event.stock_quantity > 0 else Side.SELL
        self.apply_fill(stock, side, abs(event.stock_quantity), event.price, _ZERO)
        return [option, stock]

    # -- state across restarts (``broker.tws.state``) -------------------------------------------
    def export_state(self) -> BookState:
        """The account to save: what ``import_state`` takes back after a restart."""
        return BookState(
            cash=self._ledger.cash,
            holdings=tuple(self._ledger.holdings()),
            contracts=tuple(i.contract() for i in self._instruments.values()),
            realized=dict(self._realized),
            marks=dict(self._marks),
            day=self._day,
            day_start_net_liq=self._day_start_net_liq,
            day_start_realized=self._day_start_realized,
        )

    def import_state(self, state: BookState, instruments: Iterable[Instrument]) -> None:
        """Take back a saved account (before any client connects); ``instruments`` are the
        running server's instruments of ``state.contracts``."""
        self._ledger.restore(state.cash, state.holdings)
        for instrument in instruments:
            self._instruments.setdefault(instrument.contract().key, instrument)
        self._realized = dict(state.realized)
        self._marks.update(state.marks)
        self._day = state.day
        self._day_start_net_liq = state.day_start_net_liq
        self._day_start_realized = state.day_start_realized

    # -- reads ---------------------------------------------------------------------------------
    def position(self, key: str) -> tuple[int, Decimal]:
        """(signed shares or contracts, average price per share) of the contract with ``key``;
        (0, 0) when flat."""
        for pos in self._ledger.positions():
            if pos.contract.key == key:
                return pos.quantity, pos.avg_cost
        return 0, _ZERO

    def held(self, instrument: Instrument) -> tuple[int, Decimal]:
        """(signed quantity, average cost as IB reports it: per contract for an option)."""
        quantity, avg = self.position(instrument.contract().key)
        return quantity, avg * instrument.multiplier_value

    def positions(self) -> list[tuple[Instrument, int, Decimal]]:
        """Every open position: (instrument, signed quantity, average cost as IB reports it),
        in contract key order."""
        out = []
        for pos in self._ledger.positions():
            instrument = self._instruments[pos.contract.key]
            out.append((instrument, pos.quantity, pos.avg_cost * instrument.multiplier_value))
        return out

    def held_options(self) -> list[Instrument]:
        """Every option position still open."""
        return [i for i, _, _ in self.positions() if i.sec_type == "OPT"]

    def total_realized(self) -> Decimal:
        return sum(self._realized.values(), _ZERO)

    def portfolio_line(self, instrument: Instrument) -> PortfolioLine:
        """The portfolio row of one instrument (quantity 0 once closed)."""
        key = instrument.contract().key
        quantity, avg = self.position(key)
        mark = self._marks.get(key, _ZERO)
        multiplier = instrument.multiplier_value
        value = (quantity * mark * multiplier).quantize(_CENT)
        unrealized = quantity * (mark - avg) * multiplier
        return PortfolioLine(
            instrument=instrument,
            quantity=quantity,
            market_price=mark,
            market_value=value,
            avg_cost=avg * multiplier,
            unrealized_pnl=unrealized.quantize(_CENT) if quantity else _ZERO,
            realized_pnl=self._realized.get(key, _ZERO),
        )

    def portfolio(self) -> list[PortfolioLine]:
        """Rows for every open position and every contract with realized P&L."""
        keys = {p.contract.key for p in self._ledger.positions()} | set(self._realized)
        return [self.portfolio_line(self._instruments[k]) for k in sorted(keys)]

    def unrealized(self) -> Decimal:
        return sum((line.unrealized_pnl for line in self.portfolio()), _ZERO)

    def _net_liq(self, now: datetime) -> Decimal:
        return self._ledger.snapshot(self._marks, now).net_liquidation

    def figures(self, now: datetime) -> dict[str, Decimal]:
        """The account's numbers by IB tag name (dollars)."""
        snap = self._ledger.snapshot(self._marks, now)
        long_value, short_value = self._ledger.market_values(self._marks)
        lines = self.portfolio()
        options = sum((ln.market_value for ln in lines if ln.instrument.sec_type == "OPT"), _ZERO)
        net_liq = snap.net_liquidation
        excess = net_liq - snap.maint_margin
        init = self._initial_margin()
        available = net_liq - init
        day_start = self._day_start_net_liq if self._day_start_net_liq is not None else net_liq
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": snap.cash,
            "SettledCash": snap.cash,
            "CashBalance": snap.cash,
            "TotalCashBalance": snap.cash,
            "AccruedCash": _ZERO,
            "EquityWithLoanValue": net_liq,
            "PreviousDayEquityWithLoanValue": day_start,
            "RegTEquity": net_liq,
            "GrossPositionValue": long_value + short_value,
            "StockMarketValue": long_value - short_value - options,
            "OptionMarketValue": options,
            "NetLiquidationByCurrency": net_liq,
            "InitMarginReq": init,
            "MaintMarginReq": snap.maint_margin,
            "RegTMargin": init,
            "AvailableFunds": available,
            "ExcessLiquidity": excess,
            "SMA": available,
            "BuyingPower": max(available, _ZERO) * _BUYING_POWER_FACTOR,
            "UnrealizedPnL": self.unrealized(),
            "RealizedPnL": self.total_realized(),
            "DailyPnL": net_liq - day_start,
        }

    def _position_margin(
        self, contract: Contract, quantity: int, *, initial: bool, mark: Decimal | None = None
    ) -> Decimal:
        """Margin of a signed position at ``mark`` (default: the contract's mark): Reg-T for a
        short option (initial and maintenance alike), a percentage of a stock's value
        (``init_margin_pct`` initial; the maintenance percentages otherwise)."""
        price = self._marks.get(contract.key, _ZERO) if mark is None else mark
        if contract.is_option:
            underlying = self._marks[contract.symbol]
            return option_position_margin(contract, quantity, underlying=underlying, premium=price)
        maint_rate = self._long_rate if quantity > 0 else self._short_rate
        return abs(quantity) * price * (self._init_rate if initial else maint_rate)

    def _initial_margin(self) -> Decimal:
        held = [(pos.contract, pos.quantity) for pos in self._ledger.positions()]
        return self._margin_of(held, initial=True).quantize(_CENT)

    def _margin_of(
        self,
        positions: Iterable[tuple[Contract, int]],
        *,
        initial: bool,
        marks: dict[str, Decimal] | None = None,
    ) -> Decimal:
        """Margin of ``positions`` together: a short call covered by shares among them needs
        none (``core.rules.margin.positions_margin``); ``marks`` override the contracts'."""
        override = marks or {}

        def mark(contract: Contract) -> Decimal:
            return override.get(contract.key, self._marks.get(contract.key, _ZERO))

        return positions_margin(
            positions,
            stock_margin=lambda contract, quantity: self._position_margin(
                contract, quantity, initial=initial, mark=mark(contract)
            ),
            option_prices=lambda contract: (self._marks[contract.symbol], mark(contract)),
        )

    def account_values(self, now: datetime) -> list[tuple[str, str, str]]:
        """``updateAccountValue`` rows: (key, value, currency)."""
        return account_value_rows(self.figures(now), self.account_id)

    def summary(self, tags: Iterable[str], now: datetime) -> list[tuple[str, str, str]]:
        """``accountSummary`` rows (tag, value, currency) for the requested tags."""
        return summary_rows(self.figures(now), tags)

    def pnl(self, now: datetime) -> tuple[Decimal, Decimal, Decimal]:
        """(daily, unrealized, realized) P&L for ``reqPnL``; daily = net liquidation change
        since the trading day's first quote, realized = realized since then."""
        f = self.figures(now)
        realized_today = self.total_realized() - self._day_start_realized
        return f["DailyPnL"], f["UnrealizedPnL"], realized_today

    def what_if(
        self,
        instrument: Instrument,
        side: Side,
        quantity: int,
        price: Decimal | None,
        now: datetime,
    ) -> MarginState:
        """Margin before/after filling ``quantity`` at ``price`` (the mark when None) and the
        commission estimate, as the strings of a what-if ``openOrder``."""
        f = self.figures(now)
        contract = instrument.contract()
        held, _ = self.position(contract.key)
        after = held + side.sign * quantity
        mark = self._marks.get(contract.key, price if price is not None else _ZERO)
        price = mark if price is None else price

        # The positions in the contract's symbol before and after: a call written on shares
        # held is covered, and selling the shares under a call makes it naked.
        before_positions = {
            pos.contract.key: (pos.contract, pos.quantity)
            for pos in self._ledger.positions()
            if pos.contract.symbol == contract.symbol
        }
        after_positions = dict(before_positions)
        after_positions[contract.key] = (contract, after)
        priced = {contract.key: mark}

        def margin(positions: dict[str, tuple[Contract, int]], *, initial: bool) -> Decimal:
            return self._margin_of(positions.values(), initial=initial, marks=priced)

        change = (
            margin(after_positions, initial=False) - margin(before_positions, initial=False)
        ).quantize(_CENT)
        init_change = (
            margin(after_positions, initial=True) - margin(before_positions, initial=True)
        ).quantize(_CENT)
        before = f["MaintMarginReq"]
        init_before = f["InitMarginReq"]
        if contract.is_option:
            per, minimum = self._per_contract, self._option_min
        else:
            per, minimum = self._per_share, self._commission_min
        commission = cumulative_commission(quantity, per_share=per, minimum=minimum)
        equity = f["EquityWithLoanValue"]
        equity_change = -commission - quantity * abs(price - mark) * contract.multiplier
        return MarginState(
            init_before=money_text(init_before),
            maint_before=money_text(before),
            equity_before=money_text(equity),
            init_change=money_text(init_change),
            maint_change=money_text(change),
            equity_change=money_text(equity_change),
            init_after=money_text(init_before + init_change),
            maint_after=money_text(before + change),
            equity_after=money_text(equity + equity_change),
            commission=format(commission, "f"),
            commission_currency="USD",
        )
