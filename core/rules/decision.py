"""The result every rule returns: accepted, or rejected with the rule's name and its numbers."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OK", "Decision", "reject"]


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    rule: str = ""
    detail: str = ""

    def __bool__(self) -> bool:
        return self.accepted


OK = Decision(True)


def reject(rule: str, detail: str) -> Decision:
    """A rejection by ``rule`` with ``detail`` carrying its numbers (``"10/10"``)."""
    return Decision(False, rule, detail)
