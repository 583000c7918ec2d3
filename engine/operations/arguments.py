"""The options of ``main.py status``, ``health``, ``stop``, ``halt``, ``resume`` and
``flatten`` (light: nothing of the channel is
imported to build the parser).

Threads: the command line's (main) thread.
"""

from __future__ import annotations

import argparse

__all__ = [
    "STOP_TIMEOUT_S",
    "add_health_arguments",
    "add_operations",
    "add_status_arguments",
    "add_stop_arguments",
    "add_target_arguments",
    "add_trading_arguments",
]

#: ``stop --timeout``'s default: the engine's stop takes at most 5 s, a flatten first up to 5 s
#: more, and the process has to end after it.
STOP_TIMEOUT_S = 30.0


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--db`` and ``--socket``: how a one-shot command finds its engine
    (``engine.operations.target.socket_of``)."""
    parser.add_argument(
        "--config", default="config.toml", help="the engine's config (its [control] socket)"
    )
    parser.add_argument(
        "--db",
        help="the ledger the engine runs on, when it was started with --db (its socket is "
        "beside it unless [control] socket is set)",
    )
    parser.add_argument("--socket", help="the engine's control socket (overrides the config)")


def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def add_health_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)


def add_stop_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--flatten", action="store_true", help="close every position first")
    how.add_argument(
        "--leave",
        action="store_true",
        help="leave positions working with their protective stops (default: engine.on_shutdown)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=STOP_TIMEOUT_S,
        help=f"seconds to wait for the engine to go (default {STOP_TIMEOUT_S:g})",
    )


def add_trading_arguments(parser: argparse.ArgumentParser, op: str) -> None:
    """``halt``, ``resume`` and ``flatten``: the target, ``--reason``; ``--yes`` for the two
    that ask first; ``--va`` for flatten."""
    add_target_arguments(parser)
    parser.add_argument(
        "--reason", default="", help="why (journaled with who asked; default: the command)"
    )
    if op == "flatten":
        parser.add_argument("--va", help="flatten this VA only (it is paused); default: all")
    if op != "halt":
        parser.add_argument(
            "-y", "--yes", action="store_true", help=f"{op} without asking (for scripts)"
        )


def add_operations(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``status``, ``health``, ``stop``, ``halt``, ``resume`` and ``flatten`` subcommands."""
    add_status_arguments(sub.add_parser("status", help="one screen on the running engine"))
    add_health_arguments(sub.add_parser("health", help="one line; exit 0 when it is healthy"))
    add_stop_arguments(sub.add_parser("stop", help="stop the running engine and wait for it"))
    add_trading_arguments(
        sub.add_parser("halt", help="halt trading now (the kill switch; asks nothing)"), "halt"
    )
    add_trading_arguments(
        sub.add_parser("resume", help="resume trading after a halt (asks first)"), "resume"
    )
    add_trading_arguments(
        sub.add_parser("flatten", help="close every position, then halt (asks first)"), "flatten"
    )
