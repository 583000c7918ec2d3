"""The shipped config's header says how many virtual accounts it configures, and it is true
(issue 17: it said "ten" over nine)."""

from __future__ import annotations

import re

from core.config import load_config
from tests.support.headless import CONFIG

_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]


def test_the_header_counts_the_virtual_accounts_the_file_configures() -> None:
    header = CONFIG.read_text(encoding="utf-8").split("\n[", 1)[0]
    said = re.findall(r"(\w+)\s+virtual\s+accounts", header)
    assert said, "the header no longer says how many virtual accounts there are"
    counted = len(load_config(str(CONFIG)).accounts)
    assert [_WORDS.index(word) + 1 if word in _WORDS else int(word) for word in said] == [
        counted
    ] * len(said), f"the header says {said}, the file has {counted}"
