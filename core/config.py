"""The engine's configuration: frozen, validated models of ``config.toml`` and how to load them.

Pure values, no threads: the engine loads the config once on the main thread (and the TUI may
re-parse it on its own thread to preview a reload) and hands the frozen ``EngineConfig`` to every
actor. Validation is strict because TOML already has types: ``port = "7497"`` is an error, not a
port. Every problem comes back as one line naming the file and the key path (see
``core.config_errors``). Nothing secret lives in ``config.toml``; credentials, should any ever be
needed, come from the environment, never from this file.

Units are in the names: ``_s`` seconds, ``_ms`` milliseconds, ``_min`` minutes, ``_pct`` percent
(2.0 means 2 %), ``_bps`` basis points. Money is ``Decimal``; rates and volatilities are floats.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.config_errors import (
    ARRAY,
    AccountId,
    ClockTime,
    ConfigError,
    IsoDate,
    Money,
    NonBlank,
    Problem,
    SymbolName,
    TimeZoneName,
    describe_value,
    one_line,
    problems_error,
    toml_problem,
    validation_problems,
)

__all__ = [
    "LIVE_TRADING_PORTS",
    "STRATEGY_KINDS",
    "AccountConfig",
    "AccountLimits",
    "BrokerSettings",
    "ConfigError",
    "EngineConfig",
    "EngineSettings",
    "ExitSettings",
    "ExternalStrategy",
    "FilterSettings",
    "IbSettings",
    "InboxSettings",
    "MaCrossStrategy",
    "NakedPutStrategy",
    "OptionExitSettings",
    "OptionSettings",
    "OrderSettings",
    "RiskSettings",
    "SimSettings",
    "StrategyConfig",
    "SymbolSettings",
    "load_config",
    "parse_config",
]

LIVE_TRADING_PORTS = frozenset({7496, 4001})
"""TWS and IB Gateway's default live-trading ports; using one needs ``broker.ib.allow_live``."""

STRATEGY_KINDS = ("ma_cross", "naked_put", "external")
"""The values ``[accounts.strategy] kind`` may take."""

_MAX_MONEY = Decimal(10) ** 12


class _Section(BaseModel):
    """Base of every config model: frozen, strict (TOML is typed), no unknown keys, no NaN."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class EngineSettings(_Section):
    """``[engine]``: time, storage, the trading session and shutdown behaviour."""

    timezone: TimeZoneName = "America/New_York"  # exchange time zone (IANA)
    database_url: NonBlank = "sqlite:///data/engine.db"  # ledger database URL
    log_dir: NonBlank = "logs"  # directory for log files
    session_open: ClockTime = "09:30"  # regular session open, HH:MM local
    session_close: ClockTime = "16:00"  # regular session close, HH:MM local
    reconcile_interval_s: float = Field(default=5.0, ge=1, le=60)  # ledger/broker reconcile
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


class IbSettings(_Section):
    """``[broker.ib]``: where TWS / IB Gateway listens and how to talk to it."""

    host: NonBlank = "127.0.0.1"  # TWS / Gateway host
    port: int = Field(default=7497, ge=1, le=65535)  # 7497/4002 paper, 7496/4001 live
    client_id: int = Field(default=17, ge=0, le=2**31 - 1)  # API client id
    allow_live: bool = False  # permit a live-trading port
    account: str = ""  # IB account code; empty = the login's only account
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)  # connect/handshake timeout
    # No quotes for this many clock seconds while the market is open: alarm, entries frozen.
    stale_data_s: float = Field(default=60.0, gt=0, le=3600)
    # An order IB has not acknowledged after this many clock seconds is looked up in IB's
    # open and completed orders and REJECTED if IB does not have it.
    ack_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    dry_run: bool = False  # shadow mode: data and account from IB, orders never sent
    # reqMarketDataType after every connect; the delayed kinds are allowed on paper only.
    market_data_type: Literal["live", "frozen", "delayed", "delayed-frozen"] = "live"
    market_data_lines: int = Field(default=100, ge=10, le=10_000)  # IB's line limit (101)
    # The reconnect keeps failing this long (wall seconds) or this many times: LOGGED OUT.
    relogin_after_s: float = Field(default=600.0, gt=0, le=86_400)
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


class BrokerSettings(_Section):
    """``[broker]``: which broker the engine trades through."""

    kind: Literal["sim", "ib"] = "sim"  # sim = in-process simulator
    ib: IbSettings = IbSettings()


class SymbolSettings(_Section):
    """``[sim.symbols.<SYMBOL>]``: one tradable stock; also the engine's sector registry."""

    price: float = Field(gt=0, le=1_000_000)  # starting price
    volatility: float = Field(gt=0, le=3)  # annualised volatility, 0.25 = 25 %
    spread_bps: float = Field(gt=0, le=500)  # typical bid/ask spread
    sector: NonBlank  # sector name for concentration limits
    display_size: int = Field(default=500, ge=100, le=10_000_000)  # shares shown at the touch
    # tws-sim's primaryExchange for this stock; unset = its real listing (broker.sim.listings)
    primary_exchange: Literal["NASDAQ", "ISLAND", "NYSE", "ARCA", "AMEX", "BATS"] | None = None
    # Tick class of its options (core.ticks): penny = $0.01 below $3 and $0.05 from $3,
    # penny_all = $0.01 at every price (SPY, QQQ, IWM), nickel = $0.05 / $0.10 (most classes).
    option_ticks: Literal["penny", "penny_all", "nickel"] = "nickel"


class OptionSettings(_Section):
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


class SimSettings(_Section):
    """``[sim]``: the in-process market simulator and the symbol registry."""

    seed: int = Field(default=42, ge=0, le=2**63 - 1)  # random seed
    tick_interval_s: float = Field(default=5.0, gt=0, le=60)  # simulated time between ticks
    starting_cash: Money = Field(default=Decimal(1_000_000), gt=0, le=_MAX_MONEY)
    commission_per_share: Money = Field(default=Decimal("0.0035"), ge=0, le=1)
    commission_min: Money = Field(default=Decimal("0.35"), ge=0, le=100)  # per order
    maint_margin_long_pct: float = Field(default=25.0, gt=0, le=100)
    maint_margin_short_pct: float = Field(default=30.0, gt=0, le=100)
    drift_annual: float = Field(default=0.0, ge=-1, le=1)  # annualised drift, 0.05 = 5 %
    symbols: dict[SymbolName, SymbolSettings] = Field(default_factory=dict)  # symbol -> settings
    options: OptionSettings = OptionSettings()


class RiskSettings(_Section):
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
    what_if_timeout_s: float = Field(default=30.0, gt=0, le=600)


class FilterSettings(_Section):
    """``[filters]``: market conditions an entry must meet."""

    max_spread_bps: float = Field(default=10.0, gt=0, le=1000)
    max_slippage_bps: float = Field(default=5.0, ge=0, le=1000)
    max_quote_age_ms: int = Field(default=500, ge=1, le=60_000)
    open_margin_min: int = Field(default=5, ge=0, le=1440)  # no entries after the open
    close_margin_min: int = Field(default=15, ge=0, le=1440)  # no entries before the close
    max_option_spread_pct: float = Field(default=25.0, gt=0, le=200)  # of an option's mid


class OrderSettings(_Section):
    """``[orders]``: how entries, protective stops and flattening orders are placed."""

    stop_loss_pct: float = Field(default=2.0, gt=0, lt=50)  # protective stop distance
    entry_type: Literal["LMT", "MKT"] = "LMT"
    entry_limit_offset_bps: float = Field(default=2.0, ge=0, le=500)  # through the touch
    stale_entry_s: float = Field(default=30.0, gt=0, le=3600)  # cancel unfilled entries
    stale_quiet_s: float = Field(default=3.0, gt=0, le=600)  # no fill for this long first
    flatten_reprice_s: float = Field(default=1.0, gt=0, le=60)
    flatten_max_reprices: int = Field(default=5, ge=0, le=100)
    # IB keeps at most 20 working orders per contract and side; flatten queues beyond this.
    max_working_per_contract_side: int = Field(default=20, ge=1, le=20)


class OptionExitSettings(_Section):
    """``[exits.options]``: when short option positions are bought back (no attached stop)."""

    profit_take_pct: float = Field(default=50.0, gt=0, lt=100)  # of the credit kept
    stop_loss_multiple: float = Field(default=3.0, gt=1, le=100)  # mark >= N x credit
    time_exit_dte: int = Field(default=3, ge=0, le=365)  # days to expiry; 0 disables
    stop_order: Literal["marketable_limit", "market"] = "marketable_limit"
    stop_reprice_s: float = Field(default=1.0, gt=0, le=60)  # marketable limit re-priced ...
    stop_max_reprices: int = Field(default=3, ge=0, le=100)  # ... this often, then MARKET
    limit_reprice_s: float = Field(default=5.0, gt=0, le=600)  # time exit: mid toward ask
    limit_reprice_steps: int = Field(default=3, ge=0, le=50)


class ExitSettings(_Section):
    """``[exits]``: when stock positions are closed besides their protective stop, and the
    option exit rules."""

    profit_target_pct: float = Field(default=3.0, gt=0, le=100)
    max_holding_min: int = Field(default=120, ge=1, le=10_080)
    exit_before_close_min: int = Field(default=5, ge=0, le=1440)  # 0 disables
    # A position's mark older than this (clock seconds, market open) is stale: shown so, and
    # only a protective stop or time exit may act on it (labelled); a profit target waits.
    stale_mark_s: float = Field(default=120.0, gt=0, le=86_400)
    options: OptionExitSettings = OptionExitSettings()


class InboxSettings(_Section):
    """``[inbox]``: external signals as JSON lines appended to a file."""

    enabled: bool = True
    path: str = Field(default="inbox/signals.jsonl", min_length=1)
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    max_quantity: int = Field(default=100_000, ge=1, le=10_000_000)  # a larger line is refused


class MaCrossStrategy(_Section):
    """``kind = "ma_cross"``: moving-average crossover on time bars built from quotes."""

    kind: Literal["ma_cross"] = "ma_cross"
    fast_bars: int = Field(default=5, ge=1, le=1000)
    slow_bars: int = Field(default=20, ge=2, le=1000)
    bar_seconds: int = Field(default=60, ge=5, le=3600)
    order_type: Literal["LMT", "MKT"] = "LMT"
    allow_short: bool = False

    @model_validator(mode="after")
    def _check_periods(self) -> MaCrossStrategy:
        if self.fast_bars >= self.slow_bars:
            got = f"fast_bars = {self.fast_bars}, slow_bars = {self.slow_bars}"
            raise problems_error((("fast_bars",), f"must be < slow_bars (got {got})"))
        return self


class NakedPutStrategy(_Section):
    """``kind = "naked_put"``: sell a put at a target delta, sized by Reg-T margin."""

    kind: Literal["naked_put"] = "naked_put"
    target_delta: float = Field(default=0.30, gt=0, lt=1)  # |delta| of the put sold
    target_dte: int = Field(default=30, ge=1, le=365)  # first expiration at or beyond
    max_dte: int = Field(default=45, ge=1, le=730)  # ... but not beyond this
    min_credit: Money = Field(default=Decimal("0.50"), gt=0, le=10_000)  # mid, per share
    min_open_interest: int = Field(default=100, ge=0, le=10_000_000)
    max_margin_pct: float = Field(default=50.0, gt=0, le=100)  # of VA capital, Reg-T
    max_contracts: int = Field(default=10, ge=1, le=10_000)
    scan_interval_s: float = Field(default=60.0, ge=1, le=86_400)  # chain scans while flat
    retry_after_reject_s: float = Field(default=900.0, ge=0, le=86_400)
    reprice_interval_s: float = Field(default=5.0, gt=0, le=600)  # entry: mid toward bid
    reprice_steps: int = Field(default=4, ge=0, le=50)
    on_assignment: Literal["close", "keep"] = "close"  # close assigned stock at next open

    @model_validator(mode="after")
    def _check_dte(self) -> NakedPutStrategy:
        if self.max_dte < self.target_dte:
            got = f"max_dte = {self.max_dte}, target_dte = {self.target_dte}"
            raise problems_error((("max_dte",), f"must be >= target_dte (got {got})"))
        return self


class ExternalStrategy(_Section):
    """``kind = "external"``: signals arrive through the external inbox."""

    kind: Literal["external"] = "external"
    note: str = ""


StrategyConfig = Annotated[
    MaCrossStrategy | NakedPutStrategy | ExternalStrategy, Field(discriminator="kind")
]


class AccountLimits(_Section):
    """``[accounts.limits]``: one virtual account's own limits."""

    risk_per_trade_pct: float = Field(default=1.0, gt=0, le=10)  # of VA capital at the stop
    max_position_pct: float = Field(default=25.0, gt=0, le=100)  # of VA capital
    max_open_positions: int = Field(default=1, ge=1, le=100)
    max_drawdown_pct: float = Field(default=10.0, gt=0, le=100)
    cooldown_losses: int = Field(default=3, ge=1, le=100)  # consecutive losses
    cooldown_s: float = Field(default=300.0, ge=0, le=86_400)


class AccountConfig(_Section):
    """``[[accounts]]``: one virtual account: capital, universe, strategy and limits."""

    id: AccountId
    capital: Money = Field(gt=0, le=_MAX_MONEY)
    universe: Annotated[tuple[str, ...], ARRAY] = Field(min_length=1)
    enabled: bool = True
    strategy: StrategyConfig
    limits: AccountLimits = AccountLimits()


class EngineConfig(_Section):
    """The whole ``config.toml``: every section, cross-checked."""

    engine: EngineSettings = EngineSettings()
    broker: BrokerSettings = BrokerSettings()
    sim: SimSettings = SimSettings()
    risk: RiskSettings = RiskSettings()
    filters: FilterSettings = FilterSettings()
    orders: OrderSettings = OrderSettings()
    exits: ExitSettings = ExitSettings()
    inbox: InboxSettings = InboxSettings()
    accounts: Annotated[tuple[AccountConfig, ...], ARRAY] = Field(min_length=1, max_length=100)

    @property
    def tz(self) -> ZoneInfo:
        """The exchange time zone."""
        return ZoneInfo(self.engine.timezone)

    @property
    def open_time(self) -> time:
        """The session open as a local wall-clock time."""
        return time.fromisoformat(self.engine.session_open)

    @property
    def close_time(self) -> time:
        """The session close as a local wall-clock time."""
        return time.fromisoformat(self.engine.session_close)

    @property
    def session_minutes(self) -> int:
        """Length of the regular session in minutes."""
        opens, closes = self.open_time, self.close_time
        return (closes.hour - opens.hour) * 60 + closes.minute - opens.minute

    @property
    def enabled_accounts(self) -> tuple[AccountConfig, ...]:
        """The virtual accounts with ``enabled = true``, in file order."""
        return tuple(account for account in self.accounts if account.enabled)

    def account(self, account_id: str) -> AccountConfig:
        """The virtual account with this id.

        Args:
            account_id: The ``id`` of an ``[[accounts]]`` entry.

        Returns:
            That account's settings.

        Raises:
            KeyError: No account has that id.
        """
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(account_id)

    def sector_of(self, symbol: str) -> str:
        """The sector of a symbol in ``sim.symbols``.

        Args:
            symbol: A symbol such as ``AAPL``.

        Returns:
            Its non-empty sector name.

        Raises:
            KeyError: The symbol is not in ``sim.symbols``.
        """
        return self.sim.symbols[symbol].sector

    @model_validator(mode="after")
    def _check_cross_references(self) -> EngineConfig:
        problems: list[Problem] = []
        filters, session = self.filters, f"the session length of {self.session_minutes} minutes"
        if (margins := filters.open_margin_min + filters.close_margin_min) >= self.session_minutes:
            got = f"{filters.open_margin_min} + {filters.close_margin_min} = {margins}"
            text = f"open_margin_min + close_margin_min must be < {session} (got {got})"
            problems.append((("filters", "close_margin_min"), text))
        if (before_close := self.exits.exit_before_close_min) >= self.session_minutes:
            text = f"must be < {session} (got {before_close})"
            problems.append((("exits", "exit_before_close_min"), text))
        same_id = dict(_duplicates([account.id for account in self.accounts]))
        for index, account in enumerate(self.accounts):
            if index in same_id:
                text = f"duplicate virtual account id {describe_value(account.id)}"
                text = f"{text} (also accounts[{same_id[index]}])"
                problems.append((("accounts", index, "id"), text))
            same_symbol = dict(_duplicates(account.universe))
            for position, symbol in enumerate(account.universe):
                where, name = ("accounts", index, "universe", position), describe_value(symbol)
                if symbol not in self.sim.symbols:
                    problems.append((where, f"symbol {name} is not in sim.symbols"))
                if position in same_symbol:
                    also = f"accounts[{index}].universe[{same_symbol[position]}]"
                    problems.append((where, f"duplicate symbol {name} (also {also})"))
        if problems:
            raise problems_error(*problems)
        return self


def _duplicates(values: Sequence[str]) -> list[tuple[int, int]]:
    """``(index, index of the first occurrence)`` for every repeated value, in order."""
    first: dict[str, int] = {}
    return [(i, first[v]) for i, v in enumerate(values) if first.setdefault(v, i) != i]


def parse_config(text: str, *, source: str = "config.toml") -> EngineConfig:
    """Parse and validate the text of a config file.

    Args:
        text: TOML text.
        source: The name to start every problem line with.

    Returns:
        The validated, frozen configuration.

    Raises:
        ConfigError: The text is not valid TOML or not a valid configuration; ``problems``
            holds one line per problem.
    """
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or absurd numbers/nesting
        raise ConfigError([toml_problem(exc, source=source)]) from None
    try:
        return EngineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            validation_problems(exc, source=source, union_tags=STRATEGY_KINDS)
        ) from None


def load_config(path: str | Path) -> EngineConfig:
    """Read, parse and validate a config file.

    Args:
        path: The file; problem lines name it as given here.

    Returns:
        The validated, frozen configuration.

    Raises:
        ConfigError: The file cannot be read, is not valid TOML or not a valid configuration.
    """
    source = one_line(os.fspath(path))
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # tolerate an editor's BOM
    except FileNotFoundError:
        raise ConfigError([f"{source}: file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{source}: is a directory, not a file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{source}: not UTF-8 text (bad byte at offset {exc.start})"]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read file: {exc.strerror or exc}"]) from None
    return parse_config(text, source=source)
