"""The reward-model registry and spec parsing: :func:`make_reward_model` turns a name,
``"name:argument"``, ``"package.module:object"``, a callable or an instance into a
:class:`~safety_rlhf.reward.base.RewardModel`; :func:`check_spec_from_file` says whether a
spec read from a file (untrusted) may be built; :func:`register_in` and
:func:`make_from_registry` serve other registries of the same interface (cost models).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from safety_rlhf.reward.base import CallableRewardModel, RewardModel, RewardModelError, ScoreFn

__all__ = [
    "check_spec_from_file",
    "list_reward_models",
    "make_from_registry",
    "make_reward_model",
    "register_in",
    "register_reward_model",
]

_REGISTRY: dict[str, type[RewardModel]] = {}

R = TypeVar("R", bound=type[RewardModel])


def register_reward_model(name: str) -> Callable[[R], R]:
    """Class decorator adding a reward model to the registry under ``name``.

    :raises ValueError: if ``name`` is already taken (names are never silently replaced).
    """
    return register_in(_REGISTRY, name, "reward model")


def register_in(registry: dict[str, type[RewardModel]], name: str, kind: str) -> Callable[[R], R]:
    """:func:`register_reward_model` for any registry of models with the ``score``
    interface (``kind`` names it in errors: ``"reward model"``, ``"cost model"``)."""
    if not name or ":" in name:
        raise ValueError(f"invalid {kind} name {name!r}: must be non-empty, without ':'")

    def decorator(cls: R) -> R:
        if name in registry:
            raise ValueError(
                f"{kind} name {name!r} is already registered by "
                f"{registry[name].__module__}.{registry[name].__qualname__}"
            )
        if not (isinstance(cls, type) and issubclass(cls, RewardModel)):
            decorator_name = "register_" + kind.replace(" ", "_")
            raise TypeError(f"@{decorator_name}({name!r}) needs a RewardModel subclass")
        cls.name = name
        registry[name] = cls
        return cls

    return decorator


def list_reward_models() -> list[str]:
    """Names of the registered reward models, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    # Importing the package registers the built-in models (import = registration).
    importlib.import_module("safety_rlhf.reward")


def make_reward_model(spec: str | RewardModel | ScoreFn, **kwargs: Any) -> RewardModel:
    """Build a reward model from a spec.

    Accepted specs:

    - a :class:`RewardModel` instance (returned as is);
    - a registered name, e.g. ``"rule"`` or ``"gold"``;
    - ``"name:argument"``, e.g. ``"bradley-terry:runs/rm"``: the registered class is built
      with the argument as its first positional parameter;
    - ``"package.module:object"``: an importable RewardModel subclass, instance, or
      scoring function;
    - any callable ``f(prompts, responses, **columns) -> array-like``.

    :param spec: the spec.
    :param kwargs: extra constructor arguments for registered classes.
    :raises RewardModelError: naming the spec when it cannot be resolved.
    """
    _load_builtins()
    return make_from_registry(spec, _REGISTRY, "reward model", kwargs)


def make_from_registry(
    spec: str | RewardModel | ScoreFn,
    registry: dict[str, type[RewardModel]],
    kind: str,
    kwargs: dict[str, Any] | None = None,
) -> RewardModel:
    """The spec machinery of :func:`make_reward_model`, on any registry of models with
    the ``score`` interface (``kind`` names it in errors)."""
    kwargs = kwargs or {}
    if isinstance(spec, RewardModel):
        return spec
    if isinstance(spec, type) and issubclass(spec, RewardModel):
        return spec(**kwargs)
    if callable(spec) and not isinstance(spec, str):
        return CallableRewardModel(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise RewardModelError(f"{kind} spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    name, sep, arg = spec.partition(":")
    if name in registry:
        cls = registry[name]
        try:
            return cls(arg, **kwargs) if sep else cls(**kwargs)  # type: ignore[call-arg]
        except RewardModelError:
            raise
        except (TypeError, ValueError) as exc:
            raise RewardModelError(f"{kind} {spec!r}: {exc}") from exc
    if sep and arg and all(part.isidentifier() for part in name.split(".")):
        return _import_object(spec, name, arg, kwargs, kind)
    raise RewardModelError(
        f"unknown {kind} {spec!r}; registered: {', '.join(sorted(registry))}; "
        "or give 'package.module:object'"
    )


def check_spec_from_file(
    spec: object,
    source: str,
    registry: dict[str, type[RewardModel]] | None = None,
    kind: str = "reward model",
    base_dir: str | os.PathLike[str] | None = None,
) -> str:
    """``spec`` if it may be used when read from a file (a run's ``config.yaml``, a saved
    benchmark cell): a registered name or ``"name:argument"`` of a registered kind, with
    every nested spec (``composite:``) checked the same way. Nothing is imported or built.

    A spec naming Python code (``"package.module:object"``) is refused: a run folder is
    untrusted input, and building that spec would import and call whatever it names. Such
    a spec is accepted only from the command line or from Python, where the user wrote it.

    :param spec: the value read from the file.
    :param source: where it was read, e.g. ``"runs/x/config.yaml: reward_model"``.
    :param registry: the registry the spec names a model of (default: the reward models;
        the cost models pass theirs).
    :param kind: what the spec is, for messages (default ``"reward model"``).
    :param base_dir: the folder the file belongs to (a run folder): a path argument
        (``bradley-terry:PATH``, ``hf:PATH``, ``classifier:PATH``) must then lie inside it
        and is resolved against it; ``None``: paths are not checked.
    :return: the spec, with path arguments resolved against ``base_dir``.
    :raises RewardModelError: one line naming ``source`` and why.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise RewardModelError(f"{source}: a {kind} spec must be a non-empty string")
    _load_builtins()
    registry = _REGISTRY if registry is None else registry
    text = spec.strip()
    name, sep, arg = text.partition(":")
    cls = registry.get(name)
    if cls is None:
        why = "names Python code" if sep else f"is not a registered {kind}"
        raise RewardModelError(
            f"{source}: {kind} {text!r} {why}; a spec read from a file may only name a "
            f"registered model ({', '.join(sorted(registry))}, or NAME:ARGUMENT of one); "
            "pass any other spec explicitly (on the command line, or from Python)"
        )
    if sep and cls.argument_is_path and base_dir is not None:
        return f"{name}:{inside(arg, base_dir, f'{source}: {kind} {text!r}')}"
    nested = cls.nested_specs(arg) if sep else []
    if nested and base_dir is not None:  # composite: rebuild it from its checked parts
        parts = [
            (check_spec_from_file(str(part), source, base_dir=base_dir), weight)
            for part, weight in cls.nested_weights(arg)
        ]
        return f"{name}:" + ",".join(f"{part}={weight!r}" for part, weight in parts)
    for part in nested:
        check_spec_from_file(part, source)  # composite parts are reward models
    return text


def inside(path: str | os.PathLike[str], base_dir: str | os.PathLike[str], what: str) -> str:
    """``path`` resolved against ``base_dir``, if it lies inside it (links followed).

    :raises RewardModelError: naming ``what``, for a path outside ``base_dir``.
    """
    base = Path(base_dir).resolve()
    resolved = (base / path).resolve()
    if resolved != base and base not in resolved.parents:
        raise RewardModelError(
            f"{what}: the path {str(path)!r} lies outside {base}; a path read from a run "
            "folder must stay inside it (give another path on the command line)"
        )
    return str(resolved)


def _import_object(
    spec: str, module_name: str, attr: str, kwargs: dict[str, Any], kind: str
) -> RewardModel:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RewardModelError(f"{kind} {spec!r}: cannot import {module_name!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise RewardModelError(
                f"{kind} {spec!r}: module {module_name!r} has no attribute {attr!r}"
            ) from exc
    if isinstance(obj, RewardModel):
        return obj
    if isinstance(obj, type) and issubclass(obj, RewardModel):
        try:
            return obj(**kwargs)
        except (TypeError, ValueError) as exc:
            raise RewardModelError(
                f"{kind} {spec!r}: cannot build {obj.__name__}(): {exc}"
            ) from exc
    if callable(obj):
        return CallableRewardModel(obj, name=spec)
    raise RewardModelError(f"{kind} {spec!r} is a {type(obj).__name__}, not a model")
