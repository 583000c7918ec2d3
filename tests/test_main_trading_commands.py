"""``main.py halt``, ``resume`` and ``flatten`` as a trader runs them from an SSH session:
separate processes against a real headless engine serving its control socket; who asked (the
OS user, the SSH client) is journaled in the ledger's ``risk_event`` rows and shown in the
engine's events; resume and flatten ask on a terminal (a real pseudo-terminal here), take
``--yes`` for scripts, and refuse without either."""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.headless import MAIN, Place, headless_engine, main_py, short_place

TRADER = "phone-trader"
SSH = "203.0.113.5 50022 10.0.0.2 22"  # SSH_CONNECTION: client address, port, server, port
BY = f"(by {TRADER} via ssh from 203.0.113.5)"


def _env() -> dict[str, str]:
    """This environment as an SSH login of ``TRADER`` would have it (getpass reads LOGNAME)."""
    return {**os.environ, "LOGNAME": TRADER, "SSH_CONNECTION": SSH}


def _command(
    place: Place, *args: str, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """``python main.py ARGS --socket ...`` over SSH as ``TRADER``, no terminal (bounded)."""
    return subprocess.run(
        [sys.executable, str(MAIN), *args, "--socket", place.socket],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=place.cwd,
        env=_env(),
    )


def _on_a_terminal(place: Place, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python main.py ARGS --socket ...`` with a pseudo-terminal as its stdin, typed
    ``answer`` and return (bounded); its stdout and stderr are pipes."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, str(MAIN), *args, "--socket", place.socket],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=place.cwd,
            env=_env(),
        )
        os.write(master, f"{answer}\n".encode())
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        os.close(slave)
        os.close(master)


def _state_rows(place: Place) -> list[tuple[str, str]]:
    """The ledger's trading-state changes, oldest first: (state, reason)."""
    with sqlite3.connect(place.directory / "engine.db") as db:
        rows = db.execute(
            "SELECT state, reason FROM risk_event WHERE kind = 'state' ORDER BY id"
        ).fetchall()
    return [(str(state), str(reason)) for state, reason in rows]


def test_halt_asks_nothing_and_resume_needs_a_terminal_or_yes_each_journaled_with_who_asked(
    tmp_path: Path,
) -> None:
    with short_place(tmp_path) as place, headless_engine(place) as proc:
        halt = _command(place, "halt")
        assert halt.returncode == 0, halt.stdout + halt.stderr
        reason = f"halt from main.py halt {BY}"
        assert halt.stdout.splitlines() == [
            f"main.py halt: the engine (pid {proc.pid}) closed its gate: no new orders",
            f'main.py halt: the engine (pid {proc.pid}) journaled "state: {reason}"',
        ]
        assert _state_rows(place)[-1] == ("HALTED", reason)
        status = main_py("status", "--socket", place.socket, cwd=tmp_path)
        assert "\ntrading  HALTED (halt from main.py halt " in status.stdout
        assert status.stdout.endswith(f"state: {reason}\n")  # the risk events, newest last

        refused = _command(place, "resume")  # no terminal, no --yes
        assert refused.returncode == 2
        assert refused.stdout == ""
        assert refused.stderr == (
            "main.py resume: not a terminal: nobody to confirm the resume; add --yes to resume\n"
        )
        assert _state_rows(place)[-1] == ("HALTED", reason)  # nothing sent

        resume = _command(place, "resume", "--yes", "--reason", "checked the fills")
        assert resume.returncode == 0, resume.stdout + resume.stderr
        assert resume.stdout == (
            f'main.py resume: the engine (pid {proc.pid}) journaled "state: checked the '
            f'fills {BY}"\n'
        )
        assert _state_rows(place)[-1] == ("ACTIVE", f"checked the fills {BY}")


def test_flatten_asks_on_a_terminal_does_nothing_on_no_and_flattens_on_yes(
    tmp_path: Path,
) -> None:
    with short_place(tmp_path) as place, headless_engine(place) as proc:
        before = _state_rows(place)
        declined = _on_a_terminal(place, "n", "flatten")
        assert declined.returncode == 1, declined.stdout + declined.stderr
        assert declined.stdout.startswith("flatten every position: ")
        assert declined.stdout.endswith("; then HALTED (now ACTIVE: start)? [y/N] ")
        assert declined.stderr == "main.py flatten: not confirmed: nothing done\n"
        assert _state_rows(place) == before

        confirmed = _on_a_terminal(place, "y", "flatten")
        assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
        question, said = confirmed.stdout.split("? [y/N] ")
        assert question.startswith("flatten every position: ")
        assert said == (
            f'main.py flatten: the engine (pid {proc.pid}) journaled "state: flatten from '
            f'main.py flatten {BY}"\n'
        )
        states = _state_rows(place)
        assert ("FLATTENING", f"flatten from main.py flatten {BY}") in states[len(before) :]

        unknown = _command(place, "flatten", "--va", "nope", "--yes")
        assert (unknown.returncode, unknown.stderr) == (
            1,
            f"main.py flatten: the engine (pid {proc.pid}) refused: no running VA 'nope'\n",
        )


def test_flatten_without_a_terminal_refuses_unless_yes_and_without_an_engine_says_so(
    tmp_path: Path,
) -> None:
    place = Place(tmp_path, Path("/tmp/no-engine-here"))
    refused = _command(place, "flatten")
    assert (refused.returncode, refused.stderr) == (
        2,
        "main.py flatten: not a terminal: nobody to confirm the flatten; add --yes to flatten\n",
    )
    for args in (["halt"], ["flatten", "--yes"], ["resume", "-y"]):
        result = _command(place, *args)
        assert result.returncode == 1, args
        assert result.stderr.startswith(
            f"main.py {args[0]}: no engine is serving {place.socket} ("
        ), args
        assert result.stderr.count("\n") == 1
    long = _command(place, "halt", "--reason", "x" * 201)
    assert (long.returncode, long.stderr) == (
        2,
        "main.py halt: --reason: at most 200 characters (got 201)\n",
    )
