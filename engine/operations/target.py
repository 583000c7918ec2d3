"""Which control socket a one-shot command talks to: ``--socket``, else the one the config
names (``[control] socket``, else derived beside the ledger of ``--db`` or
``engine.database_url``, as the engine derives it: ``core.config_values.control_socket_path``).

Threads: the command line's (main) thread.
"""

from __future__ import annotations

import argparse
import os

from core.config_values import control_socket_path, socket_path_problem
from engine.commands import UsageError, load_config_or_exit

__all__ = ["socket_of"]


def socket_of(args: argparse.Namespace) -> str:
    """The control socket named by ``args`` (``arguments.add_target_arguments``), made absolute.

    A bad config exits 2 with its problems on stderr (``load_config_or_exit``).

    Raises:
        UsageError: the path cannot be a Unix socket's, or the config serves no channel.
    """
    if args.socket:
        path = os.path.abspath(args.socket)
        if (problem := socket_path_problem(path)) is not None:
            raise UsageError(f"--socket: {problem}")
        return path
    config = load_config_or_exit(args.config)
    if not config.control.enabled:
        raise UsageError(
            f"{args.config}: [control] enabled = false: that engine serves no control socket "
            "(enable it and restart the engine, or give --socket)"
        )
    url = args.db or config.engine.database_url
    path = control_socket_path(config.control.socket, url, config.engine.instance)
    if (problem := socket_path_problem(path)) is not None:
        raise UsageError(f"{args.config}: control.socket: {problem}")
    return os.path.abspath(path)
