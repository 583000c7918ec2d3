"""The simulated TWS account as clients see it: positions, average costs, realized P&L, the
account values of ``reqAccountUpdates``/``reqAccountSummary``, and what-if margins.

Threads: event-loop thread only. ``AccountBook`` keeps its own ``SimAccount`` fed with exactly
the executions already reported to clients, in the same order, so positions and values pushed
after an ``execDetails`` always agree with the fills a client has seen (the simulator's own
account may already be ahead by fills still queued for delivery). Values come from
``SimAccount.snapshot``: net liquidation = cash + signed market value at the marks (quote mids);
maintenance margin = the configured percentages of long and short value. Initial margin is
reported equal to maintenance margin; buying power is four times available funds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from broker.base import Contract, Quote, Side
from broker.sim.account import SimAccount, cumulative_commission
from broker.sim.market import to_cents
from broker.tws.contracts import Instrument, InstrumentRegistry
from broker.tws.order_codec import MarginState

__all__ = ["AccountBook", "PortfolioLine", "ledger_tags"]

_CENT = Decimal("0.01")
_BUYING_POWER_FACTOR = 4
_LEDGER_TAGS = (
    "CashBalance",
    "TotalCashBalance",
    "AccruedCash",
    "StockMarketValue",
    "NetLiquidationByCurrency",
    "UnrealizedPnL",
    "RealizedPnL",
    "ExchangeRate",
)


def ledger_tags(tag: str) -> tuple[str, ...]:
    """The currencies a ``$LEDGER`` summary tag asks for (empty for an ordinary tag)."""
    if tag == "$LEDGER":
        return ("BASE",)
    if tag == "$LEDGER:ALL":
        return ("BASE", "USD")
    if tag.startswith("$LEDGER:"):
        return (tag.split(":", 1)[1],)
    return ()


@dataclass(frozen=True, slots=True)
class PortfolioLine:
    """One ``updatePortfolio`` row."""

    instrument: Instrument
    quantity: int
    market_price: Decimal
    market_value: Decimal
    avg_cost: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal


def _money(value: Decimal) -> str:
    return format(value.quantize(_CENT), "f")


class AccountBook:
    """Positions, cash and P&L of the one simulated account (event-loop thread only).

    Args:
        account_id: the account code reported everywhere (e.g. ``DU1234567``).
        registry: instruments by symbol.
        reference_prices: each symbol's mark before its first quote.
        starting_cash / maint_margin_long_pct / maint_margin_short_pct: as the simulator's.
        commission_per_share / commission_min: for what-if commission estimates.
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
        commission_min: Decimal,
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
        self._per_share = commission_per_share
        self._commission_min = commission_min
        self._marks = {inst.symbol: reference_prices[inst.symbol] for inst in registry}
        self._realized: dict[str, Decimal] = {}
        self._day: date | None = None
        self._day_start_net_liq: Decimal | None = None
        self._day_start_realized = Decimal(0)

    # -- changes -------------------------------------------------------------------------------
    def on_quote(self, quote: Quote, trading_day: date) -> None:
        """Mark the symbol at the quote's mid; the first quote of a new day starts its P&L."""
        self._marks[quote.contract.symbol] = (to_cents(quote.bid) + to_cents(quote.ask)) / 2
        if trading_day != self._day:
            self._day = trading_day
            self._day_start_net_liq = None
            self._day_start_realized = self.total_realized()
        if self._day_start_net_liq is None:
            self._day_start_net_liq = self._net_liq(quote.time)

    def apply_fill(
        self, instrument: Instrument, side: Side, quantity: int, price: Decimal, commission: Decimal
    ) -> Decimal | None:
        """Book one execution; return its realized P&L (None for an opening fill): the closed
        shares times the move from the average cost, less this execution's commission."""
        held, avg = self.position(instrument.symbol)
        realized: Decimal | None = None
        if held != 0 and (held > 0) != (side is Side.BUY):
            closed = min(quantity, abs(held))
            direction = 1 if held > 0 else -1
            realized = (closed * (price - avg) * direction - commission).quantize(_CENT)
            symbol = instrument.symbol
            self._realized[symbol] = self._realized.get(symbol, Decimal(0)) + realized
        self._ledger.apply_fill(
            Contract.stock(instrument.symbol), side, quantity, price, commission
        )
        return realized

    # -- reads ---------------------------------------------------------------------------------
    def position(self, symbol: str) -> tuple[int, Decimal]:
        """(signed shares, average cost) of ``symbol``; (0, 0) when flat."""
        for pos in self._ledger.positions():
            if pos.contract.symbol == symbol:
                return pos.quantity, pos.avg_cost
        return 0, Decimal(0)

    def positions(self) -> list[tuple[Instrument, int, Decimal]]:
        """Every open position: (instrument, signed shares, average cost), in symbol order."""
        return [
            (self._registry.by_symbol(p.contract.symbol), p.quantity, p.avg_cost)
            for p in self._ledger.positions()
        ]

    def total_realized(self) -> Decimal:
        return sum(self._realized.values(), Decimal(0))

    def portfolio_line(self, instrument: Instrument) -> PortfolioLine:
        """The portfolio row of one instrument (quantity 0 once closed)."""
        quantity, avg = self.position(instrument.symbol)
        mark = self._marks[instrument.symbol]
        value = (quantity * mark).quantize(_CENT)
        return PortfolioLine(
            instrument=instrument,
            quantity=quantity,
            market_price=mark,
            market_value=value,
            avg_cost=avg,
            unrealized_pnl=(quantity * (mark - avg)).quantize(_CENT) if quantity else Decimal(0),
            realized_pnl=self._realized.get(instrument.symbol, Decimal(0)),
        )

    def portfolio(self) -> list[PortfolioLine]:
        """Rows for every open position and every symbol with realized P&L."""
        symbols = {p.contract.symbol for p in self._ledger.positions()} | set(self._realized)
        return [self.portfolio_line(self._registry.by_symbol(s)) for s in sorted(symbols)]

    def unrealized(self) -> Decimal:
        return sum((line.unrealized_pnl for line in self.portfolio()), Decimal(0))

    def _net_liq(self, now: datetime) -> Decimal:
        return self._ledger.snapshot(self._marks, now).net_liquidation

    def figures(self, now: datetime) -> dict[str, Decimal]:
        """The account's numbers by IB tag name (dollars)."""
        snap = self._ledger.snapshot(self._marks, now)
        long_value, short_value = self._ledger.market_values(self._marks)
        net_liq = snap.net_liquidation
        excess = net_liq - snap.maint_margin
        day_start = self._day_start_net_liq if self._day_start_net_liq is not None else net_liq
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": snap.cash,
            "SettledCash": snap.cash,
            "CashBalance": snap.cash,
            "TotalCashBalance": snap.cash,
            "AccruedCash": Decimal(0),
            "EquityWithLoanValue": net_liq,
            "PreviousDayEquityWithLoanValue": day_start,
            "RegTEquity": net_liq,
            "GrossPositionValue": long_value + short_value,
            "StockMarketValue": long_value - short_value,
            "NetLiquidationByCurrency": net_liq,
            "InitMarginReq": snap.maint_margin,
            "MaintMarginReq": snap.maint_margin,
            "RegTMargin": snap.maint_margin,
            "AvailableFunds": snap.available_funds,
            "ExcessLiquidity": excess,
            "SMA": snap.available_funds,
            "BuyingPower": max(snap.available_funds, Decimal(0)) * _BUYING_POWER_FACTOR,
            "UnrealizedPnL": self.unrealized(),
            "RealizedPnL": self.total_realized(),
            "DailyPnL": net_liq - day_start,
        }

    def account_values(self, now: datetime) -> list[tuple[str, str, str]]:
        """``updateAccountValue`` rows: (key, value, currency)."""
        f = self.figures(now)
        rows = [
            ("AccountCode", self.account_id, ""),
            ("AccountReady", "true", ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("Currency", "USD", "USD"),
            ("Currency", "BASE", "BASE"),
            ("DayTradesRemaining", "-1", ""),
            ("Cushion", self._cushion(f), ""),
            ("Leverage-S", self._leverage(f), ""),
            ("ExchangeRate", "1.00", "USD"),
        ]
        for key in ("CashBalance", "TotalCashBalance", "StockMarketValue", "UnrealizedPnL"):
            rows += [(key, _money(f[key]), "BASE"), (key, _money(f[key]), "USD")]
        rows += [("RealizedPnL", _money(f["RealizedPnL"]), c) for c in ("BASE", "USD")]
        rows.append(("NetLiquidationByCurrency", _money(f["NetLiquidation"]), "BASE"))
        for key in (
            "NetLiquidation",
            "TotalCashValue",
            "SettledCash",
            "AccruedCash",
            "EquityWithLoanValue",
            "GrossPositionValue",
            "InitMarginReq",
            "MaintMarginReq",
            "AvailableFunds",
            "ExcessLiquidity",
            "BuyingPower",
        ):
            rows.append((key, _money(f[key]), "USD"))
        for key in ("InitMarginReq", "MaintMarginReq", "AvailableFunds", "ExcessLiquidity"):
            rows.append((f"Full{key}", _money(f[key]), "USD"))
        return rows

    def summary(self, tags: Iterable[str], now: datetime) -> list[tuple[str, str, str]]:
        """``accountSummary`` rows (tag, value, currency) for the requested tags; unknown tags
        are left out, ``$LEDGER[:CUR|:ALL]`` expands to the ledger tags."""
        f = self.figures(now)
        rows: list[tuple[str, str, str]] = []
        for tag in tags:
            currencies = ledger_tags(tag)
            if currencies:
                for currency in currencies:
                    for key in _LEDGER_TAGS:
                        value = "1.00" if key == "ExchangeRate" else _money(f[key])
                        rows.append((key, value, currency))
                    rows.append(("Currency", currency, currency))
                continue
            row = self._summary_row(tag, f)
            if row is not None:
                rows.append(row)
        return rows

    def _summary_row(self, tag: str, f: dict[str, Decimal]) -> tuple[str, str, str] | None:
        fixed = {
            "AccountType": "INDIVIDUAL",
            "Cushion": self._cushion(f),
            "Leverage": self._leverage(f),
            "DayTradesRemaining": "-1",
            "HighestSeverity": "0",
            "LookAheadNextChange": "0",
        }
        if tag in fixed:
            return tag, fixed[tag], ""
        key = tag
        for prefix in ("Full", "LookAhead"):
            if tag.startswith(prefix) and tag[len(prefix) :] in f:
                key = tag[len(prefix) :]
        if key not in f:
            return None
        return tag, _money(f[key]), "USD"

    @staticmethod
    def _cushion(f: dict[str, Decimal]) -> str:
        net_liq = f["NetLiquidation"]
        if net_liq <= 0:
            return "0"
        return format((f["ExcessLiquidity"] / net_liq).quantize(Decimal("0.0001")), "f")

    @staticmethod
    def _leverage(f: dict[str, Decimal]) -> str:
        net_liq = f["NetLiquidation"]
        if net_liq <= 0:
            return "0"
        return format((f["GrossPositionValue"] / net_liq).quantize(Decimal("0.01")), "f")

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
        held, _ = self.position(instrument.symbol)
        after = held + side.sign * quantity
        mark = self._marks[instrument.symbol]
        price = mark if price is None else price

        def margin(shares: int) -> Decimal:
            rate = self._long_rate if shares > 0 else self._short_rate
            return abs(shares) * mark * rate

        change = (margin(after) - margin(held)).quantize(_CENT)
        before = f["MaintMarginReq"]
        commission = cumulative_commission(
            quantity, per_share=self._per_share, minimum=self._commission_min
        )
        equity = f["EquityWithLoanValue"]
        equity_change = -commission - quantity * abs(price - mark)
        return MarginState(
            init_before=_money(before),
            maint_before=_money(before),
            equity_before=_money(equity),
            init_change=_money(change),
            maint_change=_money(change),
            equity_change=_money(equity_change),
            init_after=_money(before + change),
            maint_after=_money(before + change),
            equity_after=_money(equity + equity_change),
            commission=format(commission, "f"),
            commission_currency="USD",
        )
