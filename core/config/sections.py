"""The config sections other than the accounts: ``[engine]``, ``[broker]``, ``[sim]``, ``[risk]``,
``[filters]``, ``[orders]``, ``[exits]``, ``[inbox]`` and ``[control]`` (pure, frozen values;
see ``core.config``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from core.config_errors import (
    ARRAY,
    ClockTime,
    InstanceName,
    IsoDate,
    Money,
    NonBlank,
    SymbolName,
    TimeZoneName,
    invalid_value,
    problems_error,
)
from core.config_section import MAX_MONEY, Section
from core.config_values import database_url_problem, directory_problem

__all__ = [
    "LIVE_TRADING_PORTS",
    "BrokerSettings",
    "ControlSettings",
    "EngineSettings",
    "ExitSettings",
    "FilterSettings",
    "IbSettings",
    "InboxSettings",
    "OptionExitSettings",
    "OptionSettings",
    "OrderSettings",
    "RiskSettings",
    "SimSettings",
    "SymbolSettings",
]

LIVE_TRADING_PORTS = frozenset({7496, 4001})
"""TWS and IB Gateway's default live-trading ports; using one needs ``broker.ib.allow_live``."""


def _database_url(value: str) -> str:
    """Accept only the ledger URLs the engine supports (``core.config_values``)."""
    if (problem := database_url_problem(value)) is not None:
        raise invalid_value(problem)
    return value


def _log_dir(value: str) -> str:
    """Accept a directory, or a path that can become one (no file on the way)."""
    if (problem := directory_problem(value)) is not None:
        raise invalid_value(problem)
    return value


def _round_lots(value: int) -> int:
    """Accept a whole number of round lots (100 shares)."""
    if value % 100:
        raise invalid_value(f"must be a multiple of 100, round lots (got {value})")
    return value


class EngineSettings(Section):
    """``[engine]``: time, storage, the trading session and shutdown behaviour."""

    timezone: TimeZoneName = "America/New_York"  # exchange time zone (IANA)
    # The ledger: sqlite:///path or postgresql://... (nothing else is supported).
    database_url: Annotated[NonBlank, AfterValidator(_database_url)] = "sqlite:///data/engine.db"
    # This engine's name in its ledger: several engines share one PostgreSQL database, each
    # with its own instance (its rows and its lease); lowercase letters, digits, "_".
    instance: InstanceName = "main"
    log_dir: Annotated[NonBlank, AfterValidator(_log_dir)] = "logs"  # a directory, or none yet
    session_open: ClockTime = "09:30"  # regular session open, HH:MM local
    session_close: ClockTime = "16:00"  # regular session close, HH:MM local
    reconcile_interval_s: float = Field(default=5.0, ge=1, le=60)  # ledger/broker reconcile
    # Quotes wake each strategy at most once per this many ms of engine time (0: every quote at
    # once); the first after a quiet spell at once. Off at --speed max.
    quote_delivery_ms: int = Field(default=100, ge=0, le=5000)
    holidays: Annotated[tuple[IsoDate, ...], ARRAY] = ()  # exchange holidays
    on_shutdown: Literal["leave", "flatten"] = "leave"  # positions at exit
    # After a startup or reconnect reconciliation finds the positions stably differing: "halt"
    # (stay HALTED until the trader resumes) or "trade" (report the differences and trade on).
    on_mismatch: Literal["halt", "trade"] = "halt"

    @model_validator(mode="after")
    def _check_session(self) -> EngineSettings:
        if self.session_open >= self.session_close:  # "HH:MM" strings sort as times
            got = f'"{self.session_open}" >= "{self.session_close}"'
            raise problems_error((("session_open",), f"must be before session_close (got {got})"))
        return self


class IbSettings(Section):
    """``[broker.ib]``: where TWS / IB Gateway listens and how to talk to it."""

    host: NonBlank = "127.0.0.1"  # TWS / Gateway host
    port: int = Field(default=7497, ge=1, le=65535)  # 7497/4002 paper, 7496/4001 live
    client_id: int = Field(default=17, ge=0, le=2**31 - 1)  # API client id
    allow_live: bool = False  # permit a live-trading port
    account: str = ""  # IB account code; empty = the login's only account
    # Connect/handshake timeout; under a second no TWS handshake completes (a round trip or two).
    connect_timeout_s: float = Field(default=10.0, ge=1, le=300)
    # No quotes for this many clock seconds while the market is open: alarm, entries frozen.
    # At least 1 s: IB sends a quiet stock's quote every few seconds, less would call it stale.
    stale_data_s: float = Field(default=60.0, ge=1, le=3600)
    # An order IB has not acknowledged after this many clock seconds is looked up in IB's
    # open and completed orders and REJECTED if IB does not have it.
    # At least 1 s: IB's acknowledgement is a round trip; sooner would look up every order.
    ack_timeout_s: float = Field(default=30.0, ge=1, le=3600)
    dry_run: bool = False  # shadow mode: data and account from IB, orders never sent
    # reqMarketDataType after every connect; the delayed kinds are allowed on paper only.
    market_data_type: Literal["live", "frozen", "delayed", "delayed-frozen"] = "live"
    market_data_lines: int = Field(default=100, ge=10, le=10_000)  # IB's line limit (101)
    # The reconnect keeps failing this long (wall seconds) or this many times: LOGGED OUT.
    relogin_after_s: float = Field(default=600.0, ge=10, le=86_400)  # >= one reconnect attempt
    relogin_after_attempts: int = Field(default=8, ge=1, le=10_000)

    @model_validator(mode="after")
    def _check_live_port(self) -> IbSettings:
        if self.port in LIVE_TRADING_PORTS and not self.allow_live:
            message = f"{self.port} is a live trading port; set broker.ib.allow_live = true"
            raise problems_error((("port",), f"{message} to use it"))
        if self.port in LIVE_TRADING_PORTS and self.market_data_type.startswith("delayed"):
            raise problems_error(
                (
                    ("market_data_type",),
                    f'"{self.market_data_type}" is allowed on paper only ({self.port} is a '
                    'live trading port): use "live" or "frozen"',
                )
            )
        return self


class BrokerSettings(Section):
    """``[broker]``: which broker the engine trades through."""

    kind: Literal["sim", "ib"] = "sim"  # sim = in-process simulator
    ib: IbSettings = IbSettings()


class SymbolSettings(Section):
    """``[sim.symbols.<SYMBOL>]``: one tradable stock; also the engine's sector registry."""

    price: float = Field(gt=0, le=1_000_000)  # starting price
    volatility: float = Field(gt=0, le=3)  # annualised volatility, 0.25 = 25 %
    spread_bps: float = Field(gt=0, le=500)  # typical bid/ask spread
    sector: NonBlank  # sector name for concentration limits
    # Shares shown at the touch, in round lots (a multiple of 100).
    display_size: Annotated[int, AfterValidator(_round_lots)] = Field(
        default=500, ge=100, le=10_000_000
    )
    # tws-sim's primaryExchange for this stock; unset = its real listing (broker.sim.listings)
    primary_exchange: Literal["NASDAQ", "ISLAND", "NYSE", "ARCA", "AMEX", "BATS"] | None = None
    # Tick class of its options (core.ticks): penny = $0.01 below $3 and $0.05 from $3,
    # penny_all = $0.01 at every price (SPY, QQQ, IWM), nickel = $0.05 / $0.10 (most classes).
    option_ticks: Literal["penny", "penny_all", "nickel"] = "nickel"


class OptionSettings(Section):
    """``[sim.options]``: the simulated option chains listed on every simulated stock."""

    rate: float = Field(default=0.04, ge=0, le=0.5)  # risk-free rate, annual (0.04 = 4 %)
    iv_premium: float = Field(default=1.10, gt=0, le=5)  # ATM implied vol / stock volatility
    skew: float = Field(default=1.0, ge=0, le=10)  # IV slope below the spot (puts richer)
    smile: float = Field(default=2.0, ge=0, le=50)  # IV curvature on both wings
    weekly_expirations: int = Field(default=6, ge=1, le=52)  # Fridays listed ahead
    monthly_expirations: int = Field(default=12, ge=0, le=24)  # third Fridays listed ahead
    leaps_expirations: int = Field(default=2, ge=0, le=5)  # Januaries after the monthlies
    strike_range_pct: float = Field(default=20.0, gt=0, le=90)  # strikes listed around spot
    spread_pct: float = Field(default=3.0, gt=0, le=100)  # of the mid, ATM, 30+ DTE
    min_spread: Money = Field(default=Decimal("0.05"), gt=0, le=10)  # narrowest, dollars
    otm_widening: float = Field(default=5.0, ge=0, le=100)  # x |ln(strike / spot)|
    short_dte_widening: float = Field(default=3.0, ge=0, le=100)  # / days to expiry
    display_size: int = Field(default=50, ge=1, le=100_000)  # contracts at bid and ask
    open_interest_atm: int = Field(default=5000, ge=0, le=10_000_000)  # contracts
    commission_per_contract: Money = Field(default=Decimal("0.65"), ge=0, le=100)
    commission_min: Money = Field(default=Decimal("1.00"), ge=0, le=100)  # per order


class SimSettings(Section):
    """``[sim]``: the in-process market simulator and the symbol registry."""

    seed: int = Field(default=42, ge=0, le=2**63 - 1)  # random seed
    # Simulated time between ticks; at least 0.25 s, IB's own quote aggregation interval for
    # stocks (a shorter tick only multiplies the work: 1e-9 burnt a core and 600 MB in 40 s).
    tick_interval_s: float = Field(default=5.0, ge=0.25, le=60)
    starting_cash: Money = Field(default=Decimal(1_000_000), gt=0, le=MAX_MONEY)
    commission_per_share: Money = Field(default=Decimal("0.0035"), ge=0, le=1)
    commission_min: Money = Field(default=Decimal("0.35"), ge=0, le=100)  # per order
    maint_margin_long_pct: float = Field(default=25.0, gt=0, le=100)
    maint_margin_short_pct: float = Field(default=30.0, gt=0, le=100)
    drift_annual: float = Field(default=0.0, ge=-1, le=1)  # annualised drift, 0.05 = 5 %
    symbols: dict[SymbolName, SymbolSettings] = Field(default_factory=dict)  # symbol -> settings
    options: OptionSettings = OptionSettings()


class RiskSettings(Section):
    """``[risk]``: global limits the RiskGovernor applies across all virtual accounts."""

    daily_loss_limit_pct: float = Field(default=2.0, gt=0, le=100)  # of starting equity
    on_daily_loss: Literal["reduce", "flatten"] = "reduce"
    max_concurrent_positions: int = Field(default=10, ge=1, le=1000)
    max_trades_per_day: int = Field(default=10, ge=1, le=10_000)
    max_margin_utilization_pct: float = Field(default=80.0, gt=0, le=100)
    max_sector_concentration_pct: float = Field(default=30.0, gt=0, le=100)
    max_messages_per_s: int = Field(default=45, ge=1, le=50)  # IB allows 50
    entry_burst: int = Field(default=10, ge=1, le=100)  # entries allowed in a pacing burst
    # Short option entries wait for the broker's what-if margin (IB: initial margin change
    # against AvailableFunds) and are refused when it does not fit; unanswered after this many
    # engine-clock seconds, refused as unanswered.
    what_if_margin: bool = True
    what_if_timeout_s: float = Field(default=30.0, ge=1, le=600)  # >= a what-if round trip
    # The fat-finger guard (core/rules/price_collar.py): an entry whose limit lies more than
    # this percent above the ask or below the bid is refused with the numbers (IB's own order
    # precautions do the same); a limit that rounds to 0 at the tick is refused too.
    price_collar_pct: float = Field(default=10.0, gt=0, le=100)
    # Options move several percent on a tick: their own collar, same measure.
    option_price_collar_pct: float = Field(default=50.0, gt=0, le=1000)
    # Portfolio greek limits (core/rules/greek_limits.py), each off at 0: an entry is
    # refused when it would take the portfolio's net figure beyond the limit either way (an
    # entry that shrinks a figure already beyond it passes). Delta in dollars (delta x
    # contracts x multiplier x underlying; a stock its market value), beta-weighted to SPY
    # when ``beta_weighted`` (each symbol's beta from ``betas``, 1.0 when not listed); theta in
    # dollars a day; vega in dollars per volatility point.
    max_net_delta_dollars: float = Field(default=0.0, ge=0, le=1e12)
    max_net_theta_per_day: float = Field(default=0.0, ge=0, le=1e12)
    max_net_vega: float = Field(default=0.0, ge=0, le=1e12)
    beta_weighted: bool = False
    betas: dict[SymbolName, Annotated[float, Field(ge=-10, le=10)]] = Field(default_factory=dict)


class FilterSettings(Section):
    """``[filters]``: market conditions an entry must meet."""

    max_spread_bps: float = Field(default=10.0, gt=0, le=1000)
    max_slippage_bps: float = Field(default=5.0, ge=0, le=1000)
    # At least 250 ms, IB's quote aggregation interval for stocks: a younger quote cannot be
    # demanded.
    max_quote_age_ms: int = Field(default=500, ge=250, le=60_000)
    open_margin_min: int = Field(default=5, ge=0, le=1440)  # no entries after the open
    close_margin_min: int = Field(default=15, ge=0, le=1440)  # no entries before the close
    max_option_spread_pct: float = Field(default=25.0, gt=0, le=200)  # of an option's mid


class OrderSettings(Section):
    """``[orders]``: how entries, protective stops and flattening orders are placed."""

    stop_loss_pct: float = Field(default=2.0, gt=0, lt=50)  # protective stop distance
    entry_type: Literal["LMT", "MKT"] = "LMT"
    entry_limit_offset_bps: float = Field(default=2.0, ge=0, le=500)  # through the touch
    # Cancel unfilled entries after this long, waiting stale_quiet_s without a fill first;
    # at least 1 s each: an entry needs a round trip to be acknowledged, let alone filled.
    stale_entry_s: float = Field(default=30.0, ge=1, le=3600)
    stale_quiet_s: float = Field(default=3.0, ge=1, le=600)
    # At least 0.25 s (IB's quote interval): a faster reprice sees no new quote, only pacing.
    flatten_reprice_s: float = Field(default=1.0, ge=0.25, le=60)
    flatten_max_reprices: int = Field(default=5, ge=0, le=100)
    # IB keeps at most 20 working orders per contract and side; flatten queues beyond this.
    max_working_per_contract_side: int = Field(default=20, ge=1, le=20)


class OptionExitSettings(Section):
    """``[exits.options]``: when short option positions are bought back (no attached stop)."""

    profit_take_pct: float = Field(default=50.0, gt=0, lt=100)  # of the credit kept
    stop_loss_multiple: float = Field(default=3.0, gt=1, le=100)  # mark >= N x credit
    time_exit_dte: int = Field(default=3, ge=0, le=365)  # days to expiry; 0 disables
    stop_order: Literal["marketable_limit", "market"] = "marketable_limit"
    # The marketable limit is re-priced every stop_reprice_s (>= 0.25 s, IB's quote interval) ...
    stop_reprice_s: float = Field(default=1.0, ge=0.25, le=60)
    stop_max_reprices: int = Field(default=3, ge=0, le=100)  # ... this often, then MARKET
    limit_reprice_s: float = Field(default=5.0, ge=0.25, le=600)  # time exit: mid toward ask
    limit_reprice_steps: int = Field(default=3, ge=0, le=50)


class ExitSettings(Section):
    """``[exits]``: when stock positions are closed besides their protective stop, and the
    option exit rules."""

    profit_target_pct: float = Field(default=3.0, gt=0, le=100)
    max_holding_min: int = Field(default=120, ge=1, le=10_080)
    exit_before_close_min: int = Field(default=5, ge=0, le=1440)  # 0 disables
    # A position's mark older than this (clock seconds, market open) is stale: shown so, and
    # only a protective stop or time exit may act on it (labelled); a profit target waits.
    stale_mark_s: float = Field(default=120.0, ge=1, le=86_400)  # >= 1 s: see stale_data_s
    options: OptionExitSettings = OptionExitSettings()


class InboxSettings(Section):
    """``[inbox]``: external signals as JSON lines appended to a file."""

    enabled: bool = True
    path: str = Field(default="inbox/signals.jsonl", min_length=1)
    # At least 0.1 s: each poll stats and reads the file (1e-9 burnt a core and 600 MB in 40 s);
    # a signal waits at most this long, far less than an entry's time to fill.
    poll_interval_s: float = Field(default=1.0, ge=0.1, le=60)
    max_quantity: int = Field(default=100_000, ge=1, le=10_000_000)  # a larger line is refused


class ControlSettings(Section):
    """``[control]``: the control channel the engine serves on a Unix socket (the attached
    dashboard, ``main.py status``/``stop``/``health``; docs/CONTROL.md)."""

    enabled: bool = True
    # The socket's path; empty: control/<instance>.sock beside an SQLite ledger file, else
    # data/control/<instance>.sock (core.config_values.control_socket_path).
    socket: str = ""
    # Seconds between two state frames to the clients; at least 20 ms (a screen shows no more).
    flush_interval_s: float = Field(default=0.25, ge=0.02, le=5)
    # What one client may have waiting unread, KiB; beyond it the client loses updates (counted)
    # and gets a full state once it has read what was waiting.
    client_buffer_kib: int = Field(default=1024, ge=64, le=65_536)
    max_clients: int = Field(default=16, ge=1, le=256)  # connections at once
    events_kept: int = Field(default=200, ge=0, le=10_000)  # events a full state carries
