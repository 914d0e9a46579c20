"""The SB3 algorithm table and the hyperparameter YAMLs (rl-zoo3 format).

``agents/hyperparams/<algo>.yml`` maps an env id to the algorithm's settings, as
rl-baselines3-zoo's ``hyperparams/`` files do: the keys ``n_envs``, ``n_timesteps``,
``policy`` and (optionally) ``normalize`` are about the run, every other key is a
constructor argument of the SB3 class. Files are read with ``yaml.safe_load`` and
validated; ``policy_kwargs`` is a YAML mapping (never a string of code to ``eval``).
"""

from __future__ import annotations

import importlib
import inspect
from importlib import resources
from typing import Any

import yaml
from stable_baselines3.common.base_class import BaseAlgorithm

__all__ = ["ALGORITHMS", "RUN_KEYS", "HyperparamsError", "get_algorithm", "load_hyperparams"]

#: Keys of a hyperparameter entry that describe the run, not the algorithm.
RUN_KEYS = frozenset({"n_envs", "n_timesteps", "policy", "normalize"})


class HyperparamsError(ValueError):
    """A hyperparameter file or entry is missing or invalid."""


#: algorithm name -> (package, class name). Classes are imported on first use.
ALGORITHMS: dict[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "a2c": ("stable_baselines3", "A2C"),
    "dqn": ("stable_baselines3", "DQN"),
    "trpo": ("sb3_contrib", "TRPO"),
    "qrdqn": ("sb3_contrib", "QRDQN"),
    "recurrentppo": ("sb3_contrib", "RecurrentPPO"),
}


def get_algorithm(name: str) -> type[BaseAlgorithm]:
    """The SB3 class for an algorithm name (case-insensitive), e.g. ``"ppo"`` -> ``PPO``."""
    key = name.lower()
    if key not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}")
    package, cls = ALGORITHMS[key]
    return getattr(importlib.import_module(package), cls)


def load_hyperparams(algo: str, env_id: str, path: str | None = None) -> dict[str, Any]:
    """The tuned settings of ``algo`` for ``env_id``, validated against the SB3 class.

    :param algo: algorithm name from :data:`ALGORITHMS`.
    :param env_id: env id, with or without the ``safety_rlhf:`` prefix.
    :param path: a YAML file to read instead of the shipped ``hyperparams/<algo>.yml``.
    :return: a new dict (empty when the shipped file has no entry for the env).
    :raises HyperparamsError: naming the file and key for an unknown or invalid entry.
    """
    algo = algo.lower()
    cls = get_algorithm(algo)
    if path is None:
        source = f"safety_rlhf/agents/hyperparams/{algo}.yml"
        ref = resources.files("safety_rlhf.agents").joinpath("hyperparams", f"{algo}.yml")
        if not ref.is_file():
            return {}
        text = ref.read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise HyperparamsError(f"{path}: cannot read hyperparameters: {exc}") from exc
    try:
        table = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise HyperparamsError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(table, dict):
        raise HyperparamsError(f"{source}: expected a mapping of env id -> settings")
    bare = env_id.split(":", 1)[-1]
    entry = table.get(env_id, table.get(bare))
    if entry is None:
        if path is not None:
            raise HyperparamsError(f"{source}: no entry for env {bare!r} (has {sorted(table)})")
        return {}
    if not isinstance(entry, dict):
        raise HyperparamsError(f"{source}: entry {bare!r} must be a mapping")
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "env"}
    unknown = sorted(set(entry) - allowed - RUN_KEYS)
    if unknown:
        raise HyperparamsError(f"{source}: {bare}: unknown key(s) {unknown} for {cls.__name__}")
    policy_kwargs = entry.get("policy_kwargs")
    if policy_kwargs is not None and not isinstance(policy_kwargs, dict):
        raise HyperparamsError(
            f"{source}: {bare}: policy_kwargs must be a YAML mapping, not {policy_kwargs!r}"
        )
    return dict(entry)
