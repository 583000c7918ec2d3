"""IB execution ids and their corrections (pure).

IB corrects an execution by sending another ``execDetails`` whose ``execId`` differs only after
its last period: "0000e0d5.6543.01.02" replaces "0000e0d5.6543.01.01" (IB's API documentation,
*Executions and Commissions*, "ExecID Behavior": "... .02 would be a correction of ... .01";
the same text at interactivebrokers.github.io/tws-api/executions_commissions.html). A
correction is not a second fill: the later id takes the earlier one's place.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["corrects", "exec_id_parts", "superseded"]


def exec_id_parts(exec_id: str) -> tuple[str, int]:
    """(the id before its last period, the revision after it). An id without a period, or
    whose last part is not a number, is its own base at revision 0 (it is never corrected)."""
    base, dot, tail = exec_id.rpartition(".")
    if not dot or not base or not tail.isdigit():
        return exec_id, 0
    return base, int(tail)


def corrects(new_id: str, old_id: str) -> bool:
    """Whether ``new_id`` is a later revision of the execution ``old_id``."""
    new_base, new_rev = exec_id_parts(new_id)
    old_base, old_rev = exec_id_parts(old_id)
    return new_base == old_base and new_rev > old_rev and new_id != old_id


def superseded(exec_ids: Iterable[str]) -> set[str]:
    """The ids among ``exec_ids`` that a later revision in the same collection replaces (a
    day's ``reqExecutions`` lists an execution and its corrections)."""
    latest: dict[str, int] = {}
    ids = list(exec_ids)
    for exec_id in ids:
        base, revision = exec_id_parts(exec_id)
        latest[base] = max(latest.get(base, revision), revision)
    return {i for i in ids if exec_id_parts(i)[1] < latest[exec_id_parts(i)[0]]}
