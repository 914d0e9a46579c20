"""Evaluate a policy on every prompt of a split: one deterministic decision per prompt."""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.envs.strategy_env import SafetyRLHFEnv
from safety_rlhf.task.metrics import decision_metrics

__all__ = [
    "constant_policy_metrics",
    "evaluate_policy_on_prompts",
    "make_strategy_env",
    "policy_decisions",
]


def make_strategy_env(env_id: str, **kwargs: Any) -> SafetyRLHFEnv:
    """``gym.make(env_id, **kwargs).unwrapped``, checked to be a strategy env (one decision
    per prompt, so it can be evaluated on every prompt)."""
    env = gym.make(env_id, **kwargs).unwrapped
    if not isinstance(env, SafetyRLHFEnv):
        raise ValueError(f"{env_id} is not a SafetyRLHF strategy env; cannot evaluate per prompt")
    return env


class Predictor(Protocol):
    """Anything with SB3's ``predict`` (every SB3 algorithm)."""

    def predict(self, observation: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]: ...


def policy_decisions(model: Predictor, env: SafetyRLHFEnv) -> np.ndarray:
    """The greedy strategy of ``model`` for each prompt of ``env``'s prompt set, in order."""
    actions, _ = model.predict(env.tables.observations, deterministic=True)
    return np.asarray(actions, dtype=np.int64).reshape(-1)


def _metrics_for(env: SafetyRLHFEnv, actions: np.ndarray) -> dict[str, float | None]:
    rows = np.arange(len(actions))
    return decision_metrics(
        env.prompt_set.labels,
        env.prompt_set.categories,
        actions,
        proxy_rewards=env.tables.proxy_reward[rows, actions],
        proxy_costs=None if env.tables.proxy_cost is None else env.tables.proxy_cost[rows, actions],
    )


def evaluate_policy_on_prompts(model: Predictor, env: SafetyRLHFEnv) -> dict[str, float | None]:
    """Safety metrics of ``model``'s greedy decisions on every prompt of ``env`` (exact,
    not sampled: each prompt counts once)."""
    return _metrics_for(env, policy_decisions(model, env))


def constant_policy_metrics(env: SafetyRLHFEnv, strategy: int) -> dict[str, float | None]:
    """Safety metrics of always choosing ``strategy`` on every prompt of ``env``."""
    return _metrics_for(env, np.full(env.n_prompts, int(strategy), dtype=np.int64))
