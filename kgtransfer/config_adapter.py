"""The configs on the command line, in TOML tables and in benchmark grids, from one description.

Every field of a :mod:`kgtransfer.config` dataclass becomes a flag (``batch_size`` ->
``--batch-size``, help text and default from the field), a key of a TOML table (an unknown key is
an error naming it), and an axis of a grid. Adding a field to a config adds it everywhere.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import MISSING, fields, replace

from kgtransfer.config import Config, ConfigError


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parser_type(kind: str):
    if kind.startswith("int") and "None" in kind:
        return _int_or_none
    if kind.startswith("int"):
        return int
    if kind.startswith("float"):
        return float
    if kind.startswith("dict"):
        return _json_object
    if kind.startswith("list"):
        return _int_list
    return str


def _int_or_none(text: str) -> int | str:
    """An integer, or ``"none"`` (the config reads it as None; a flag's None means "not given")."""
    if text.strip().lower() == "none":
        return "none"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or none, got {text!r}") from None


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        pairs = [p.partition("=") for p in text.split(",")]
        if all(k.strip() and eq for k, eq, _ in pairs):  # num_layers=3: the JSON it means
            meant = json.dumps({k.strip(): _json_value(v.strip()) for k, _, v in pairs})
            raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}; write '{meant}'") from None
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}: {e}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _json_value(text: str):
    """``3`` -> 3, ``true`` -> True, ``sum`` -> "sum": a value as JSON reads it, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _int_list(text: str) -> list[int]:
    """``"10,10"``, ``"10 10"`` or ``"[10, 10]"`` -> ``[10, 10]``."""
    try:
        return [int(k) for k in text.strip("[] ").replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers such as 10,10, got {text!r}") from None


def add_arguments(
    parser: argparse.ArgumentParser, config: type[Config], defaults: dict | None = None, only: Iterable[str] = ()
) -> None:
    """Add one flag per field of ``config`` to ``parser`` (each defaults to None: "not given").

    Args:
        parser: the parser or argument group.
        config: the config class.
        defaults: the defaults to show in the help when they differ from the field's (default: none).
        only: the fields to add (default: every field).
    """
    wanted = set(only)
    for f in fields(config):
        if wanted and f.name not in wanted:
            continue
        default = (defaults or {}).get(f.name, f.default if f.default is not MISSING else f.default_factory())
        text = f"{f.metadata.get('help', '')} (default: {default})"
        kind = str(f.type)
        if kind.startswith("bool"):
            parser.add_argument(_flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(_flag(f.name), dest=f.name, type=_parser_type(kind), help=text)


def from_args(args: argparse.Namespace, config: type[Config], base: Config | None = None) -> Config:
    """``base`` (default: ``config()``) with the flags of :func:`add_arguments` that were given."""
    values = {}
    for f in fields(config):
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = value
    return replace(base or config(), **values)


def to_flags(config: Config, always: Iterable[str] = (), skip: Iterable[str] = ()) -> list[str]:
    """The flags of :func:`add_arguments` that give ``config`` back through :func:`from_args`.

    Fields equal to the class default are left out, except those in ``always`` (e.g. settings that
    would otherwise be sized to the graph); fields in ``skip`` are never given.
    """
    default, wanted, skipped = type(config)(), set(always), set(skip)
    flags = []
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name in skipped or (value == getattr(default, f.name) and f.name not in wanted):
            continue
        if isinstance(value, bool):
            flags.append(_flag(f.name if value else "no-" + f.name))
        elif isinstance(value, list | tuple):
            flags += [_flag(f.name), ",".join(str(v) for v in value)]
        elif value is not None:
            flags += [_flag(f.name), json.dumps(value) if isinstance(value, dict) else str(value)]
        elif _parser_type(str(f.type)) is _int_or_none:  # None where the default is not: the flag's "none"
            flags += [_flag(f.name), "none"]
    return flags


def from_table(
    table: dict | None, config: type[Config], where: str = "", base: Config | None = None, section: str | None = None
) -> Config:
    """A config from a TOML table; an unknown key raises :class:`ConfigError` naming it (and ``where``, ``section``)."""
    table = dict(table or {})
    if base is None:
        return config.from_dict(table, where, section)
    config.from_dict({k: v for k, v in table.items() if k not in base.to_dict()} or {}, where, section)  # unknown keys
    try:
        return replace(base, **table)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}" if where else str(e)) from None
