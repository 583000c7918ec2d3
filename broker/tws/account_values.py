"""The account's numbers as TWS spells them: ``updateAccountValue`` rows and ``accountSummary``
rows (with the ``$LEDGER`` expansions) from a dict of figures by IB tag name.

Pure: no I/O, no threads. ``AccountBook.figures`` supplies the figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

__all__ = ["account_value_rows", "ledger_tags", "money_text", "summary_rows"]

_CENT = Decimal("0.01")
_LEDGER_TAGS = (
    "CashBalance",
    "TotalCashBalance",
    "AccruedCash",
    "StockMarketValue",
    "OptionMarketValue",
    "NetLiquidationByCurrency",
    "UnrealizedPnL",
    "RealizedPnL",
    "ExchangeRate",
)

Figures = Mapping[str, Decimal]


def money_text(value: Decimal) -> str:
    """Dollars to cents, as TWS prints them (``1234.50``)."""
    return format(value.quantize(_CENT), "f")


def ledger_tags(tag: str) -> tuple[str, ...]:
    """The currencies a ``$LEDGER`` summary tag asks for (empty for an ordinary tag)."""
    if tag == "$LEDGER":
        return ("BASE",)
    if tag == "$LEDGER:ALL":
        return ("BASE", "USD")
    if tag.startswith("$LEDGER:"):
        return (tag.split(":", 1)[1],)
    return ()


def _cushion(f: Figures) -> str:
    net_liq = f["NetLiquidation"]
    if net_liq <= 0:
        return "0"
    return format((f["ExcessLiquidity"] / net_liq).quantize(Decimal("0.0001")), "f")


def _leverage(f: Figures) -> str:
    net_liq = f["NetLiquidation"]
    if net_liq <= 0:
        return "0"
    return format((f["GrossPositionValue"] / net_liq).quantize(Decimal("0.01")), "f")


def account_value_rows(f: Figures, account_id: str) -> list[tuple[str, str, str]]:
    """``updateAccountValue`` rows: (key, value, currency)."""
    rows = [
        ("AccountCode", account_id, ""),
        ("AccountReady", "true", ""),
        ("AccountType", "INDIVIDUAL", ""),
        ("Currency", "USD", "USD"),
        ("Currency", "BASE", "BASE"),
        ("DayTradesRemaining", "-1", ""),
        ("Cushion", _cushion(f), ""),
        ("Leverage-S", _leverage(f), ""),
        ("ExchangeRate", "1.00", "USD"),
    ]
    for key in (
        "CashBalance",
        "TotalCashBalance",
        "StockMarketValue",
        "OptionMarketValue",
        "UnrealizedPnL",
    ):
        rows += [(key, money_text(f[key]), "BASE"), (key, money_text(f[key]), "USD")]
    rows += [("RealizedPnL", money_text(f["RealizedPnL"]), c) for c in ("BASE", "USD")]
    rows.append(("NetLiquidationByCurrency", money_text(f["NetLiquidation"]), "BASE"))
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
        rows.append((key, money_text(f[key]), "USD"))
    for key in ("InitMarginReq", "MaintMarginReq", "AvailableFunds", "ExcessLiquidity"):
        rows.append((f"Full{key}", money_text(f[key]), "USD"))
    return rows


def summary_rows(f: Figures, tags: Iterable[str]) -> list[tuple[str, str, str]]:
    """``accountSummary`` rows (tag, value, currency) for the requested tags; unknown tags are
    left out, ``$LEDGER[:CUR|:ALL]`` expands to the ledger tags."""
    rows: list[tuple[str, str, str]] = []
    for tag in tags:
        currencies = ledger_tags(tag)
        if currencies:
            for currency in currencies:
                for key in _LEDGER_TAGS:
                    value = "1.00" if key == "ExchangeRate" else money_text(f[key])
                    rows.append((key, value, currency))
                rows.append(("Currency", currency, currency))
            continue
        row = _summary_row(tag, f)
        if row is not None:
            rows.append(row)
    return rows


def _summary_row(tag: str, f: Figures) -> tuple[str, str, str] | None:
    fixed = {
        "AccountType": "INDIVIDUAL",
        "Cushion": _cushion(f),
        "Leverage": _leverage(f),
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
    return tag, money_text(f[key]), "USD"
