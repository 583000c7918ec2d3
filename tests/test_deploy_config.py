"""The container deployment's files agree with each other and with config.toml: deploy/config.toml
is config.toml with the container's keys changed (nothing else drifts), it loads, and
docker-compose.yml starts tws-sim on the port the engine connects to and gives the engine the
ledger deploy/config.toml names. deploy/docker_test.sh (`make docker-test`) runs the real thing."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import main
from core.config import load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"
DEPLOY_CONFIG = ROOT / "deploy" / "config.toml"
COMPOSE = ROOT / "docker-compose.yml"

# What a container changes, and why: the ledger, the inbox and the control socket in the /data
# volume, the logs in the /logs volume, and the broker: the TWS API on 127.0.0.1:4002, IB
# Gateway's paper port, where tws-sim or an IB Gateway container in the same network namespace
# answers.
CONTAINER_KEYS: dict[tuple[str, ...], object] = {
    ("engine", "database_url"): "sqlite:////data/engine.db",
    ("engine", "log_dir"): "/logs",
    ("broker", "kind"): "ib",
    ("broker", "ib", "port"): 4002,
    ("inbox", "path"): "/data/inbox/signals.jsonl",
    ("control", "socket"): "/data/control/main.sock",
}


def _read(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _with(table: dict[str, Any], keys: dict[tuple[str, ...], object]) -> dict[str, Any]:
    for path, value in keys.items():
        section = table
        for name in path[:-1]:
            section = section[name]
        assert path[-1] in section, f"config.toml has no {'.'.join(path)} any more"
        section[path[-1]] = value
    return table


def test_the_container_config_is_config_toml_with_the_container_keys_only() -> None:
    expected = _with(_read(CONFIG), CONTAINER_KEYS)
    actual = _read(DEPLOY_CONFIG)
    drifted = sorted(set(expected) ^ set(actual)) + sorted(
        name for name in set(expected) & set(actual) if expected[name] != actual[name]
    )
    assert not drifted, (
        f"deploy/config.toml differs from config.toml beyond the container keys in [{drifted}]: "
        "make the same change in both"
    )


def test_the_container_config_loads_and_keeps_its_state_in_the_volumes() -> None:
    config = load_config(DEPLOY_CONFIG)
    assert config.broker.kind == "ib"
    assert not config.broker.ib.allow_live
    assert config.broker.ib.host == "127.0.0.1"
    assert config.engine.database_url.startswith("sqlite:////data/")
    assert config.engine.log_dir == "/logs"
    assert config.inbox.path.startswith("/data/")
    assert config.control.enabled
    assert config.control.socket.startswith("/data/")


def test_the_container_config_passes_check_config() -> None:
    assert main.main(["check-config", "--config", str(DEPLOY_CONFIG)]) == 0


def test_compose_starts_tws_sim_where_the_engine_connects_and_gives_it_that_ledger() -> None:
    compose = COMPOSE.read_text()
    config = load_config(DEPLOY_CONFIG)
    ports = set(re.findall(r"--port=(\d+)", compose)) | set(
        re.findall(r"\('127\.0\.0\.1', (\d+)\)", compose)
    )
    assert ports == {str(config.broker.ib.port)}, (
        f"docker-compose.yml: tws-sim's port and probe {sorted(ports)} != broker.ib.port "
        f"{config.broker.ib.port} of deploy/config.toml"
    )
    ledgers = set(re.findall(r"ENGINE_DB:-([^}]+)\}", compose))
    assert ledgers == {config.engine.database_url}, (
        f"docker-compose.yml: the default ledger {sorted(ledgers)} != engine.database_url "
        f"{config.engine.database_url} of deploy/config.toml"
    )
