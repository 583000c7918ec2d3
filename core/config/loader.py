"""Reading ``config.toml``: TOML text or a file in, a validated ``EngineConfig`` or a
``ConfigError`` with one line per problem out (see ``core.config``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from core.config.engine_config import EngineConfig
from core.config_errors import ConfigError, one_line, toml_problem, validation_problems

__all__ = ["load_config", "parse_config"]


def parse_config(text: str, *, source: str = "config.toml") -> EngineConfig:
    """Parse and validate the text of a config file.

    Args:
        text: TOML text.
        source: The name to start every problem line with.

    Returns:
        The validated, frozen configuration.

    Raises:
        ConfigError: The text is not valid TOML or not a valid configuration; ``problems``
            holds one line per problem.
    """
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or absurd numbers/nesting
        raise ConfigError([toml_problem(exc, source=source)]) from None
    try:
        return EngineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, source=source)) from None


def load_config(path: str | Path) -> EngineConfig:
    """Read, parse and validate a config file.

    Args:
        path: The file; problem lines name it as given here.

    Returns:
        The validated, frozen configuration.

    Raises:
        ConfigError: The file cannot be read, is not valid TOML or not a valid configuration.
    """
    source = one_line(os.fspath(path))
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # tolerate an editor's BOM
    except FileNotFoundError:
        raise ConfigError([f"{source}: file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{source}: is a directory, not a file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{source}: not UTF-8 text (bad byte at offset {exc.start})"]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read file: {exc.strerror or exc}"]) from None
    return parse_config(text, source=source)
