"""Who asked for a trading command (``main.py halt``/``resume``/``flatten``), as the engine
journals it: the OS user, the SSH client's address over SSH, at most 64 characters; and the
reason the engine stores with it."""

from __future__ import annotations

import getpass

import pytest

from engine.control.requests import said_by
from engine.operations.trading_commands import who_asks


def test_a_local_shell_is_its_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "alice")
    assert getpass.getuser() == "alice"
    assert who_asks({}) == "alice"


def test_an_ssh_session_names_the_client_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "alice")
    env = {"SSH_CONNECTION": "198.51.100.7 51234 10.0.0.2 22"}
    assert who_asks(env) == "alice via ssh from 198.51.100.7"


def test_a_long_name_is_cut_to_what_the_wire_carries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "a" * 80)
    assert who_asks({}) == "a" * 64


def test_the_reason_names_who_asked_and_shows_no_control_characters() -> None:
    assert said_by("halt from main.py halt", "alice") == "halt from main.py halt (by alice)"
    assert said_by("manual halt", "") == "manual halt"
    assert said_by("halt", "eve\nFORGED") == "halt (by eve\\nFORGED)"
