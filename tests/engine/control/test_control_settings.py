"""``[control]`` in config.toml: its defaults, and a value out of bounds refused in one line."""

from __future__ import annotations

import pytest

from core.config import ConfigError, parse_config
from tests.support.engine import BASE_TOML

TEXT = BASE_TOML.format(risk="", filters="", exits="", limits="", orders="")


def test_the_control_channel_is_on_by_default_with_its_documented_settings() -> None:
    control = parse_config(TEXT).control
    assert (control.enabled, control.socket, control.flush_interval_s) == (True, "", 0.25)
    assert (control.client_buffer_kib, control.max_clients, control.events_kept) == (1024, 16, 200)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("flush_interval_s = 0.001", "control.flush_interval_s: must be >= 0.02 (got 0.001)"),
        ("flush_interval_s = 10", "control.flush_interval_s: must be <= 5.0 (got 10)"),
        ("client_buffer_kib = 8", "control.client_buffer_kib: must be >= 64 (got 8)"),
        ("max_clients = 0", "control.max_clients: must be >= 1 (got 0)"),
        ("events_kept = -1", "control.events_kept: must be >= 0 (got -1)"),
        ('enabled = "yes"', "control.enabled: "),
        ("port = 1", "control.port: "),
    ],
)
def test_a_control_setting_out_of_bounds_is_one_line_naming_the_key(
    line: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(f"{TEXT}\n[control]\n{line}\n")
    (only,) = refused.value.problems
    assert only.startswith(f"config.toml: {problem}"), only
