"""``[notify]``: off by default, URLs never in the file, a bad value is one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import NOTIFY_KINDS, ConfigError, parse_config

SHIPPED = (Path(__file__).resolve().parents[2] / "config.toml").read_text()
#: The shipped file without its [notify] section, which each test writes its own way.
_START, _END = SHIPPED.index("\n[notify]\n"), SHIPPED.index("\n# Virtual accounts:")
WITHOUT_NOTIFY = SHIPPED[:_START] + SHIPPED[_END:]


def problems(section: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(WITHOUT_NOTIFY + "\n[notify]\n" + section)
    return caught.value.problems


def test_notifications_are_off_by_default_and_every_kind_is_chosen() -> None:
    assert parse_config(WITHOUT_NOTIFY).notify == parse_config(SHIPPED).notify
    notify = parse_config(SHIPPED).notify
    assert notify.enabled is False
    assert notify.urls_env == "ENGINE_NOTIFY_URLS"
    assert notify.events == NOTIFY_KINDS


def test_a_url_where_the_variable_name_belongs_is_refused_without_echoing_it() -> None:
    lines = problems('urls_env = "tgram://123456:SECRETtoken/42"')
    assert len(lines) == 1 and lines[0].startswith(
        "config.toml: notify.urls_env: expected the NAME"
    )
    assert "SECRETtoken" not in lines[0]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('events = ["fill", "sms"]', "notify.events: unknown kind 'sms'"),
        ("min_interval_s = -1", "notify.min_interval_s"),
        ("min_fill_quantity = 0", "notify.min_fill_quantity"),
        ("disconnect_after_s = -5", "notify.disconnect_after_s"),
        ("margin_near_pct = 0", "notify.margin_near_pct"),
        ("queue_size = 0", "notify.queue_size"),
        ("send_timeout_s = 0", "notify.send_timeout_s"),
        ('url = "json://x"', "notify.url"),
    ],
)
def test_a_bad_notify_value_is_one_line_naming_its_key(section: str, key: str) -> None:
    lines = problems(section)
    assert len(lines) == 1 and f"config.toml: {key}" in lines[0], lines
