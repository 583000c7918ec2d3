"""The README's *What a refusal means* table names every rule a signal can be refused by, as
the code spells it (``reject("rule", ...)`` in core/ and actors/, and the journal's
``bad_signal``), and only those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rules_in_code() -> set[str]:
    found: set[str] = set()
    for package in ("core", "actors"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found.update(re.findall(r'\breject\(\s*"([a-z_]+)"', text))
            found.update(re.findall(r'\brule="([a-z_]+)"', text))
    return found


def _rules_in_readme() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### What a refusal means", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"(?m)^\| `([a-z_]+)` \|", section))


def test_every_refusal_rule_has_a_line_in_the_readme() -> None:
    in_code = _rules_in_code()
    assert len(in_code) >= 30  # the search still finds them
    assert in_code - _rules_in_readme() == set(), "rules the README does not explain"
    assert _rules_in_readme() - in_code == set(), "README lines for rules the code lacks"
