"""Portfolio greek limits: an entry may not take the portfolio's net delta (in dollars,
optionally beta-weighted to SPY), net theta (dollars a day) or net vega (dollars per volatility
point) beyond the configured limits. Pure: numbers in, a ``Decision`` out; any thread.

Each limit bounds the net figure's size either way (``|net| <= limit``). An entry that leaves a
figure within its limit passes; one that takes it beyond is refused, unless the figure was
beyond already and the entry makes it smaller (a hedge must never be refused by the limit it
repairs). Beta-weighted delta dollars are each position's delta dollars times its symbol's
beta to SPY (``beta_of``: 1.0 when the table does not list the symbol).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.numbers_text import distinct_pair
from core.rules.decision import OK, Decision, reject

__all__ = [
    "DEFAULT_BETA",
    "NO_GREEKS",
    "NO_GREEK_LIMITS",
    "GreekLimits",
    "NetGreeks",
    "beta_of",
    "check_greek_limits",
    "greek_use",
]

#: The beta of a symbol the ``[risk.betas]`` table does not list.
DEFAULT_BETA = 1.0


@dataclass(frozen=True, slots=True)
class NetGreeks:
    """Signed sums over positions: delta in dollars (beta-weighted when the limits say so),
    theta in dollars a day, vega in dollars per volatility point."""

    delta_dollars: float = 0.0
    theta_per_day: float = 0.0
    vega: float = 0.0

    def plus(self, other: NetGreeks) -> NetGreeks:
        return NetGreeks(
            self.delta_dollars + other.delta_dollars,
            self.theta_per_day + other.theta_per_day,
            self.vega + other.vega,
        )


@dataclass(frozen=True, slots=True)
class GreekLimits:
    """The limits (None: that one is off) and whether delta is beta-weighted to SPY."""

    max_net_delta_dollars: float | None = None
    max_net_theta_per_day: float | None = None
    max_net_vega: float | None = None
    beta_weighted: bool = False

    @property
    def enabled(self) -> bool:
        return any(
            limit is not None
            for limit in (self.max_net_delta_dollars, self.max_net_theta_per_day, self.max_net_vega)
        )

    @property
    def delta_name(self) -> str:
        """``delta`` or, beta-weighted, ``SPY beta delta`` (how the refusal and status say it)."""
        return "SPY beta delta" if self.beta_weighted else "delta"


#: Zero greeks (an entry judged with no greek limit set) and no limit at all.
NO_GREEKS = NetGreeks()
NO_GREEK_LIMITS = GreekLimits()


def beta_of(symbol: str, betas: Mapping[str, float]) -> float:
    """``symbol``'s beta to SPY from ``betas``, ``DEFAULT_BETA`` when it is not listed."""
    return betas.get(symbol, DEFAULT_BETA)


def _money(value: float, places: int = 0) -> str:
    return f"{value:+,.{places}f}"


def _beyond(before: float, entry: float, limit: float | None) -> str:
    """Why ``before + entry`` is beyond +-``limit`` (``"+50001 beyond +-50000 (now ...)"``),
    or "" when it is not (or no limit is set, or the entry shrinks the figure)."""
    if limit is None:
        return ""
    after = before + entry
    if abs(after) <= limit or abs(after) < abs(before):
        return ""
    # At the precision that tells the figure from the limit (50000.4 is not "50000").
    shown, bound = distinct_pair(abs(after), limit, places=0)
    places = len(shown.partition(".")[2])
    return (
        f"{'-' if after < 0 else '+'}{shown} beyond +-{bound} "
        f"(now {_money(before, places)}, this entry {_money(entry, places)})"
    )


def check_greek_limits(before: NetGreeks, entry: NetGreeks, limits: GreekLimits) -> Decision:
    """The portfolio's net delta, theta and vega after ``entry`` (its own signed figures) on top
    of ``before`` (the positions and entries already approved), each within its limit; the
    first refusal wins (delta, theta, vega)."""
    why = _beyond(before.delta_dollars, entry.delta_dollars, limits.max_net_delta_dollars)
    if why:
        return reject("net_delta", f"net {limits.delta_name} $ {why}")
    why = _beyond(before.theta_per_day, entry.theta_per_day, limits.max_net_theta_per_day)
    if why:
        return reject("net_theta", f"net theta $/day {why}")
    why = _beyond(before.vega, entry.vega, limits.max_net_vega)
    if why:
        return reject("net_vega", f"net vega $/vol pt {why}")
    return OK


def greek_use(net: NetGreeks, limits: GreekLimits) -> tuple[tuple[str, str], ...]:
    """``(("delta $", "+12,300/50,000"), ...)``: each configured limit's use, for the status."""
    out: list[tuple[str, str]] = []
    for name, value, limit in (
        (f"{limits.delta_name} $", net.delta_dollars, limits.max_net_delta_dollars),
        ("theta $/d", net.theta_per_day, limits.max_net_theta_per_day),
        ("vega", net.vega, limits.max_net_vega),
    ):
        if limit is not None:
            out.append((name, f"{_money(value)}/{limit:,.0f}"))
    return tuple(out)
