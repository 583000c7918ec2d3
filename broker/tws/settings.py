"""``TwsSimServer``'s settings: validated once, frozen, readable from any thread."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from broker.sim import SimSymbol
from broker.sim.chains import OptionSpec
from broker.tws.contracts import InstrumentRegistry
from broker.tws.entitlements import DEFAULT_MAX_LINES, DELAYED_LAG_S, check_entitlement
from broker.tws.session import DEFAULT_SEND_BACKLOG_LIMIT, MIN_SEND_BACKLOG_LIMIT
from core.calendar import TradingCalendar

__all__ = ["DEFAULT_ACCOUNT", "TwsSimSettings", "check_host"]

DEFAULT_ACCOUNT = "DU1234567"
_NEW_YORK = ZoneInfo("America/New_York")


def check_host(host: str, *, allow_remote: bool) -> None:
    """Refuse to bind anything but a loopback address unless ``allow_remote``.

    Raises:
        ValueError: ``host`` is not loopback and ``allow_remote`` is False.
    """
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"refusing to bind {host!r}: the simulated TWS binds loopback addresses only "
            "(pass allow_remote=True to bind another address)"
        )


@dataclass(frozen=True, slots=True)
class TwsSimSettings:
    """Everything a ``TwsSimServer`` is configured with (see its docstring for meanings)."""

    host: str
    port: int
    symbols: Mapping[str, SimSymbol]
    seed: int
    start: datetime
    speed: float
    tick_interval_s: float
    calendar: TradingCalendar
    account: str = DEFAULT_ACCOUNT
    starting_cash: Decimal = Decimal(1_000_000)
    commission_per_share: Decimal = Decimal("0.0035")
    commission_min: Decimal = Decimal("0.35")
    commission_per_contract: Decimal = Decimal("0.65")
    option_commission_min: Decimal = Decimal("1.00")
    option_spec: OptionSpec = field(default_factory=OptionSpec)
    maint_margin_long_pct: float = 25.0
    maint_margin_short_pct: float = 30.0
    drift_annual: float = 0.0
    industries: Mapping[str, str] = field(default_factory=dict)
    # TWS refreshes reqAccountUpdates values about every 3 minutes unless a position changes
    # (tws-api account_updates.html); tests that want fresher values set a shorter interval.
    account_push_interval_s: float = 180.0
    # reqPnL answers about once a second (tws-api pnl.html): simulated seconds between pushes.
    pnl_push_interval_s: float = 1.0
    # Reg-T initial margin on stock positions, percent of value (Regulation T, 12 CFR 220.12:
    # 50 %); maintenance is ``maint_margin_*_pct`` (FINRA Rule 4210: 25 % long).
    init_margin_pct: float = 50.0
    primary_exchange: str = ""  # "" = each symbol's real listing (broker.sim.listings)
    primary_exchanges: Mapping[str, str] = field(default_factory=dict)
    # reqExecutions lists only the executions since midnight of the simulated clock, as TWS
    # does (IB: *Executions and Commissions*); False lists every one since the start.
    executions_today_only: bool = True
    # Expired options are settled overnight (at this local time the morning after the
    # expiration day), as IB processes them; None settles them at the close.
    settlement_time: time | None = time(2, 30)
    # What the account may see: live | delayed | none (broker/tws/entitlements.py).
    entitlements: str = "live"
    max_market_data_lines: int = DEFAULT_MAX_LINES  # IB's default; error 101 beyond
    delayed_lag_s: float = DELAYED_LAG_S  # how late delayed streams are (simulated seconds)
    # A client with more unsent bytes than this is dropped (broker/tws/session.py).
    send_backlog_limit_bytes: int = DEFAULT_SEND_BACKLOG_LIMIT
    registry: InstrumentRegistry = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("the simulated TWS needs at least one symbol")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535 (got {self.port})")
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0 (got {self.speed})")
        if not self.tick_interval_s > 0:
            raise ValueError(f"tick_interval_s must be > 0 (got {self.tick_interval_s})")
        if not self.account_push_interval_s > 0:
            raise ValueError("account_push_interval_s must be > 0")
        if not self.pnl_push_interval_s > 0:
            raise ValueError("pnl_push_interval_s must be > 0")
        if not 0 <= self.init_margin_pct <= 100:
            raise ValueError(f"init_margin_pct must be 0..100 (got {self.init_margin_pct})")
        check_entitlement(self.entitlements)
        if self.max_market_data_lines < 1:
            raise ValueError(
                f"max_market_data_lines must be >= 1 (got {self.max_market_data_lines})"
            )
        if self.send_backlog_limit_bytes < MIN_SEND_BACKLOG_LIMIT:
            raise ValueError(
                f"send_backlog_limit_bytes must be >= {MIN_SEND_BACKLOG_LIMIT} "
                f"(got {self.send_backlog_limit_bytes})"
            )
        if self.delayed_lag_s < 0:
            raise ValueError(f"delayed_lag_s must be >= 0 (got {self.delayed_lag_s})")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not self.account or "," in self.account:
            raise ValueError(f"account must be one non-empty account code (got {self.account!r})")
        registry = InstrumentRegistry(
            self.symbols,
            primary_exchange=self.primary_exchange,
            industries=self.industries,
            primary_exchanges=self.primary_exchanges,
            option_ticks={name: spec.option_ticks for name, spec in self.symbols.items()},
        )
        object.__setattr__(self, "registry", registry)

    @classmethod
    def build(
        cls,
        *,
        host: str,
        port: int,
        symbols: Mapping[str, SimSymbol],
        seed: int,
        start: datetime,
        speed: float,
        tick_interval_s: float,
        calendar: TradingCalendar | None,
        options: Mapping[str, object],
    ) -> TwsSimSettings:
        """Settings from the server's arguments plus optional ``options`` by field name.

        Raises:
            TypeError: an unknown option.
            ValueError: an invalid value.
        """
        known = {f.name for f in fields(cls)} - {"registry"}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown TwsSimServer option(s): {', '.join(sorted(unknown))}")
        return cls(
            host=host,
            port=port,
            symbols=dict(symbols),
            seed=seed,
            start=start,
            speed=float(speed),
            tick_interval_s=float(tick_interval_s),
            calendar=calendar or TradingCalendar(_NEW_YORK),
            **options,  # type: ignore[arg-type]
        )
