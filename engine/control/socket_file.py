"""The control socket's file: made owner-only, a stale one replaced, a wrong one refused, and the
peer of each connection checked.

The socket is bound with the umask at 0o177 and chmod-ed 0600 (never reachable by others, not
even for a moment) in a directory made 0700 when missing (``db.private_files``); the engine's
own directory (the default ``control/`` beside the ledger) is tightened to 0700 when it exists.
A socket file already at the path is asked whether anyone answers: nobody (a crashed engine's
file; this engine holds the ledger's lease, so no engine of this ledger serves it) and it is
removed; someone (another engine whose ledger maps to the same path) and the start is refused.

Threads: the engine's starting and stopping thread (``bind_private``, ``unlink_if_ours``); the
server's loop thread (``peer_uid``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from pathlib import Path
from typing import Protocol

from db.private_files import make_private_dirs

__all__ = ["ControlRefused", "SocketOptions", "bind_private", "peer_uid", "unlink_if_ours"]

_BACKLOG = 64
_PROBE_TIMEOUT_S = 0.5


class ControlRefused(RuntimeError):
    """The control socket cannot be served at its path; ``str()`` is one line saying why and
    what to do."""


def bind_private(path: str, *, own_directory: bool) -> tuple[socket.socket, int]:
    """A listening Unix socket at ``path`` (absolute), 0600; and its inode (see
    ``unlink_if_ours``). ``own_directory``: the directory is the engine's own (tighten it).

    Raises:
        ControlRefused: the path is not a socket, another process answers on it, or it cannot
            be created (one line naming the path).
    """
    directory = Path(path).parent
    try:
        make_private_dirs(directory)
        if own_directory and stat.S_IMODE(directory.stat().st_mode) & 0o077:
            os.chmod(directory, 0o700)
    except OSError as err:
        raise ControlRefused(
            f"control socket {path}: cannot make its directory {directory}: "
            f"{err.strerror or err}; set control.socket to a path you may create"
        ) from None
    _remove_stale(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old_umask = os.umask(0o177)
        try:
            listener.bind(path)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        listener.listen(_BACKLOG)
        listener.setblocking(False)
        return listener, os.stat(path).st_ino
    except OSError as err:
        listener.close()
        raise ControlRefused(
            f"control socket {path}: cannot serve it: {err.strerror or err}; "
            "set control.socket to another path"
        ) from None


def _remove_stale(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlRefused(
            f"control socket {path}: exists and is not a socket; remove it or set "
            "control.socket to another path"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(_PROBE_TIMEOUT_S)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        pass  # nobody listens: a crashed engine's socket
    except OSError as err:
        raise ControlRefused(
            f"control socket {path}: cannot tell whether another process serves it "
            f"({err.strerror or err}); remove it or set control.socket to another path"
        ) from None
    else:
        raise ControlRefused(
            f"control socket {path}: another process serves it (an engine whose ledger maps "
            "to the same path?); stop it or set control.socket to another path"
        )
    finally:
        probe.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def unlink_if_ours(path: str, inode: int) -> None:
    """Remove the socket file at ``path`` if it is still the one bound (inode ``inode``)."""
    try:
        if os.lstat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass


class SocketOptions(Protocol):
    """A connected socket's options (``socket.socket``, asyncio's ``TransportSocket``)."""

    def getsockopt(self, level: int, option: int, buflen: int) -> bytes: ...


def peer_uid(connection: SocketOptions) -> int | None:
    """The user id of the process at the other end (``SO_PEERCRED``), None where the platform
    does not say."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    raw = connection.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)
