"""Fixtures for the dashboard tests (the doubles live in ``tests.tui.fakes``)."""

from __future__ import annotations

import pytest

from tests.tui.fakes import FakeEngine


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def alice(monkeypatch: pytest.MonkeyPatch) -> str:
    """The dashboard's process runs as OS user ``alice``, not over SSH: what its trading keys
    say as ``by`` (``tui.trading_keys.dashboard_by``)."""
    monkeypatch.setenv("LOGNAME", "alice")
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    return "alice, dashboard"
