"""The simulator as config ``[sim]`` describes it: its stocks and its option market. Both the
engine (``main.py run``) and the simulated TWS (``main.py tws-sim``) build their simulator from
these, so they live below both."""

from __future__ import annotations

from broker.sim.chains import OptionSpec
from broker.sim.market import SimSymbol
from core.config import EngineConfig, OptionSettings


def option_spec(o: OptionSettings) -> OptionSpec:
    """The simulator's option market (``[sim.options]``), for the in-process simulator and the
    simulated TWS alike."""
    return OptionSpec(
        rate=o.rate,
        iv_premium=o.iv_premium,
        skew=o.skew,
        smile=o.smile,
        weekly_expirations=o.weekly_expirations,
        monthly_expirations=o.monthly_expirations,
        leaps_expirations=o.leaps_expirations,
        strike_range_pct=o.strike_range_pct,
        spread_pct=o.spread_pct,
        min_spread=float(o.min_spread),
        otm_widening=o.otm_widening,
        short_dte_widening=o.short_dte_widening,
        display_size=o.display_size,
        open_interest_atm=o.open_interest_atm,
    )


def sim_symbols(config: EngineConfig) -> dict[str, SimSymbol]:
    """The simulated stocks of ``[sim.symbols]``."""
    return {
        name: SimSymbol(name, s.price, s.volatility, s.spread_bps, s.display_size, s.option_ticks)
        for name, s in config.sim.symbols.items()
    }
