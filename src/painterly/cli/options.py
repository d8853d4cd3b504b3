"""Command-line options built from a config dataclass, and back.

Every field of :class:`~painterly.config.TransferConfig` becomes an option
(``style_weight`` -> ``--style-weight``) whose help text, choices and default
come from the field itself, so the CLI can never drift from the library:

* ``bool`` fields give a pair: ``--multiscale`` / ``--no-multiscale``;
* tuple fields take one comma-separated value: ``--style-layers relu1_1,relu2_1``
  (an empty string gives the empty tuple);
* ``int`` / ``float`` / ``str`` fields take one value of that type.

Options default to ``None`` (not the field default) so that
:func:`config_from_args` passes on only what the user typed; the dataclass
then fills in the rest and validates everything (range errors are
:class:`~painterly.errors.ConfigError`, exit code 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import typing
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Type, TypeVar

from ..config import config_from_dict, field_kind
from ..errors import ConfigError, UsageError

T = TypeVar("T")

#: Prefix of the Namespace attributes that hold config fields (keeps them
#: apart from command options such as ``output`` or ``quiet``).
DEST_PREFIX = "cfg_"


def flag(name: str) -> str:
    """The option spelling of a field name: ``style_weight`` -> ``--style-weight``."""
    return "--" + name.replace("_", "-")


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def number(kind: type, low: Any = None, high: Any = None, *, above: bool = False) -> Callable[[str], Any]:
    """argparse ``type=`` for an int or float, optionally within ``[low, high]``.

    Args:
        kind: ``int`` or ``float``.
        low, high: inclusive bounds (None: unbounded); ``above`` excludes ``low``.

    The errors name the type like argparse does ("invalid int value: 'x'") and
    the allowed range ("must be between 0 and 65535, not 70000").
    """

    def convert(text: str) -> Any:
        try:
            value = kind(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: '{text}'") from None
        too_low = low is not None and (value <= low if above else value < low)
        if too_low or (high is not None and value > high):
            start = f"above {low:g}" if above else f"{low:g}"
            positive = (above and low == 0) or (kind is int and low == 1)
            if high is None:
                allowed = "positive" if positive else (f"> {low:g}" if above else f">= {low:g}")
            elif low is None:
                allowed = f"<= {high:g}"
            else:
                allowed = f"{start} and at most {high:g}" if above else f"between {low:g} and {high:g}"
            raise argparse.ArgumentTypeError(f"must be {allowed}, not {value:g}")
        return value

    convert.__name__ = kind.__name__
    return convert


def _list_of(kind: type) -> Callable[[str], Tuple[Any, ...]]:
    """argparse ``type=`` for a comma-separated list (``"a,b"`` or ``"a b"``)."""

    def convert(text: str) -> Tuple[Any, ...]:
        items = [p for p in re.split(r"[,\s]+", text.strip()) if p]
        out = []
        for item in items:
            try:
                out.append(kind(item))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"invalid {kind.__name__} value '{item}' in '{text}' "
                    f"(expected comma-separated {kind.__name__}s)"
                ) from None
        return tuple(out)

    convert.__name__ = f"{kind.__name__} list"
    return convert


def add_config_options(
    parser: argparse.ArgumentParser,
    cls: type,
    title: Optional[str] = None,
    exclude: Tuple[str, ...] = (),
) -> argparse._ArgumentGroup:
    """Add one option per dataclass field of ``cls`` to ``parser``.

    Args:
        parser: the (sub)parser to extend.
        cls: a config dataclass whose fields carry ``metadata["help"]`` and
            optionally ``metadata["choices"]``.
        title: heading of the option group in ``--help``.
        exclude: field names not to expose.

    Returns:
        The argument group holding the options.
    """
    group = parser.add_argument_group(title or f"{cls.__name__} options")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.init:
            continue
        kind, elem = field_kind(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        if default is None and f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        text = str(f.metadata.get("help", "")).replace("%", "%%")
        choices = f.metadata.get("choices")
        dest = DEST_PREFIX + f.name
        if kind == "bool":
            group.add_argument(
                flag(f.name),
                dest=dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{text} (default: {_describe(default)})",
            )
        elif kind == "tuple":
            group.add_argument(
                flag(f.name),
                dest=dest,
                type=_list_of(elem),
                default=None,
                metavar={int: "N", float: "X"}.get(elem, "NAME") + "[,...]",
                help=f"{text}; comma-separated (default: {_describe(default)})",
            )
        else:
            conv: Callable[[str], Any] = str if elem is str else number(elem)
            # A field with a "bare" value may be given without one (``--refine`` alone).
            bare = f.metadata.get("bare")
            group.add_argument(
                flag(f.name),
                dest=dest,
                type=conv,
                default=None,
                **({"nargs": "?", "const": bare} if bare is not None else {}),
                choices=tuple(choices) if choices else None,
                metavar=None if choices else {int: "N", float: "X"}.get(elem, "TEXT"),
                help=f"{text} (default: {_describe(default)})",
            )
    return group


def given_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The config fields the user set on the command line, by field name."""
    return {
        key[len(DEST_PREFIX):]: value
        for key, value in vars(args).items()
        if key.startswith(DEST_PREFIX) and value is not None
    }


def _flagged(message: str, names: Any) -> str:
    """Spell a leading field name of a config error as its option (``size`` -> ``--size``)."""
    for name in sorted(names, key=len, reverse=True):
        if message.startswith(name + " ") or message.startswith(name + ":"):
            return flag(name) + message[len(name):]
    return message


def build_config(cls: Type[T], values: Dict[str, Any], base: Optional[T] = None) -> T:
    """Create ``cls`` from ``values`` (or ``base`` with them replaced), validated.

    Raises:
        ConfigError: a value is out of range; the message names the option.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    try:
        if base is not None:
            return dataclasses.replace(base, **values)  # type: ignore[type-var]
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(_flagged(str(exc), names)) from exc


def load_config_file(cls: Type[T], path: str) -> T:
    """Read a config written by ``--save-config`` (JSON object of field values).

    Raises:
        UsageError: the file is missing, not JSON, or names unknown fields.
        ConfigError: a value is out of range.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read config file {p}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config file {p} must hold a JSON object of settings")
    try:
        return config_from_dict(cls, data)
    except ConfigError as exc:
        if exc.field and exc.field not in {f.name for f in dataclasses.fields(cls)}:  # type: ignore[arg-type]
            raise UsageError(f"config file {p}: {exc}") from None
        raise ConfigError(f"config file {p}: {exc}", field=exc.field, value=exc.value, choices=exc.choices) from None


def config_from_args(cls: Type[T], args: argparse.Namespace, base: Optional[T] = None) -> T:
    """Turn parsed options back into a config, passing only what the user set.

    Args:
        cls: the config dataclass the options were built from.
        args: the parsed namespace (from a parser extended by :func:`add_config_options`).
        base: settings to start from (e.g. loaded with ``--config``); defaults otherwise.

    Raises:
        ConfigError: a value fails the dataclass's validation (exit code 2).
    """
    return build_config(cls, given_options(args), base)


__all__ = [
    "DEST_PREFIX",
    "add_config_options",
    "build_config",
    "config_from_args",
    "flag",
    "given_options",
    "number",
    "load_config_file",
]
