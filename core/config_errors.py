"""Configuration problems: ``ConfigError``, the one-line messages it carries, checked value types.

Pure functions, no I/O. ``core.config`` validates with pydantic; this module turns pydantic's
errors, TOML syntax errors and the engine's own cross-field checks into short lines of the form
``config.toml: accounts[2].capital: must be > 0 (got -5)``: the source, the key path (0-based
indices), and what is wrong, with the offending value quoted the way it would be written in TOML.
A line never contains a line break, whatever the file contains. The checked scalar types the
models use (``Money``, ``ClockTime``, ``SymbolName``, ...) live here too, because what they check
is only as good as the message they give.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError

from core.text import printable

__all__ = [
    "ARRAY",
    "INSTANCE_NAME",
    "AccountId",
    "ClockTime",
    "ConfigError",
    "InstanceName",
    "IsoDate",
    "Money",
    "NonBlank",
    "PathPart",
    "Problem",
    "SymbolName",
    "TimeZoneName",
    "describe_value",
    "format_path",
    "invalid_value",
    "nested_problems",
    "one_line",
    "problems_error",
    "toml_problem",
    "validation_problems",
]

PathPart = str | int
"""One step of a key path: a table key or a 0-based array index."""

Problem = tuple[tuple[PathPart, ...], str]
"""A key path relative to the model that found the problem, and the message for it."""

_INVALID_VALUE = "config_value"
_PROBLEMS = "config_problems"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_TOML_WHERE = re.compile(r"^(?P<msg>.*) \(at (?P<where>line \d+, column \d+|end of document)\)$")
_MAX_SHOWN = 60

_EXPECTED: dict[str, str] = {
    kind: text
    for text, kinds in (
        ("expected an integer", "int_type int_parsing int_from_float"),
        ("expected a number", "float_type float_parsing decimal_type decimal_parsing"),
        ("expected true or false", "bool_type bool_parsing"),
        ("expected a string", "string_type"),
        ("expected an array", "list_type tuple_type"),
        ("expected a table", "dict_type model_type model_attributes_type"),
        ('expected a date "YYYY-MM-DD"', "date_type date_parsing"),
        ("must be a finite number", "finite_number"),
    )
    for kind in kinds.split()
}
_BOUNDS: dict[str, tuple[str, str]] = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` says why, one line per problem.

    Attributes:
        problems: One line per problem, each ``<source>: <key path>: <message>``, in file order
            where known. Never empty.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        """Build the error from its problem lines.

        Args:
            problems: The lines; duplicates are dropped, order is kept.
        """
        self.problems: list[str] = list(dict.fromkeys(problems)) or ["configuration is invalid"]
        super().__init__("\n".join(self.problems))


def one_line(text: str) -> str:
    """Escape every non-printable character (line breaks included) so ``text`` stays one line.

    Args:
        text: Any text, e.g. a file name or a key taken from the file.

    Returns:
        ``text`` unchanged if it is printable, else with ``\\n``-style escapes.
    """
    return printable(text)


def describe_value(value: object) -> str:
    """Render a value for a message the way it would be written in TOML, on one short line.

    Args:
        value: Any value found in (or derived from) a config file.

    Returns:
        ``"abc"`` for strings, ``true``/``false`` for booleans, the literal for numbers and dates,
        ``an array`` / ``a table`` for containers.
    """
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
        return one_line(json.dumps(shown, ensure_ascii=False))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):  # repr spells nan, inf and -inf as TOML does
        text = repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        return "an array"
    elif isinstance(value, dict):
        return "a table"
    else:
        text = type(value).__name__
    return one_line(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...")


def format_path(parts: Iterable[PathPart]) -> str:
    """Join key path parts as TOML would name them: ``accounts[2].universe[0]``.

    Keys that are not bare TOML keys are quoted: ``sim.symbols."BRK.B".price``.

    Args:
        parts: Table keys and 0-based array indices, outermost first.

    Returns:
        The dotted path; empty when ``parts`` is empty.
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
            continue
        key = part if _BARE_KEY.fullmatch(part) else describe_value(part)
        out.append(f".{key}" if out else key)
    return "".join(out)


def invalid_value(message: str) -> PydanticCustomError:
    """The error a field validator raises to report ``message`` as the whole problem text.

    Args:
        message: The complete message, e.g. ``unknown time zone "Mars/Base"``.

    Returns:
        An error to ``raise`` inside a pydantic validator.
    """
    return PydanticCustomError(_INVALID_VALUE, "{message}", {"message": message})


def problems_error(*problems: Problem) -> PydanticCustomError:
    """The error a model validator raises to report problems at precise sub-paths.

    Args:
        *problems: Paths relative to the validated model, each with its message.

    Returns:
        An error to ``raise`` inside a pydantic model validator; ``validation_problems``
        expands it back into one line per problem.
    """
    summary = "; ".join(f"{format_path(path)}: {message}" for path, message in problems)
    return PydanticCustomError(_PROBLEMS, "{summary}", {"summary": summary, "problems": problems})


def _literal_choices(expected: str) -> str:
    """Turn pydantic's ``'a', 'b' or 'c'`` into ``"a", "b", "c"``."""
    choices = _QUOTED.findall(expected)
    return ", ".join(describe_value(c) for c in choices) if choices else one_line(expected)


def _message(error: Any) -> tuple[tuple[PathPart, ...], str]:
    """The extra path parts and the message for one pydantic error dict."""
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    value = error.get("input")
    got = f"(got {describe_value(value)})"
    if kind == _INVALID_VALUE:
        return (), str(ctx["message"])
    if kind == "missing":
        return (), "required key missing"
    if kind == "extra_forbidden":
        return (), "unknown key"
    if kind in _EXPECTED:
        return (), f"{_EXPECTED[kind]} {got}"
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        return (), f"must be {sign} {describe_value(ctx.get(key))} {got}"
    if kind == "literal_error":
        return (), f"must be one of {_literal_choices(str(ctx.get('expected', '')))} {got}"
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length" if kind == "too_short" else "max_length")
        if kind == "too_short" and bound == 1:
            return (), "must not be empty"
        least = "at least" if kind == "too_short" else "at most"
        if isinstance(value, str):
            return (), f"must have {least} {bound} characters {got}"
        return (), f"must have {least} {bound} items (got {ctx.get('actual_length')})"
    text = str(error.get("msg", "invalid value"))
    text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return (), one_line(f"{text[:1].lower()}{text[1:]} {got}")


def _problems(exc: ValidationError) -> list[Problem]:
    """Every problem of ``exc`` as a key path (from the validated model) and its message."""
    errors = exc.errors(include_url=False)
    inner = {error["loc"][:depth] for error in errors for depth in range(len(error["loc"]))}
    found: list[Problem] = []
    for error in errors:
        if error["type"] == "too_short" and error["loc"] in inner:
            continue  # an array whose items are invalid counts only its valid ones; say just that
        loc = tuple(part for part in error["loc"] if part != "[key]")  # dict-key markers
        if error["type"] == _PROBLEMS:
            nested: Sequence[Problem] = error["ctx"]["problems"]
        else:
            extra, message = _message(error)
            nested = [(extra, message)]
        found.extend(((*loc, *path), message) for path, message in nested)
    return found


def nested_problems(exc: ValidationError) -> PydanticCustomError:
    """The error a validator raises for a sub-model it validated itself (a strategy's own
    model): every problem of ``exc`` at its key path below the validated field.

    Args:
        exc: The error raised by validating the sub-model.

    Returns:
        An error to ``raise`` inside a pydantic validator.
    """
    return problems_error(*_problems(exc))


def validation_problems(exc: ValidationError, *, source: str) -> list[str]:
    """Translate a pydantic ``ValidationError`` into one line per problem.

    Args:
        exc: The error raised by validating the config models.
        source: The file name to start each line with, e.g. ``config.toml``.

    Returns:
        Lines ``<source>: <key path>: <message>``, in pydantic's (file) order.
    """
    return [
        f"{one_line(source)}: {format_path(path) or '(top level)'}: {one_line(message)}"
        for path, message in _problems(exc)
    ]


def toml_problem(exc: ValueError | RecursionError, *, source: str) -> str:
    """The one line for a file that is not valid TOML.

    Args:
        exc: ``tomllib.TOMLDecodeError``, or the ``ValueError``/``RecursionError`` that tomllib
            lets through for absurd input (integers over 4300 digits, nesting thousands deep).
        source: The file name to start the line with.

    Returns:
        ``<source>: line 12, column 5: <tomllib message>`` (or ``end of document``).
    """
    if isinstance(exc, RecursionError):
        return f"{one_line(source)}: not valid TOML: values are nested too deeply"
    text = str(exc)
    match = _TOML_WHERE.match(text) if isinstance(exc, tomllib.TOMLDecodeError) else None
    if match:
        return f"{one_line(source)}: {match['where']}: {one_line(match['msg'])}"
    return f"{one_line(source)}: not valid TOML: {one_line(text.split(';', maxsplit=1)[0])}"


# Checked scalar types: a failed check is a problem line, so these live beside the messages.

_SYMBOL = re.compile(r"[A-Z][A-Z.]{0,9}")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: An engine instance's name (``[engine] instance``): also a PostgreSQL schema name's tail.
INSTANCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _as_tuple(value: object) -> object:
    """Accept a TOML array for a tuple field (strict mode would take only a tuple)."""
    return tuple(value) if isinstance(value, list) else value


def _to_decimal(value: object) -> Decimal:
    """Read money exactly: a TOML integer or float (by its shortest repr). A string is refused
    like any other string for a number (TOML is typed: ``capital = "250000"`` is a mistake)."""
    result: Decimal | None = None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    if result is None:
        raise invalid_value(f"expected a number (got {describe_value(value)})")
    if not result.is_finite():
        raise invalid_value(f"must be a finite number (got {describe_value(value)})")
    return result


def _to_date(value: object) -> date:
    """Read a date from a TOML local date or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise invalid_value(f'expected a date "YYYY-MM-DD" (got {describe_value(value)})')


def _non_blank(value: str) -> str:
    """Reject empty and whitespace-only strings."""
    if not value.strip():
        raise invalid_value(f"must not be empty (got {describe_value(value)})")
    return value


def _clock_time(value: str) -> str:
    """Accept a 24-hour ``HH:MM`` wall-clock time."""
    if not _CLOCK.fullmatch(value):
        raise invalid_value(f'expected a 24-hour time "HH:MM" (got {describe_value(value)})')
    return value


def _time_zone(value: str) -> str:
    """Accept an IANA time zone name that ``zoneinfo`` can load."""
    try:
        ZoneInfo(value)
    except (KeyError, ValueError, OSError):  # not found, malformed key, a directory name
        raise invalid_value(
            f"unknown time zone {describe_value(value)} "
            '(use an IANA name such as "America/New_York")'
        ) from None
    return value


def _symbol_name(value: str) -> str:
    """Accept a stock symbol: 1-10 uppercase letters or dots, starting with a letter."""
    if not _SYMBOL.fullmatch(value):
        raise invalid_value(
            f"invalid symbol {describe_value(value)}: use 1-10 uppercase letters or dots, "
            "starting with a letter"
        )
    return value


def _account_id(value: str) -> str:
    """Accept a virtual account id: 1-32 characters from ``[A-Za-z0-9_-]``."""
    if not _ACCOUNT_ID.fullmatch(value):
        raise invalid_value(
            f'must be 1-32 characters from A-Z, a-z, 0-9, "_" and "-" (got {describe_value(value)})'
        )
    return value


def _instance_name(value: str) -> str:
    """Accept an engine instance name (``INSTANCE_NAME``)."""
    if not INSTANCE_NAME.fullmatch(value):
        raise invalid_value(
            'must be 1-40 characters from a-z, 0-9 and "_", starting with a letter '
            f"(got {describe_value(value)})"
        )
    return value


ARRAY = BeforeValidator(_as_tuple)
"""Put in ``Annotated[tuple[X, ...], ARRAY]`` so a strict tuple field takes a TOML array."""
Money = Annotated[Decimal, BeforeValidator(_to_decimal)]
"""An exact amount: a TOML integer or float, read as ``Decimal`` (a float by its shortest repr,
so ``0.0035`` is exactly 0.0035)."""
IsoDate = Annotated[date, BeforeValidator(_to_date)]
"""A calendar date: a TOML local date or a ``"YYYY-MM-DD"`` string."""
NonBlank = Annotated[str, AfterValidator(_non_blank)]
"""A string with at least one non-space character."""
ClockTime = Annotated[str, AfterValidator(_clock_time)]
"""A ``"HH:MM"`` 24-hour wall-clock time, kept as the string."""
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
"""An IANA time zone name, e.g. ``America/New_York``."""
SymbolName = Annotated[str, AfterValidator(_symbol_name)]
"""A stock symbol such as ``AAPL`` or ``BRK.B``."""
AccountId = Annotated[str, AfterValidator(_account_id)]
"""A virtual account id such as ``trend-1``."""
InstanceName = Annotated[str, AfterValidator(_instance_name)]
"""An engine instance name such as ``main`` or ``account_2``."""
