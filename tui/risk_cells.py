"""Pure formatting of risk as a trader reads it: a position's exits as prices (profit target,
stop, time-exit date), an option's underlying, IV, delta in dollars, theta a day and margin;
per-VA and portfolio totals of delta, theta and margin; the account line.

No Textual import and no state (like ``tui.formatting``): snapshots in, ``Text`` out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from actors.messages.snapshots import PositionSnapshot, RiskStatus
from core.text import printable

__all__ = [
    "RiskTotals",
    "account_text",
    "exit_cells",
    "greek_cells",
    "greek_limits_text",
    "inspector_risk_text",
    "risk_totals",
    "totals_cells",
    "totals_label",
]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RiskTotals:
    """Delta in dollars of the underlyings, theta in dollars a day, and margin in use, summed
    over positions (those that report them)."""

    delta_dollars: float
    theta_per_day: float
    margin: Decimal
    positions: int


def risk_totals(positions: Iterable[PositionSnapshot]) -> RiskTotals:
    """The totals of ``positions`` (a VA's, or all of them for the portfolio)."""
    delta, theta, margin, count = 0.0, 0.0, _ZERO, 0
    for position in positions:
        count += 1
        delta += position.delta_dollars or 0.0
        theta += position.theta_per_day or 0.0
        margin += position.margin or _ZERO
    return RiskTotals(delta, theta, margin, count)


def _right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def _dollars(value: float | Decimal | None, *, signed: bool = False) -> Text:
    """Whole dollars (``+12,345``): risk figures, where cents are noise."""
    if value is None:
        return _right("-", "dim")
    return _right(f"{value:+,.0f}" if signed else f"{value:,.0f}")


def _theta(value: float | None) -> Text:
    if value is None:
        return _right("-", "dim")
    return _right(f"{value:+,.2f}", "green" if value > 0 else "red" if value < 0 else "")


def totals_cells(totals: RiskTotals | None) -> tuple[Text, Text, Text]:
    """A VA row's Delta $, Theta/d and Margin cells (dashes without positions)."""
    if totals is None or totals.positions == 0:
        return (_right("-", "dim"), _right("-", "dim"), _right("-", "dim"))
    return (
        _dollars(totals.delta_dollars, signed=True),
        _theta(totals.theta_per_day),
        _dollars(totals.margin),
    )


def totals_label(totals: RiskTotals) -> str:
    """``portfolio delta $ +12,345  theta/d +210.50  margin 48,200`` (the VA table's footer)."""
    return (
        f"portfolio delta $ {totals.delta_dollars:+,.0f}  theta/d {totals.theta_per_day:+,.2f}"
        f"  margin {totals.margin:,.0f}"
    )


def _price(value: Decimal | float | None) -> Text:
    return _right("-", "dim") if value is None else _right(f"{value:,.2f}")


def exit_cells(snapshot: PositionSnapshot) -> tuple[Text, Text, Text]:
    """The Target, Stop and Exit-by cells: the profit target (a short option's buy-back
    price), the stop (a short option's: the mark its stop fires at) and the time exit's
    date (``12-04``, an option's)."""
    time_exit = snapshot.time_exit
    return (
        _price(snapshot.target_price),
        _price(snapshot.stop_price),
        _right("-", "dim") if time_exit is None else _right(f"{time_exit:%m-%d}"),
    )


def greek_cells(snapshot: PositionSnapshot) -> tuple[Text, Text, Text, Text, Text]:
    """The Und, IV, Delta $, Theta/d and Margin cells of a position: the underlying's mid and
    the implied volatility (options), delta in dollars, theta in dollars a day, margin."""
    option = snapshot.contract.is_option
    iv = snapshot.iv
    return (
        _price(snapshot.underlying_price),
        _right("-", "dim") if iv is None else _right(f"{iv * 100:.0f}%"),
        _dollars(snapshot.delta_dollars, signed=True),
        _theta(snapshot.theta_per_day if option else None),
        _dollars(snapshot.margin),
    )


def _figure(text: Text, label: str, value: Decimal | None) -> None:
    text.append(f"  {label} ", style="dim")
    text.append("-" if value is None else f"{value:,.0f}")


def account_text(status: RiskStatus | None) -> Text:
    """``acct SIM  net liq 1,002,345  cash 950,120  BP 3,800,000  excess liq 950,000  margin
    52,225``: the account as the broker last reported it (BP: buying power)."""
    text = Text("acct ", style="dim")
    if status is None or status.net_liquidation is None:
        text.append("- (no account update yet)", style="dim")
        return text
    text.append(printable(status.account_id) or "-", style="bold")
    _figure(text, "net liq", status.net_liquidation)
    _figure(text, "cash", status.cash)
    _figure(text, "BP", status.buying_power)
    _figure(text, "excess liq", status.excess_liquidity)
    _figure(text, "margin", status.maint_margin)  # its percent of net liq: the limits line
    return text


def greek_limits_text(status: RiskStatus | None) -> Text | None:
    """``greek limits  delta $ +12,300/50,000  theta $/d +45/1,000  vega -320/5,000``: each
    configured portfolio greek limit's use, net/limit, under the account line (its own line:
    beside the account's figures it would be cut at 160 columns); None when none is set."""
    if status is None or not status.greek_limits:
        return None
    text = Text("greek limits", style="dim")
    for name, use in status.greek_limits:
        text.append(f"  {printable(name)} ", style="dim")
        text.append(printable(use))
    return text


def inspector_risk_text(va_id: str, positions: Iterable[PositionSnapshot]) -> Text:
    """The inspector's risk rows: the VA's delta in dollars, theta a day and margin beside the
    portfolio's, then each of its positions' exits as prices (target, stop, time exit) and,
    for an option, the underlying and IV."""
    every = list(positions)
    own = [p for p in every if p.va_id == va_id]
    mine, portfolio = risk_totals(own), risk_totals(every)
    text = Text()
    for label, value, total in (
        ("delta $", f"{mine.delta_dollars:+,.0f}", f"{portfolio.delta_dollars:+,.0f}"),
        ("theta/d", f"{mine.theta_per_day:+,.2f}", f"{portfolio.theta_per_day:+,.2f}"),
        ("margin", f"{mine.margin:,.0f}", f"{portfolio.margin:,.0f}"),
    ):
        text.append(f"\n{label:<12} ", style="dim")
        text.append(value)
        text.append(f"  (portfolio {total})", style="dim")
    for position in own:
        target, stop, time_exit = (cell.plain for cell in exit_cells(position))
        rows = [("exits of", printable(position.contract.key)), ("  target", target)]
        rows += [("  stop", stop), ("  time exit", time_exit)]
        if position.contract.is_option:
            under, iv = (cell.plain for cell in greek_cells(position)[:2])
            rows += [("  underlying", under), ("  IV", iv)]
        for label, value in rows:
            text.append(f"\n{label:<12} ", style="dim")
            text.append(value, style="bold" if label == "exits of" else "")
    return text
