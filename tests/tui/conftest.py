"""Fixtures for the dashboard tests (the doubles live in ``tests.tui.fakes``)."""

from __future__ import annotations

import pytest

from tests.tui.fakes import FakeEngine


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()
