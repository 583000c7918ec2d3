"""The suite's throwaway PostgreSQL server: where its binaries are found, the skip line where
they are not, and that nothing of it outlives a test session, even one that is killed."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import tests.support.postgres as postgres_support
from tests.support.postgres import PostgresServer

_ROOT = Path(__file__).resolve().parents[2]

# A test session in miniature: start a server, say where it is, then wait to be killed.
_SESSION = """
import sys
from tests.support.postgres import PostgresServer
server = PostgresServer()
server.start()
print(server.directory, server.port, server.watchdog_pid, flush=True)
sys.stdin.read()
"""


def test_without_binaries_the_skip_line_says_what_is_missing_and_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres_support, "_DEBIAN_BIN_GLOB", str(tmp_path / "none" / "*" / "bin"))
    why = PostgresServer.unavailable()
    assert why is not None
    assert "initdb, pg_ctl" in why
    assert "apt-get install postgresql-15" in why


def test_the_binaries_are_found_in_the_newest_debian_directory_when_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("9", "15"):
        directory = tmp_path / "postgresql" / version / "bin"
        directory.mkdir(parents=True)
        for name in ("initdb", "pg_ctl"):
            (directory / name).write_text("#!/bin/sh\n")
            (directory / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(postgres_support, "_DEBIAN_BIN_GLOB", str(tmp_path / "postgresql/*/bin"))
    assert postgres_support._binary("pg_ctl") == str(tmp_path / "postgresql/15/bin/pg_ctl")
    assert postgres_support._binary("psql") is None


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_killed_session_leaves_no_server_and_no_directory() -> None:
    why = PostgresServer.unavailable()
    if why is not None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    session = subprocess.Popen(
        [sys.executable, "-c", _SESSION],
        cwd=_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    directory: Path | None = None
    try:
        assert session.stdout is not None
        ready, _, _ = select.select([session.stdout], [], [], 60)
        assert ready, "the session never said where its server is"
        where, port_text, watchdog_text = session.stdout.readline().split()
        directory, port, watchdog = Path(where), int(port_text), int(watchdog_text)
        assert _accepts(port)
        watched = os.pidfd_open(watchdog)
        try:
            session.send_signal(signal.SIGKILL)  # no teardown runs
            session.wait(timeout=30)
            finished, _, _ = select.select([watched], [], [], 60)  # the watchdog exits
        finally:
            os.close(watched)
        assert finished, "the watchdog did not finish within 60 s"
        assert not directory.exists()
        assert not _accepts(port)
    finally:
        if session.poll() is None:
            session.kill()
            session.wait(timeout=30)
        for stream in (session.stdin, session.stdout):
            if stream is not None:
                stream.close()
        if directory is not None and (directory / "data").exists():  # the watchdog's job
            data = str(directory / "data")
            stop = ["pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]
            if os.geteuid() == 0:
                stop = ["runuser", "-u", "postgres", "--", *stop]
            subprocess.run(stop, capture_output=True, timeout=60, check=False)
            subprocess.run(["rm", "-rf", str(directory)], timeout=60, check=False)
