"""Command-line flags generated from a config dataclass, so the CLI never retypes it.

Every field of the dataclass becomes ``--field-name`` with the field's docstring as help,
its default as default and its type as parser: ``bool`` fields with a ``True`` default
become ``--no-field-name``, those with ``False`` ``--field-name``; ``dict`` fields take
rl-zoo3-style ``KEY:VALUE`` pairs (``--env-kwargs encoder:minilm obs_dim:512``), each
value read with ``yaml.safe_load`` (a number, a bool, a list, a mapping or a string;
never evaluated as code).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

__all__ = [
    "add_dataclass_flags",
    "config_from_args",
    "field_docs",
    "flag_name",
    "parse_key_values",
]


def flag_name(field_name: str, default: Any = None) -> str:
    """The flag of a field: ``kl_coef`` -> ``--kl-coef``; ``--no-...`` for a ``True`` bool."""
    name = field_name.replace("_", "-")
    return f"--no-{name}" if default is True else f"--{name}"


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (``""`` where there is none), read
    from its source, whitespace collapsed."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text = ""
            if (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                text = _plain(" ".join(after.value.value.split()))
            docs[node.target.id] = text
    return docs


def _plain(text: str) -> str:
    """Sphinx markup to plain text: ``:data:`~a.B``` -> ``B``, ````x```` -> ``x``."""
    text = re.sub(r":\w+:`~?([^`]+)`", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return text.replace("``", "")


def parse_key_values(items: Iterable[str], flag: str) -> dict[str, Any]:
    """``["lr:1e-3", "net:[64, 64]"]`` -> ``{"lr": 0.001, "net": [64, 64]}``.

    :param items: ``KEY:VALUE`` strings; the value is read with ``yaml.safe_load``
        (``1e-3`` is a number, as YAML 1.1 would read ``1.0e-3``).
    :param flag: the flag the items came from, for the error message.
    :raises ValueError: one line naming the flag and the bad item.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition(":")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"{flag}: expected KEY:VALUE (e.g. learning_rate:1e-3), got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ValueError(f"{flag}: {item!r}: the value is not valid YAML ({problem})") from None
        if isinstance(value, str):
            value = _number(value)
        out[key] = value
    return out


def _number(text: str) -> Any:
    """``"1e-3"`` -> ``0.001`` (YAML 1.1 needs a dot in exponent floats); else unchanged."""
    try:
        return float(text) if text.strip().lower() not in ("nan", "inf", "-inf") else text
    except ValueError:
        return text


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """``int | None`` -> ``(int, True)``; ``dict[str, Any]`` -> ``(dict, False)``."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else str
        origin = typing.get_origin(annotation)
    return (origin or annotation), optional


def add_dataclass_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    skip: Sequence[str] = (),
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Add one flag per field of the dataclass ``cls`` to ``parser``.

    :param parser: the parser (or argument group) to extend.
    :param cls: the dataclass.
    :param skip: field names that get no flag.
    :param extra: per field, keyword arguments for ``add_argument`` that override the
        generated ones (``choices``, ``metavar``, ``help``, ...).
    :return: the names of the fields that got a flag, in field order.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    extra = extra or {}
    added = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = (
            f.default_factory()
            if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING
            else f.default
        )
        base, _ = _base_type(hints[f.name])
        # argparse formats help with %: a literal one must be doubled
        kwargs: dict[str, Any] = {"dest": f.name, "help": docs.get(f.name, "").replace("%", "%%")}
        if base is bool:
            kwargs["action"] = "store_false" if default else "store_true"
            if default:
                kwargs["help"] = f"Turn off: {kwargs['help'][:1].lower()}{kwargs['help'][1:]}"
        elif base is dict:
            kwargs.update(nargs="+", metavar="KEY:VALUE", default=None)
            kwargs["help"] += " (KEY:VALUE pairs, values read as YAML)"
        else:
            kwargs.update(type=base if base in (int, float) else str, default=default)
            kwargs["help"] += f" (default: {default})"
        kwargs.update(extra.get(f.name, {}))
        parser.add_argument(flag_name(f.name, default if base is bool else None), **kwargs)
        added.append(f.name)
    return added


def config_from_args(cls: type, args: argparse.Namespace, names: Iterable[str]) -> Any:
    """The dataclass ``cls`` built from the parsed flags of the fields ``names`` (the
    others keep their defaults); ``KEY:VALUE`` lists become dicts.

    :raises ValueError: for a malformed ``KEY:VALUE`` item (see :func:`parse_key_values`).
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(args, name)
        if _base_type(hints[name])[0] is dict:
            value = {} if value is None else parse_key_values(value, flag_name(name))
        values[name] = value
    return cls(**values)
