"""Suite-wide fixtures: every test stops every engine and actor it started. And the order of
the files: those with a ``slow`` test first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pykka
import pytest

from tests.support.engine import STARTED
from tests.support.postgres import PostgresServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a ``slow`` test (minutes of wall time) run first, each file's tests kept
    together and in order: with ``--dist loadfile`` on two workers, a minutes-long file handed
    out last runs alone at the end while the other worker idles."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture(autouse=True)
def _stop_all_engines_and_actors() -> Iterator[None]:
    """Teardown, on the test thread: the engines the test started (``start_engine``,
    ``STARTED.track``), newest first, then any actor still running."""
    yield
    try:
        STARTED.stop_all()
    finally:
        pykka.ActorRegistry.stop_all(block=True, timeout=5)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the session, one per pytest-xdist worker (skipped,
    saying why, where none can run).

    Stopped, and its directory removed, at the end of the session whatever the tests did (and
    by its watchdog if the session dies first: tests/support/postgres.py)."""
    why = PostgresServer.unavailable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty ledger database's URL: an SQLite file, then a database on the session's
    PostgreSQL server (a test taking it runs once on each)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()
