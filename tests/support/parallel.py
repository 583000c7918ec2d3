"""How the suite shares two CPUs: ``make unit`` runs pytest with pytest-xdist (``-n 2 --dist
loadgroup``), each worker a process of its own with its own PostgreSQL server, ``tmp_path`` and
actor registry. A test without a group goes to whichever worker is free.

``HEAVY`` groups the three long runs whose time budgets assume they do not share the machine
with each other: the crash harness (both backends), the 150,000-line inbox burst and the
two-day validation. One worker runs them one after another (as the serial suite did), starting
first (the largest group is scheduled first), while the other worker runs the rest beside them.
The group also keeps the crash harness's module-scoped run from being run once per worker: the
tests that read its report go where the run is.

Without pytest-xdist (a plain ``pytest``), the marker does nothing.

Threads: pytest's collection only.
"""

from __future__ import annotations

import pytest

__all__ = ["HEAVY"]

HEAVY = pytest.mark.xdist_group("heavy-serial")
