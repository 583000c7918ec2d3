"""The engine's files are owner-only (issue 15, item 13): every directory it creates on the way
to the ledger or the logs is 0700, an existing ledger or log file at 0644 is tightened to 0600,
and a file that cannot be tightened is warned about once. Real files, under umask 022."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

import db.private_files
from db import close_database, open_database
from db.lease import acquire_lease
from db.private_files import tighten
from engine.logging_setup import setup_logging, shutdown_logging


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_every_directory_made_on_the_way_to_the_ledger_is_owner_only(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)  # a shared directory the ledger is put under
    path = tmp_path / "a" / "b" / "c" / "ledger.db"
    url = f"sqlite:///{path}"
    lease = acquire_lease(url, instance="main", command="test")  # the engine's first step
    try:
        close_database(open_database(url))
    finally:
        lease.release()
    assert [_mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o700, 0o700, 0o700]
    assert _mode(path) == 0o600
    assert _mode(path.with_name("ledger.db.lease")) == 0o600
    assert _mode(tmp_path) == 0o755, "a directory the engine did not make was changed"


def test_an_existing_ledger_and_its_lease_at_0644_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    close_database(open_database(url))
    lease_path = path.with_name("ledger.db.lease")
    lease_path.write_text("")
    for file in (path, lease_path):
        os.chmod(file, 0o644)
    lease = acquire_lease(url, instance="main", command="test")
    try:
        close_database(open_database(url))
    finally:
        lease.release()
    assert _mode(path) == 0o600
    assert _mode(lease_path) == 0o600


def test_the_log_directory_and_its_parents_are_owner_only_and_old_logs_are_tightened(
    tmp_path: Path,
) -> None:
    old_logs = tmp_path / "old"
    old_logs.mkdir()
    for name in ("engine.log", "engine.jsonl"):
        (old_logs / name).write_text("an older run\n")
        os.chmod(old_logs / name, 0o644)
    setup_logging(old_logs, console=False)
    try:
        logger.info("a line")
    finally:
        shutdown_logging()
    assert _mode(old_logs / "engine.log") == 0o600
    assert _mode(old_logs / "engine.jsonl") == 0o600

    new_logs = tmp_path / "var" / "log" / "engine"
    setup_logging(new_logs, console=False)
    shutdown_logging()
    assert [_mode(tmp_path / p) for p in ("var", "var/log", "var/log/engine")] == [0o700] * 3


def test_a_file_that_cannot_be_tightened_is_warned_about_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root every chmod succeeds: the refusal a foreign or read-only file gets is injected.
    path = tmp_path / "ledger.db"
    path.write_text("")
    os.chmod(path, 0o644)

    def refuse(target: object, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted", str(target))

    monkeypatch.setattr(db.private_files.os, "chmod", refuse)
    warnings: list[str] = []
    sink = logger.add(
        lambda m: warnings.append(str(m).rstrip("\n")), level="WARNING", format="{message}"
    )
    try:
        tighten(path)
        tighten(path)
    finally:
        logger.remove(sink)
    assert warnings == [
        f"{path} is 0644 and cannot be made owner-only (Operation not permitted): others may "
        "read it; chmod 600 it or move it"
    ]
    assert _mode(path) == 0o644
