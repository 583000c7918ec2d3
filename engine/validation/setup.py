"""The validation's engine config, derived from the trader's config (pure: no I/O, no threads).

The validation runs the config's own naked-put VAs over ``--broker ib`` against an in-process
simulated TWS. A few settings cannot keep their shipped values at 300x real time, and the
expiry horizon is shortened so that option trades open and close within days rather than
weeks; every change is listed in ``ValidationSetup.changes`` and printed in the report.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from core.config import EngineConfig
from core.config_errors import ConfigError, validation_problems

__all__ = ["HorizonOverrides", "ValidationSetup", "validation_config"]


@dataclass(frozen=True, slots=True)
class HorizonOverrides:
    """What the validation changes in every naked-put VA and in the option exit rules.

    ``target_dte``/``max_dte``: the expirations sold (the shipped 30-45 days would need months
    of simulated time for 20 round trips). ``time_exit_dte``: days to expiry at which a
    position is bought back. ``reprice_interval_s``: clock seconds between an entry's
    re-prices (the shipped 5 s is 17 wall milliseconds at 300x, shorter than one round trip to
    TWS), ``reprice_steps`` how many. ``daily_loss_limit_pct``: the breaker's limit, low enough
    for the drill's sell-off to reach."""

    target_dte: int = 4
    max_dte: int = 11
    time_exit_dte: int = 3
    reprice_interval_s: float = 60.0
    reprice_steps: int = 4
    daily_loss_limit_pct: float = 1.0


@dataclass(frozen=True, slots=True)
class ValidationSetup:
    """The config the validation runs and the list of what it changed (one line each)."""

    config: EngineConfig
    changes: tuple[str, ...]
    vas: tuple[str, ...]


def validation_config(
    data: dict[str, Any],
    *,
    database_url: str,
    client_id: int,
    speed: float,
    horizon: HorizonOverrides = HorizonOverrides(),
    source: str = "config.toml",
) -> ValidationSetup:
    """The validation's config from ``data`` (the trader's config file, parsed TOML).

    Raises:
        ValueError: the config has no enabled naked-put VA (one line).
        ConfigError: the result is not a valid config (one line per problem).
    """
    out = copy.deepcopy(data)
    changes: list[str] = []

    def put(section: str, key: str, value: object, why: str) -> None:
        table = out.setdefault(section, {})
        before = table.get(key)
        table[key] = value
        if before != value:
            changes.append(f"[{section}] {key} = {value!r} (was {before!r}): {why}")

    puts = [
        a
        for a in out.get("accounts", [])
        if a.get("strategy", {}).get("kind") == "naked_put" and a.get("enabled", True)
    ]
    if not puts:
        raise ValueError("validate: the config has no enabled naked_put VA to validate")
    dropped = [a.get("id", "?") for a in out.get("accounts", []) if a not in puts]
    if dropped:
        changes.append(f"VAs left out (not naked_put or disabled): {', '.join(dropped)}")
    out["accounts"] = puts
    for account in puts:
        strategy = account["strategy"]
        strategy["target_dte"] = horizon.target_dte
        strategy["max_dte"] = max(horizon.max_dte, horizon.target_dte)
        strategy["reprice_interval_s"] = horizon.reprice_interval_s
        strategy["reprice_steps"] = horizon.reprice_steps
    changes.append(
        f"naked_put VAs: target_dte = {horizon.target_dte}, max_dte = {horizon.max_dte}, "
        f"reprice_interval_s = {horizon.reprice_interval_s}, reprice_steps = "
        f"{horizon.reprice_steps}: round trips within days"
    )
    out.setdefault("broker", {})["kind"] = "ib"
    ib = out["broker"].setdefault("ib", {})
    ib["client_id"] = client_id
    ib["host"] = "127.0.0.1"
    ib["allow_live"] = False
    ib["dry_run"] = False
    stale_s = max(float(ib.get("stale_data_s", 60.0)), 2.0 * speed)
    ib["stale_data_s"] = stale_s
    changes.append(f"[broker.ib] stale_data_s = {stale_s}: two wall seconds at {speed:g}x")
    ack_s = max(float(ib.get("ack_timeout_s", 30.0)), 2.0 * speed)
    ib["ack_timeout_s"] = ack_s
    changes.append(
        f"[broker.ib] ack_timeout_s = {ack_s}: two wall seconds at {speed:g}x for IB's "
        "acknowledgement of an order (the shipped 30 clock s is "
        f"{30 / speed * 1000:.0f} wall ms)"
    )
    out.setdefault("engine", {})["database_url"] = database_url
    put("inbox", "enabled", False, "no external signals in the validation")
    stale_s = horizon.reprice_interval_s * (horizon.reprice_steps + 2)
    put(
        "orders",
        "stale_entry_s",
        stale_s,
        "an entry walks its re-prices before it counts as stale (at the shipped 30 clock s an "
        f"option entry is cancelled a tenth of a wall second after it went out at {speed:g}x)",
    )
    put(
        "risk",
        "what_if_timeout_s",
        min(600.0, max(30.0, 2.0 * speed)),
        f"two wall seconds for IB's what-if answer at {speed:g}x (the shipped 30 clock s is "
        f"{30 / speed * 1000:.0f} wall ms)",
    )
    put(
        "risk",
        "daily_loss_limit_pct",
        horizon.daily_loss_limit_pct,
        "the breaker drill's gap of the few short puts held must be able to trip it without "
        "a loss so deep that a VA's drawdown limit pauses it for the rest of the run",
    )
    put("filters", "max_quote_age_ms", 60_000, f"a wall millisecond is {speed:g} clock ms")
    exits = out.setdefault("exits", {})
    options = exits.setdefault("options", {})
    before = options.get("time_exit_dte")
    options["time_exit_dte"] = horizon.time_exit_dte
    if before != horizon.time_exit_dte:
        changes.append(
            f"[exits.options] time_exit_dte = {horizon.time_exit_dte} (was {before!r}): "
            "the shortened horizon"
        )
    try:
        config = EngineConfig.model_validate(out)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, source=source)) from None
    return ValidationSetup(config, tuple(changes), tuple(a["id"] for a in puts))
