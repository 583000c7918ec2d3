"""``[broker.ib]`` market-data keys: delayed data is refused on a live port with one line."""

from __future__ import annotations

from core.config import parse_config
from tests.core.test_config import problems_of, replaced


def test_delayed_market_data_on_a_live_port_is_one_config_line() -> None:
    text = replaced("port = 7497", 'port = 7496\nallow_live = true\nmarket_data_type = "delayed"')
    assert problems_of(text) == [
        'config.toml: broker.ib.market_data_type: "delayed" is allowed on paper only (7496 is '
        'a live trading port): use "live" or "frozen"'
    ]


def test_delayed_market_data_on_a_paper_port_is_accepted() -> None:
    config = parse_config(replaced("port = 7497", 'port = 7497\nmarket_data_type = "delayed"'))
    assert config.broker.ib.market_data_type == "delayed"


def test_an_unknown_market_data_type_names_the_choices() -> None:
    (line,) = problems_of(replaced("port = 7497", 'port = 7497\nmarket_data_type = "slow"'))
    assert line.startswith("config.toml: broker.ib.market_data_type:") and '"delayed"' in line
