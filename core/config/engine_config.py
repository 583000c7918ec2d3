"""``EngineConfig``: the whole ``config.toml``, every section cross-checked (see
``core.config``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from core.config.accounts import AccountConfig
from core.config.notify import NotifySettings
from core.config.sections import (
    BrokerSettings,
    ControlSettings,
    EngineSettings,
    ExitSettings,
    FilterSettings,
    InboxSettings,
    OrderSettings,
    RiskSettings,
    SimSettings,
)
from core.config_errors import ARRAY, Problem, describe_value, problems_error
from core.config_section import Section
from core.config_values import control_socket_path, socket_path_problem

__all__ = ["EngineConfig"]


class EngineConfig(Section):
    """The whole ``config.toml``: every section, cross-checked."""

    engine: EngineSettings = EngineSettings()
    broker: BrokerSettings = BrokerSettings()
    sim: SimSettings = SimSettings()
    risk: RiskSettings = RiskSettings()
    filters: FilterSettings = FilterSettings()
    orders: OrderSettings = OrderSettings()
    exits: ExitSettings = ExitSettings()
    inbox: InboxSettings = InboxSettings()
    control: ControlSettings = ControlSettings()
    notify: NotifySettings = NotifySettings()
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
        if self.control.enabled:
            socket = control_socket_path(
                self.control.socket, self.engine.database_url, self.engine.instance
            )
            if (problem := socket_path_problem(socket)) is not None:
                problems.append((("control", "socket"), problem))
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
