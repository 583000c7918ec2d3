"""Suite-wide fixtures: every test stops every engine and actor it started."""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from tests.support.engine import STARTED


@pytest.fixture(autouse=True)
def _stop_all_engines_and_actors() -> Iterator[None]:
    """Teardown, on the test thread: the engines the test started (``start_engine``,
    ``STARTED.track``), newest first, then any actor still running."""
    yield
    try:
        STARTED.stop_all()
    finally:
        pykka.ActorRegistry.stop_all(block=True, timeout=5)
