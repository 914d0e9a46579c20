"""Hyperparameter search spaces of ``safety-rlhf tune``, one per algorithm.

Each space is a function ``(trial, n_envs) -> dict`` that draws the algorithm's main
hyperparameters from ``trial`` (an Optuna trial, or anything with its ``suggest_*``
methods: :class:`TrialLike`) and returns them as constructor arguments of the SB3 class,
ready to be merged over the algorithm's YAML entry (:func:`merge_over`). ``n_envs`` (the
entry's parallel environments) is an argument because an on-policy rollout holds
``n_steps * n_envs`` transitions: the spaces draw the number of minibatches per rollout,
not the batch size, so that the batch size always divides the rollout.

Every choice is a number, a boolean or a string (Optuna stores nothing else); a network is
drawn by name from :data:`NET_ARCHS`. :func:`suggest_hyperparams` adds the discount
(``gamma``, ``gae_lambda``, DQN's ``target_update_interval``) only for envs where a step's
action changes what comes next: ``SafetyRLHF-v0`` is a contextual bandit (one prompt, one
decision, a new prompt), where the return of a step is its reward whatever ``gamma`` says,
so searching it would only dilute the search (:data:`ONE_STEP_ENVS`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "NET_ARCHS",
    "ONE_STEP_ENVS",
    "SEARCH_SPACES",
    "SearchSpace",
    "TrialLike",
    "a2c",
    "dqn",
    "maskableppo",
    "merge_over",
    "ppo",
    "qrdqn",
    "recurrentppo",
    "suggest_hyperparams",
    "trpo",
]


class TrialLike(Protocol):
    """What a search space needs of a trial: Optuna's ``suggest_*`` methods (an
    ``optuna.Trial`` or ``optuna.trial.FixedTrial``; this module does not import Optuna)."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


#: A search space: ``(trial, n_envs) -> hyperparameters``.
SearchSpace = Callable[[TrialLike, int], dict[str, Any]]

#: Network choices by name (``policy_kwargs: {net_arch: ...}``): ``linear`` is no hidden
#: layer, the shipped default for ``SafetyRLHF-v0`` (on MiniLM features a linear head
#: generalised to unseen topics as well as an MLP, see ``hyperparams/ppo.yml``).
NET_ARCHS: dict[str, list[int]] = {
    "linear": [],
    "64": [64],
    "64x64": [64, 64],
    "256": [256],
}

#: Env ids (without the ``safety_rlhf:`` prefix) whose episodes are one step long.
ONE_STEP_ENVS = frozenset({"SafetyRLHF-v0"})


def _net_arch(trial: TrialLike) -> list[int]:
    return list(NET_ARCHS[trial.suggest_categorical("net_arch", list(NET_ARCHS))])


def _rollout(trial: TrialLike, n_envs: int, steps: Sequence[int]) -> dict[str, Any]:
    """``n_steps`` and a ``batch_size`` dividing the rollout of ``n_steps * n_envs``
    transitions into 1, 2 or 4 minibatches (at least 2 transitions each: PPO refuses 1)."""
    n_steps = int(trial.suggest_categorical("n_steps", list(steps)))
    minibatches = int(trial.suggest_categorical("n_minibatches", [1, 2, 4]))
    return {"n_steps": n_steps, "batch_size": max(n_steps * n_envs // minibatches, 2)}


def ppo(trial: TrialLike, n_envs: int = 8) -> dict[str, Any]:
    """PPO: Adam step size (log scale), rollout length and minibatches, epochs per
    rollout, entropy bonus, clipping range and network.

    :param trial: the trial to draw from.
    :param n_envs: parallel environments of the run (default 8, the shipped YAMLs').
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-2, log=True),
        **_rollout(trial, n_envs, [8, 16, 32, 64, 128]),
        "n_epochs": int(trial.suggest_categorical("n_epochs", [1, 4, 10, 20])),
        "ent_coef": float(trial.suggest_categorical("ent_coef", [0.0, 0.001, 0.01, 0.05])),
        "clip_range": float(trial.suggest_categorical("clip_range", [0.05, 0.1, 0.2, 0.3])),
        "policy_kwargs": {"net_arch": _net_arch(trial)},
    }


def maskableppo(trial: TrialLike, n_envs: int = 8) -> dict[str, Any]:
    """MaskablePPO: the PPO space (:func:`ppo`).

    :param trial: the trial to draw from.
    :param n_envs: parallel environments of the run (default 8).
    """
    return ppo(trial, n_envs)


def recurrentppo(trial: TrialLike, n_envs: int = 8) -> dict[str, Any]:
    """RecurrentPPO: the PPO space (:func:`ppo`) plus the LSTM's hidden size.

    :param trial: the trial to draw from.
    :param n_envs: parallel environments of the run (default 8).
    """
    params = ppo(trial, n_envs)
    hidden = int(trial.suggest_categorical("lstm_hidden_size", [8, 16, 32, 64]))
    params["policy_kwargs"]["lstm_hidden_size"] = hidden
    return params


def a2c(trial: TrialLike, n_envs: int = 8) -> dict[str, Any]:
    """A2C: step size (log scale), rollout length, entropy bonus, value-loss weight,
    gradient clipping, advantage normalisation (off for a one-transition rollout) and
    network.

    :param trial: the trial to draw from.
    :param n_envs: parallel environments of the run (default 8; A2C has no minibatches).
    """
    params: dict[str, Any] = {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-2, log=True),
        "n_steps": int(trial.suggest_categorical("n_steps", [1, 4, 8, 16, 32])),
        "ent_coef": float(trial.suggest_categorical("ent_coef", [0.0, 0.001, 0.01, 0.05])),
        "vf_coef": trial.suggest_float("vf_coef", 0.25, 1.0),
        "max_grad_norm": float(trial.suggest_categorical("max_grad_norm", [0.3, 0.5, 1.0, 5.0])),
        # a rollout of one transition has no spread to normalise by (its std is NaN):
        # normalisation is drawn only for rollouts of two or more
        "normalize_advantage": False,
    }
    if params["n_steps"] * n_envs >= 2:
        params["normalize_advantage"] = bool(
            trial.suggest_categorical("normalize_advantage", [False, True])
        )
    params["policy_kwargs"] = {"net_arch": _net_arch(trial)}
    return params


def trpo(trial: TrialLike, n_envs: int = 8) -> dict[str, Any]:
    """TRPO: the trust region (``target_kl``, log scale), the critic's step size and
    updates, rollout length and critic minibatches, and network.

    :param trial: the trial to draw from.
    :param n_envs: parallel environments of the run (default 8).
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        **_rollout(trial, n_envs, [8, 16, 32, 64, 128]),
        "target_kl": trial.suggest_float("target_kl", 1e-3, 1e-1, log=True),
        "n_critic_updates": int(trial.suggest_categorical("n_critic_updates", [5, 10, 20])),
        "policy_kwargs": {"net_arch": _net_arch(trial)},
    }


def dqn(trial: TrialLike, n_envs: int = 8) -> dict[str, Any]:
    """DQN: step size (log scale), replay buffer, warm-up, minibatch, training frequency,
    epsilon schedule and network. Buffers hold at most 50,000 transitions (two copies of a
    384-float observation each: about 150 MB).

    :param trial: the trial to draw from.
    :param n_envs: parallel environments of the run (default 8; unused: a vectorised step
        adds ``n_envs`` transitions whatever is drawn).
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-2, log=True),
        "buffer_size": int(trial.suggest_categorical("buffer_size", [10_000, 50_000])),
        "learning_starts": int(trial.suggest_categorical("learning_starts", [0, 1_000, 5_000])),
        "batch_size": int(trial.suggest_categorical("batch_size", [32, 64, 128, 256])),
        "train_freq": int(trial.suggest_categorical("train_freq", [1, 4, 8])),
        "exploration_fraction": trial.suggest_float("exploration_fraction", 0.05, 0.5),
        "exploration_final_eps": trial.suggest_float("exploration_final_eps", 0.0, 0.2),
        "policy_kwargs": {"net_arch": _net_arch(trial)},
    }


def qrdqn(trial: TrialLike, n_envs: int = 8) -> dict[str, Any]:
    """QR-DQN: the DQN space (:func:`dqn`) plus the number of quantiles.

    :param trial: the trial to draw from.
    :param n_envs: parallel environments of the run (default 8).
    """
    params = dqn(trial, n_envs)
    params["policy_kwargs"]["n_quantiles"] = int(
        trial.suggest_categorical("n_quantiles", [10, 25, 50])
    )
    return params


#: algorithm name (as in ``ALGORITHMS``) -> its search space.
SEARCH_SPACES: dict[str, SearchSpace] = {
    "ppo": ppo,
    "a2c": a2c,
    "dqn": dqn,
    "trpo": trpo,
    "qrdqn": qrdqn,
    "recurrentppo": recurrentppo,
    "maskableppo": maskableppo,
}

_OFF_POLICY = frozenset({"dqn", "qrdqn"})


def suggest_hyperparams(algo: str, env_id: str, trial: TrialLike, n_envs: int) -> dict[str, Any]:
    """The hyperparameters ``trial`` draws for ``algo`` on ``env_id``.

    :param algo: algorithm name, a key of :data:`SEARCH_SPACES` (case-insensitive).
    :param env_id: the env id (``safety_rlhf:`` prefix optional); for envs not in
        :data:`ONE_STEP_ENVS` the discount is drawn too: ``gamma``, plus ``gae_lambda``
        (on-policy) or ``target_update_interval`` (DQN, QR-DQN).
    :param trial: the trial to draw from.
    :param n_envs: parallel environments of the run (from its YAML entry).
    :raises ValueError: for an algorithm without a search space.
    """
    key = algo.lower()
    if key not in SEARCH_SPACES:
        choices = ", ".join(SEARCH_SPACES)
        raise ValueError(f"no search space for algorithm {algo!r}; tune takes {choices}")
    params = SEARCH_SPACES[key](trial, n_envs)
    if env_id.split(":", 1)[-1] not in ONE_STEP_ENVS:
        params["gamma"] = float(trial.suggest_categorical("gamma", [0.9, 0.95, 0.98, 0.99, 1.0]))
        if key in _OFF_POLICY:
            params["target_update_interval"] = int(
                trial.suggest_categorical("target_update_interval", [1, 1_000, 5_000])
            )
        else:
            params["gae_lambda"] = float(
                trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95, 1.0])
            )
    return params


def merge_over(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over a YAML entry ``base``: keys replaced, but ``policy_kwargs`` merged
    key by key, so that settings the search does not draw (RecurrentPPO's
    ``enable_critic_lstm``) keep the entry's values.

    >>> merge_over({"n_steps": 8, "policy_kwargs": {"net_arch": [], "n_quantiles": 25}},
    ...            {"n_steps": 16, "policy_kwargs": {"net_arch": [64]}})
    {'n_steps': 16, 'policy_kwargs': {'net_arch': [64], 'n_quantiles': 25}}
    """
    out = copy.deepcopy(dict(base))
    for key, value in params.items():
        if key == "policy_kwargs" and isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**out[key], **copy.deepcopy(value)}
        else:
            out[key] = copy.deepcopy(value)
    return out
