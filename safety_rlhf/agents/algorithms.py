"""The SB3 algorithm table and the hyperparameter YAMLs (rl-zoo3 format).

``agents/hyperparams/<algo>.yml`` maps an env id to the algorithm's settings, as
rl-baselines3-zoo's ``hyperparams/`` files do: the keys ``n_envs``, ``n_timesteps``,
``policy`` and (optionally) ``normalize`` are about the run, every other key is a
constructor argument of the SB3 class. Files are read with ``yaml.safe_load`` and
validated; ``policy_kwargs`` is a YAML mapping (never a string of code to ``eval``).

:func:`check_hyperparams` is the one check every setting passes before a run folder
exists (the shipped and user YAMLs, ``--hyperparams`` overrides, a resumed run's saved
settings, each benchmark cell): keys the algorithm's constructor takes, none private
(leading underscore) or set by ``safety-rlhf train`` itself, each value of the type and in
the range of :data:`RANGES` (or, for a key not listed, of the type of its default), no class
named by a string, and networks of at most :data:`MAX_NETWORK_PARAMETERS` parameters.
"""

from __future__ import annotations

import importlib
import inspect
import math
from importlib import resources
from typing import Any

import yaml
from stable_baselines3.common.base_class import BaseAlgorithm

__all__ = [
    "ALGORITHMS",
    "MAX_NETWORK_PARAMETERS",
    "RANGES",
    "RUN_KEYS",
    "HyperparamsError",
    "check_hyperparams",
    "get_algorithm",
    "load_hyperparams",
    "show",
]

#: Keys of a hyperparameter entry that describe the run, not the algorithm.
RUN_KEYS = frozenset({"n_envs", "n_timesteps", "policy", "normalize", "imitate_reference"})


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
    "maskableppo": ("sb3_contrib", "MaskablePPO"),
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
    return check_hyperparams(cls, entry, f"{source}: {bare}")


#: The largest network ``policy_kwargs`` may ask for, in weights and biases, counted as
#: if the input had :data:`MAX_INPUT_FEATURES` features (the env's largest ``obs_dim``).
MAX_NETWORK_PARAMETERS = 50_000_000
MAX_INPUT_FEATURES = 8_192
_BIG = 10**9

#: key -> (type, lowest, highest): ``int`` keys take whole numbers (``6e4`` too), ``float``
#: keys finite numbers; a bound in a tuple ``(x,)`` is exclusive.
RANGES: dict[str, tuple[type, float | tuple[float], float | tuple[float]]] = {
    # run keys
    "n_envs": (int, 1, 1024),
    "n_timesteps": (int, 1, _BIG),
    # on-policy rollouts (n_steps x n_envs transitions are held in memory)
    "n_steps": (int, 1, 10**6),
    "batch_size": (int, 1, 10**6),
    "n_epochs": (int, 1, 10**4),
    "n_critic_updates": (int, 1, 10**4),
    "cg_max_steps": (int, 1, 10**4),
    "line_search_max_iter": (int, 1, 10**4),
    "sub_sampling_factor": (int, 1, 10**6),
    "sde_sample_freq": (int, -1, 10**6),
    "stats_window_size": (int, 1, 10**6),
    # off-policy (buffer_size transitions are held in memory)
    "buffer_size": (int, 1, 10**7),
    "learning_starts": (int, 0, _BIG),
    "gradient_steps": (int, -1, 10**4),
    "target_update_interval": (int, 1, _BIG),
    "train_freq": (int, 1, 10**6),
    # coefficients
    "learning_rate": (float, (0.0,), 10.0),
    "gamma": (float, 0.0, 1.0),
    "gae_lambda": (float, 0.0, 1.0),
    "ent_coef": (float, 0.0, 1e3),
    "vf_coef": (float, 0.0, 1e3),
    "max_grad_norm": (float, (0.0,), 1e6),
    "clip_range": (float, (0.0,), 1e3),
    "clip_range_vf": (float, (0.0,), 1e3),
    "target_kl": (float, (0.0,), 1e3),
    "tau": (float, (0.0,), 1.0),
    "exploration_fraction": (float, 0.0, 1.0),
    "exploration_initial_eps": (float, 0.0, 1.0),
    "exploration_final_eps": (float, 0.0, 1.0),
    "cg_damping": (float, 0.0, 1e3),
    "line_search_shrinking_factor": (float, (0.0,), (1.0,)),
    "rms_prop_eps": (float, (0.0,), 1.0),
    # policy_kwargs
    "lstm_hidden_size": (int, 1, 4096),
    "n_lstm_layers": (int, 1, 16),
    "n_quantiles": (int, 1, 1024),
    "log_std_init": (float, -20.0, 20.0),
}

#: Constructor arguments that ``safety-rlhf train`` sets from its own flags.
_SET_BY_TRAIN = {"seed": "--seed", "device": "--device", "verbose": "", "tensorboard_log": ""}


def show(value: Any) -> str:
    """``repr(value)``, short enough for a one-line message (a 5,000-digit integer too)."""
    if isinstance(value, int) and not -(10**30) < value < 10**30:
        return f"an integer of {value.bit_length():,} bits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_value(key: str, value: Any, kind: type, low: Any, high: Any, where: str) -> Any:
    """``value`` (as an ``int`` for an ``int`` key), or an error unless it is a ``kind``
    within ``[low, high]``."""
    name = "a whole number" if kind is int else "a finite number"
    lo, hi = (b[0] if isinstance(b, tuple) else b for b in (low, high))
    above = ">" if isinstance(low, tuple) else ">="
    below = "<" if isinstance(high, tuple) else "<="
    bounds = f"{above} {lo:g}, {below} {hi:g}"
    ok = isinstance(value, int) and not isinstance(value, bool)  # any size: never float()
    if isinstance(value, float):  # 6e4 is a whole number of steps, 0.5 is not
        ok = math.isfinite(value) and (kind is float or value.is_integer())
    if ok:
        ok = (value > lo if isinstance(low, tuple) else value >= lo) and (
            value < hi if isinstance(high, tuple) else value <= hi
        )
    if not ok:
        raise HyperparamsError(f"{where}: {key} must be {name} {bounds}, got {show(value)}")
    return int(value) if kind is int else value


def _names_a_class(param: inspect.Parameter) -> bool:
    return "type[" in str(param.annotation) or param.name.endswith("_class")


def _check_keys(
    values: dict[str, Any], params: dict[str, inspect.Parameter], owner: str, where: str
) -> dict[str, Any]:
    """Check each of ``values`` against the constructor parameters ``params``; return
    them with whole numbers as ``int`` where the constructor wants one."""
    out = dict(values)
    for key, value in values.items():
        if not isinstance(key, str) or key.startswith("_"):
            raise HyperparamsError(f"{where}: {key!r} is private to {owner}; refusing it")
        if key not in params:
            raise HyperparamsError(f"{where}: unknown key(s) {[key]} for {owner}")
        param = params[key]
        if key in RANGES:
            if value is not None or param.default is not None:
                out[key] = _check_value(key, value, *RANGES[key], where=where)
            continue
        if _names_a_class(param) or param.name.endswith("_fn"):
            if value is not None and not isinstance(value, type):
                raise HyperparamsError(
                    f"{where}: {key} takes a Python class, which a hyperparameter file cannot "
                    f"name (got {show(value)}); pass it from Python"
                )
            continue
        default = param.default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise HyperparamsError(f"{where}: {key} must be true or false, got {show(value)}")
        elif isinstance(default, int | float):
            out[key] = _check_value(key, value, type(default), -_BIG, _BIG, where)
        elif key.endswith("_kwargs") and value is not None and not isinstance(value, dict):
            raise HyperparamsError(f"{where}: {key} must be a mapping, not {show(value)}")
    return out


def _layers(net_arch: Any, where: str) -> list[list[int]]:
    """The lists of layer widths of a ``net_arch`` (a list, or ``pi``/``vf``/``qf`` lists)."""
    if net_arch is None:
        return []
    branches = list(net_arch.values()) if isinstance(net_arch, dict) else [net_arch]
    out = []
    for branch in branches:
        ok = isinstance(branch, list) and all(
            isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in branch
        )
        if not ok:
            raise HyperparamsError(
                f"{where}: policy_kwargs: net_arch must be a list of layer widths >= 1 "
                f"(or a mapping of such lists), got {show(net_arch)}"
            )
        out.append(branch)
    return out


def _network_parameters(policy_kwargs: dict[str, Any], where: str) -> int:
    """Weights and biases of the hidden layers and LSTMs ``policy_kwargs`` asks for."""
    total = 0
    width = MAX_INPUT_FEATURES
    hidden = policy_kwargs.get("lstm_hidden_size")
    if hidden is not None:  # RecurrentPPO: LSTM(s) before the MLPs; critic's own by default
        layers = int(policy_kwargs.get("n_lstm_layers", 1))
        lstm = sum(4 * (hidden * (width if i == 0 else hidden) + hidden * hidden + 2 * hidden)
                   for i in range(layers))  # fmt: skip
        total += lstm * (2 if policy_kwargs.get("enable_critic_lstm", True) else 1)
        width = int(hidden)
    for branch in _layers(policy_kwargs.get("net_arch"), where):
        previous = width
        for size in branch:
            total += previous * size + size
            previous = size
    return total


def check_hyperparams(
    cls: type[BaseAlgorithm], values: dict[str, Any], where: str
) -> dict[str, Any]:
    """Refuse settings ``cls`` would choke on, before anything is built or written.

    :param cls: the SB3 algorithm class.
    :param values: run keys (:data:`RUN_KEYS`) and constructor arguments of ``cls``.
    :param where: what the settings came from, for the message (file and env id, or flag).
    :return: a copy of ``values``, whole numbers as ``int`` where ``cls`` wants one
        (``n_steps: 6e4`` -> ``60000``).
    :raises HyperparamsError: one line naming ``where``, the key and what it must be.
    """
    if not isinstance(values, dict):
        raise HyperparamsError(f"{where}: expected a mapping of settings, got {show(values)}")
    params = dict(inspect.signature(cls.__init__).parameters)
    for key in ("self", "env", "policy"):
        params.pop(key, None)
    for key, flag in _SET_BY_TRAIN.items():
        if key in values:
            how = f"use {flag}" if flag else "safety-rlhf train sets it"
            raise HyperparamsError(f"{where}: {key} is not a hyperparameter here; {how}")
    policy = values.get("policy", next(iter(cls.policy_aliases)))  # MlpPolicy, MlpLstmPolicy
    if not isinstance(policy, str) or policy not in cls.policy_aliases:
        raise HyperparamsError(
            f"{where}: policy must be one of {', '.join(cls.policy_aliases)} for "
            f"{cls.__name__}, got {show(policy)}"
        )
    checked = {k: v for k, v in values.items() if k not in ("policy", "normalize")}
    train_freq = checked.get("train_freq")
    if isinstance(train_freq, list | tuple):  # SB3's (n, "step" | "episode")
        if len(train_freq) != 2 or train_freq[1] not in ("step", "episode"):
            raise HyperparamsError(
                f"{where}: train_freq must be a whole number or [n, step | episode], "
                f"got {show(train_freq)}"
            )
        checked["train_freq"] = train_freq[0]
    run_params = {k: inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY) for k in RUN_KEYS}
    out = {**values, **_check_keys(checked, {**params, **run_params}, cls.__name__, where)}
    if isinstance(train_freq, list | tuple):
        out["train_freq"] = [out["train_freq"], train_freq[1]]
    policy_kwargs = values.get("policy_kwargs")
    if policy_kwargs is None:
        return out
    if not isinstance(policy_kwargs, dict):
        raise HyperparamsError(
            f"{where}: policy_kwargs must be a mapping, not {show(policy_kwargs)}"
        )
    policy_params = dict(inspect.signature(cls.policy_aliases[policy].__init__).parameters)
    for key in ("self", "observation_space", "action_space", "lr_schedule"):
        policy_params.pop(key, None)
    policy_kwargs = _check_keys(policy_kwargs, policy_params, policy, f"{where}: policy_kwargs")
    out["policy_kwargs"] = policy_kwargs
    size = _network_parameters(policy_kwargs, where)
    if size > MAX_NETWORK_PARAMETERS:
        raise HyperparamsError(
            f"{where}: policy_kwargs asks for a network of {size:,} parameters (counting "
            f"{MAX_INPUT_FEATURES:,} input features); at most {MAX_NETWORK_PARAMETERS:,}"
        )
    return out
