"""What a config reload may change while the engine runs, and the diff a trader is shown.

Pure: compares two validated configs. Risk limits, market filters, order settings, exit rules and
each existing VA's limits and strategy parameters apply live. Anything else (the engine's
database or time zone, the broker, the simulator, adding or removing a VA, a VA's capital or
universe, a strategy's kind) is refused with a message naming the key; it takes a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.config import AccountConfig, EngineConfig

__all__ = ["LIVE_SECTIONS", "ReloadPlan", "diff_configs", "plan_reload"]

#: Top-level sections that change live as a whole.
LIVE_SECTIONS = ("risk", "filters", "orders", "exits")


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """The effective config after a reload, what changed, and what was refused."""

    config: EngineConfig
    applied: tuple[str, ...]  # "risk.max_trades_per_day: 10 -> 12"
    refused: tuple[str, ...]  # "broker.ib.host: cannot change while running (restart)"

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list | tuple) for v in value):
            out[prefix] = list(value)
        else:
            for index, item in enumerate(value):
                _flatten(item, f"{prefix}[{index}]", out)
    else:
        out[prefix] = value


def _accounts_by_id(config: EngineConfig) -> dict[str, dict[str, Any]]:
    return {a.id: a.model_dump(mode="json") for a in config.accounts}


def diff_configs(old: EngineConfig, new: EngineConfig) -> list[tuple[str, Any, Any]]:
    """(key path, old value, new value) for every leaf that differs. Accounts are matched by id
    and named ``accounts[<id>]`` so that reordering the file changes nothing."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    old_dump = old.model_dump(mode="json", exclude={"accounts"})
    new_dump = new.model_dump(mode="json", exclude={"accounts"})
    _flatten(old_dump, "", before)
    _flatten(new_dump, "", after)
    for account_id, dump in _accounts_by_id(old).items():
        _flatten(dump, f"accounts[{account_id}]", before)
    for account_id, dump in _accounts_by_id(new).items():
        _flatten(dump, f"accounts[{account_id}]", after)
    missing = object()
    return [
        (key, before.get(key, missing), after.get(key, missing))
        for key in sorted(before.keys() | after.keys())
        if before.get(key, missing) != after.get(key, missing)
    ]


def _is_live(key: str, old: EngineConfig, new: EngineConfig) -> bool:
    if key.split(".", 1)[0] in LIVE_SECTIONS:
        return True
    if not key.startswith("accounts["):
        return False
    account_id, _, rest = key[len("accounts[") :].partition("].")
    old_ids = {a.id for a in old.accounts}
    new_ids = {a.id for a in new.accounts}
    if account_id not in old_ids or account_id not in new_ids:
        return False
    if rest.startswith("limits."):
        return True
    if rest.startswith("strategy.") and rest != "strategy.kind":
        return old.account(account_id).strategy.kind == new.account(account_id).strategy.kind
    return False


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return "(none)" if text == "<object object>" or value is None else text


def plan_reload(old: EngineConfig, new: EngineConfig) -> ReloadPlan:
    """Split the differences into what applies live and what is refused, and build the config
    the engine runs with afterwards (the old one with every live change applied)."""
    applied: list[str] = []
    refused: list[str] = []
    for key, before, after in diff_configs(old, new):
        line = f"{key}: {_show(before)} -> {_show(after)}"
        if _is_live(key, old, new):
            applied.append(line)
        else:
            refused.append(f"{key}: cannot change while running (restart to apply {_show(after)})")
    if not applied:
        return ReloadPlan(old, (), tuple(refused))
    new_accounts = {a.id: a for a in new.accounts}
    accounts: list[AccountConfig] = []
    for account in old.accounts:
        fresh = new_accounts.get(account.id)
        if fresh is None:
            accounts.append(account)
            continue
        update: dict[str, Any] = {"limits": fresh.limits}
        if fresh.strategy.kind == account.strategy.kind:
            update["strategy"] = fresh.strategy
        accounts.append(account.model_copy(update=update))
    update_top: dict[str, Any] = {name: getattr(new, name) for name in LIVE_SECTIONS}
    update_top["accounts"] = tuple(accounts)
    return ReloadPlan(old.model_copy(update=update_top), tuple(applied), tuple(refused))
