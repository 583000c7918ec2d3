"""Snapshots: frozen values an actor publishes on the bus and answers ``GetSnapshot`` with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.domain import Contract, OrderStatus, OrderType, Purpose, Side, TradingState


# -- snapshots published on the bus ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VASnapshot:
    va_id: str
    strategy: str
    symbol: str | None  # symbol in play
    state: str  # idle | entering | in_position | exiting | cooldown | paused | halted
    capital: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    day_pnl: Decimal
    drawdown_pct: float
    peak_equity: Decimal
    wins: int
    losses: int
    consecutive_losses: int
    cooldown_until: datetime | None
    open_positions: int
    working_orders: int
    time: datetime
    last_decisions: tuple[str, ...] = ()
    mailbox: int = 0


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    va_id: str
    contract: Contract
    quantity: int
    avg_price: Decimal
    mark: float | None
    unrealized_pnl: Decimal
    unrealized_pct: float
    stop_price: Decimal | None
    opened_at: datetime | None
    time: datetime
    # Options (None for stocks). Greeks per share of one contract, from the latest quote.
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None  # dollars per calendar day
    vega: float | None = None  # dollars per volatility point
    iv: float | None = None
    dte: int | None = None  # calendar days to expiry
    credit: Decimal | None = None  # premium received for a short option, dollars
    pnl_pct_of_credit: float | None = None  # unrealized P&L as percent of the credit
    # Position level (stocks too): delta in dollars of the underlying, theta in dollars a day,
    # Reg-T / maintenance margin in use.
    delta_dollars: float | None = None
    theta_per_day: float | None = None
    margin: Decimal | None = None
    # The mark's quote time (engine clock), whether it is older than exits.stale_mark_s while
    # the market is open, and whether it came from delayed data.
    mark_time: datetime | None = None
    mark_stale: bool = False
    mark_delayed: bool = False
    # The exits the monitor watches for, as prices: the profit target (a short option: the
    # buy-back price, e.g. half the credit; a stock: the mark that takes the profit), the date
    # the time exit closes an option on, and the underlying's mid (an option). ``stop_price``
    # of a short option is the mark its stop fires at (e.g. 3x the credit).
    target_price: Decimal | None = None
    time_exit: date | None = None
    underlying_price: float | None = None


@dataclass(frozen=True, slots=True)
class GreeksSnapshot:
    """PositionMonitor -> bus: the risk of one VA's positions (``va_id``) or of the whole
    portfolio (``va_id`` None): delta in dollars of the underlyings, theta in dollars per
    calendar day, margin in use in dollars."""

    va_id: str | None
    delta_dollars: float
    theta_per_day: float
    margin: Decimal
    positions: int
    time: datetime


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    order_id: str
    va_id: str
    contract: Contract
    side: Side
    order_type: OrderType
    purpose: Purpose
    quantity: int
    filled: int
    status: OrderStatus
    limit_price: Decimal | None
    stop_price: Decimal | None
    created_at: datetime
    updated_at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RiskStatus:
    state: TradingState
    reason: str
    day_pnl: Decimal
    daily_loss_limit: Decimal
    limits: tuple[tuple[str, str], ...]  # (name, "used/max") e.g. ("trades", "7/10")
    time: datetime
    connected: bool = True
    data_stale: bool = False  # connected, but no quotes: entries frozen
    # The differences of the last reconciliation that found ledger and broker apart (empty once
    # a later one agrees): listed by the resume dialog and the inspector.
    differences: tuple[str, ...] = ()
    # The account's day P&L as the broker reports it (IB reqPnL's dailyPnL; the simulator's
    # own), None until it has reported today. ``day_pnl`` is the figure the breaker judges.
    account_day_pnl: Decimal | None = None
    data_delayed: bool = False  # the broker's quotes are delayed (15-20 minutes old)
    logged_out: bool = False  # the reconnect keeps failing: TWS needs a new login
    # The account as the broker last reported it (the dashboard's account line); None (or
    # "") until its first account update, or where the broker does not report the figure.
    account_id: str = ""
    net_liquidation: Decimal | None = None
    cash: Decimal | None = None
    buying_power: Decimal | None = None
    excess_liquidity: Decimal | None = None
    maint_margin: Decimal | None = None
    # Each configured portfolio greek limit's use, (name, "net/limit") e.g. ("delta $",
    # "+12,300/50,000"): the header's line under the account line; empty with none set.
    greek_limits: tuple[tuple[str, str], ...] = ()
