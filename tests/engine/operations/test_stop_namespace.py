"""``stop`` in a container: an engine whose end ends the pid namespace (pid 1, or the only child
of an init shim) cannot be waited for by a command in that namespace (read from a /proc made
here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.operations.stop import ends_with_its_namespace


def _proc(root: Path, *, init: str, engine_parent: int) -> str:
    (root / "1").mkdir()
    (root / "1" / "comm").write_text(f"{init}\n")
    (root / "7").mkdir()
    # The command name may hold spaces and parentheses: the fields are read after the last ")".
    (root / "7" / "stat").write_text(f"7 (python main (x)) S {engine_parent} 7 7 0 -1 4194560\n")
    return str(root)


@pytest.mark.parametrize("init", ["docker-init", "tini", "dumb-init", "catatonit"])
def test_the_child_of_an_init_shim_ends_the_container(tmp_path: Path, init: str) -> None:
    assert ends_with_its_namespace(7, _proc(tmp_path, init=init, engine_parent=1))


def test_pid_1_ends_its_namespace() -> None:
    assert ends_with_its_namespace(1)


@pytest.mark.parametrize(("init", "parent"), [("systemd", 1), ("docker-init", 6), ("bash", 1)])
def test_an_engine_under_a_real_init_or_another_parent_is_waited_for(
    tmp_path: Path, init: str, parent: int
) -> None:
    assert not ends_with_its_namespace(7, _proc(tmp_path, init=init, engine_parent=parent))


def test_a_pid_that_is_gone_is_not_a_namespace_end(tmp_path: Path) -> None:
    assert not ends_with_its_namespace(8, _proc(tmp_path, init="tini", engine_parent=1))
