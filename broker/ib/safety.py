"""Live-trading refusal: which ports and accounts the adapter may use (pure, no I/O).

Paper trading is the default. A live-trading port (TWS 7496, IB Gateway 4001) or an account
that is not a paper account (IB paper account codes start with "D", e.g. ``DU1234567``) is
refused unless the config says ``broker.ib.allow_live = true`` *and* the command line says
``--live``: two independent switches, one in a file and one typed by a person.
"""

from __future__ import annotations

from core.config import LIVE_TRADING_PORTS

__all__ = [
    "LIVE_TRADING_PORTS",
    "PAPER_TRADING_PORTS",
    "LiveTradingRefused",
    "check_account",
    "check_market_data_type",
    "check_port",
    "is_paper_account",
]

PAPER_TRADING_PORTS = frozenset({7497, 4002})
"""TWS and IB Gateway's default paper-trading ports."""

_HOW = "set broker.ib.allow_live = true in the config and pass --live to trade real money"


class LiveTradingRefused(Exception):
    """The connection could reach real money and live trading was not asked for twice.
    The message is one line, fit for a terminal."""


def is_paper_account(account: str) -> bool:
    """IB paper-trading account codes start with "D" (``DU...``, ``DF...``)."""
    return account.strip().upper().startswith("D")


def _live_allowed(allow_live: bool, live_flag: bool) -> bool:
    return allow_live and live_flag


def check_port(port: int, *, allow_live: bool, live_flag: bool) -> None:
    """Refuse a live-trading port unless both switches are on.

    Raises:
        LiveTradingRefused: ``port`` is 7496 or 4001 and live trading was not asked for twice.
    """
    if port in LIVE_TRADING_PORTS and not _live_allowed(allow_live, live_flag):
        missing = "--live was not given" if allow_live else "broker.ib.allow_live is false"
        raise LiveTradingRefused(
            f"broker.ib.port {port} is a live-trading port and {missing}: refused ({_HOW})"
        )


def check_account(account: str, *, allow_live: bool, live_flag: bool) -> None:
    """Refuse an account that is not a paper account unless both switches are on.

    Raises:
        LiveTradingRefused: ``account`` is empty or not a paper account code and live trading
            was not asked for twice.
    """
    if _live_allowed(allow_live, live_flag):
        return
    if not account:
        raise LiveTradingRefused("IB reported no account to trade: refused")
    if not is_paper_account(account):
        raise LiveTradingRefused(
            f"IB account {account} is not a paper account (paper accounts start with D): "
            f"refused ({_HOW})"
        )


def check_market_data_type(kind: str, *, port: int, account: str = "") -> None:
    """Delayed data is for paper trading only: refuse it on a live port or a live account.

    Raises:
        ValueError: one line naming ``broker.ib.market_data_type`` and why.
    """
    if not kind.startswith("delayed"):
        return
    if port in LIVE_TRADING_PORTS:
        where = f"port {port} is a live-trading port"
    elif account and not is_paper_account(account):
        where = f"account {account} is not a paper account"
    else:
        return
    raise ValueError(
        f'broker.ib.market_data_type = "{kind}" is allowed on paper only ({where}): '
        'use "live" or "frozen"'
    )
