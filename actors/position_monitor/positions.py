"""The PositionMonitor's shared state: the positions it watches (one per VA and contract, with
the latest mark and the exit last requested) and the settings it reads.

Lives on the monitor's actor thread (mutable, never sent); what leaves the actor is a frozen
``PositionSnapshot``, ``GreeksSnapshot`` or ``ExitRequest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.config import EngineConfig, ExitSettings, SimSettings
from core.domain import Contract, Quote
from core.rules.exits import OptionExitRules, StockExitRules
from core.rules.greeks import PositionRisk
from core.rules.wheel import wheel_exit_rules

__all__ = ["MonitorSettings", "PositionKey", "WatchedPosition", "quote_mid"]

ZERO = Decimal(0)

#: (VA id, contract key): one watched position.
PositionKey = tuple[str, str]


def quote_mid(quote: Quote) -> Decimal:
    """The exact mid (``Decimal(str(quote.mid))`` would carry the float sum's error)."""
    return (Decimal(str(quote.bid)) + Decimal(str(quote.ask))) / 2


@dataclass(slots=True)
class WatchedPosition:
    va_id: str
    contract: Contract
    quantity: int
    avg_price: Decimal
    stop_price: Decimal | None
    opened_at: datetime | None
    mark: Decimal | None = None
    exit_requested: str = ""  # the reason already sent, until the position changes
    exit_requested_at: datetime | None = None
    quote: Quote | None = None  # the latest quote of the contract (greeks for an option)
    risk: PositionRisk | None = None  # as on the last snapshot published
    stale: bool = False  # the mark was stale on the last snapshot published

    @property
    def mark_time(self) -> datetime | None:
        return self.quote.time if self.quote is not None and self.mark is not None else None

    @property
    def delayed(self) -> bool:
        return self.quote is not None and self.quote.data_type.is_delayed

    def mark_with(self, quote: Quote) -> None:
        """Take ``quote`` as the position's latest: its mid is the mark."""
        self.mark = quote_mid(quote)
        self.quote = quote

    def unrealized(self) -> Decimal:
        if self.mark is None:
            return ZERO
        return (self.mark - self.avg_price) * self.quantity * self.contract.multiplier


@dataclass(slots=True)
class MonitorSettings:
    """The exit rules and the config sections the monitor reads; replaced on a reload.
    ``wheel_vas``: the VAs that wheel their assigned stock (no stock exit rules on it, the
    wheel's option exit rules, ``core.rules.wheel``)."""

    stock_rules: StockExitRules
    option_rules: OptionExitRules
    exits: ExitSettings
    sim: SimSettings
    wheel_vas: frozenset[str] = frozenset()

    @classmethod
    def of(cls, config: EngineConfig) -> MonitorSettings:
        return cls(
            _stock_rules(config.exits),
            _option_rules(config.exits),
            config.exits,
            config.sim,
            _wheel_vas(config),
        )

    def reload(self, config: EngineConfig) -> None:
        self.stock_rules = _stock_rules(config.exits)
        self.option_rules = _option_rules(config.exits)
        self.exits, self.sim = config.exits, config.sim
        self.wheel_vas = _wheel_vas(config)

    def option_rules_for(self, va_id: str, contract: Contract) -> OptionExitRules:
        """The option exit rules of ``va_id``'s position in ``contract``."""
        if va_id in self.wheel_vas:
            return wheel_exit_rules(self.option_rules)
        return self.option_rules


def _wheel_vas(config: EngineConfig) -> frozenset[str]:
    return frozenset(a.id for a in config.accounts if a.strategy.wheels_stock())


def _stock_rules(exits: ExitSettings) -> StockExitRules:
    return StockExitRules(
        profit_target_pct=exits.profit_target_pct,
        max_holding_min=exits.max_holding_min,
        exit_before_close_min=exits.exit_before_close_min,
    )


def _option_rules(exits: ExitSettings) -> OptionExitRules:
    options = exits.options
    return OptionExitRules(
        profit_take_pct=options.profit_take_pct,
        stop_loss_multiple=options.stop_loss_multiple,
        time_exit_dte=options.time_exit_dte,
    )
