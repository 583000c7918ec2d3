"""The simulated account as IB reports it: the marks it is valued at, its snapshot, the day's
P&L (as IB's ``reqPnL`` gives it) and the what-if margin of an order.

Not thread-safe: ``SimBroker`` calls it under its lock (from any thread).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from broker.sim.account import SimAccount
from broker.sim.market import MarketModel
from broker.sim.option_desk import OptionDesk
from core.calendar import TradingCalendar
from core.domain import OrderRequest
from core.events import AccountPnL, AccountSnapshot, BrokerEvent, MarginCheck

__all__ = ["AccountReports"]


class AccountReports:
    """Values ``account`` at the stocks' and options' marks and keeps the day's P&L base."""

    def __init__(
        self,
        *,
        market: MarketModel,
        options: OptionDesk,
        account: SimAccount,
        calendar: TradingCalendar,
    ) -> None:
        self._market = market
        self._options = options
        self._account = account
        self._calendar = calendar
        self._pnl_day: date | None = None  # the trading day ``_pnl_base`` belongs to
        self._pnl_base: Decimal | None = None  # net liquidation at the previous close
        self._last_net_liq: Decimal | None = None

    def marks(self, now: datetime) -> dict[str, Decimal]:
        """Every stock's mark and every held option's mark, by contract key."""
        marks = {symbol: self._market.mark(symbol) for symbol in self._market.symbols}
        marks.update(self._options.marks(self._account, now))
        return marks

    def snapshot(self, now: datetime) -> AccountSnapshot:
        """The account now, positions valued at ``marks``."""
        return self._account.snapshot(self.marks(now), now)

    def events(self, now: datetime) -> list[BrokerEvent]:
        """The day's P&L (as IB's ``reqPnL`` gives it: net liquidation now less at the previous
        session's last step, so a night's move counts on the new day; on the first day, less
        the first net liquidation), then the account snapshot of the same marks."""
        snapshot = self.snapshot(now)
        day = self._calendar.trading_day(now)
        if day != self._pnl_day:
            self._pnl_day = day
            last = self._last_net_liq
            self._pnl_base = last if last is not None else snapshot.net_liquidation
        self._last_net_liq = snapshot.net_liquidation
        base = self._pnl_base if self._pnl_base is not None else snapshot.net_liquidation
        pnl = AccountPnL(snapshot.net_liquidation - base, None, None, now)
        return [pnl, snapshot]

    def margin_check(self, order: OrderRequest, now: datetime) -> MarginCheck:
        """What-if: the margin ``order`` would add if it filled at the marks, and the funds
        available for it (net liquidation less maintenance margin; the simulator reports one
        margin figure, Reg-T for short options). A contract the simulator cannot mark gets an
        answer with ``error``."""
        key = order.client_order_id
        try:
            marks = self.marks(now)
            if order.contract.is_option:
                marks[order.contract.key] = self._options.market.mark(order.contract, now)
            change = self._account.margin_change(
                order.contract, order.side, order.quantity, marks
            ).quantize(Decimal("0.01"))
            snapshot = self._account.snapshot(marks, now)
            return MarginCheck(
                key,
                change,
                snapshot.available_funds,
                now,
                init_margin_after=snapshot.maint_margin + change,
                equity_with_loan_after=snapshot.net_liquidation,
            )
        except (KeyError, ValueError) as err:
            problem = f"no margin estimate for {order.contract.key}: {err}"
            return MarginCheck(key, None, None, now, error=problem)
