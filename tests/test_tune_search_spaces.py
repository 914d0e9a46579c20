"""The search spaces of ``safety-rlhf tune``: every draw is a setting the algorithm takes."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from safety_rlhf.agents.algorithms import ALGORITHMS, check_hyperparams, get_algorithm
from safety_rlhf.agents.algorithms import load_hyperparams as shipped
from safety_rlhf.agents.search_spaces import (
    NET_ARCHS,
    SEARCH_SPACES,
    merge_over,
    suggest_hyperparams,
)

optuna = pytest.importorskip("optuna")  # the [tune] extra

ENVS = ("SafetyRLHF-v0", "SafetyRLHF-Text-v0")
ON_POLICY_MINIBATCHES = ("ppo", "maskableppo", "recurrentppo", "trpo")


def _random_draws(algo: str, env: str, n: int, n_envs: int) -> list[dict[str, Any]]:
    """``n`` draws of ``algo``'s space by Optuna's RandomSampler (as the first trials of a
    study are drawn), each from a trial of a real in-memory study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    draws = []
    for _ in range(n):
        trial = study.ask()
        draws.append(suggest_hyperparams(algo, env, trial, n_envs))
        study.tell(trial, 0.0)
    return draws


def test_every_algorithm_has_a_search_space() -> None:
    assert set(SEARCH_SPACES) == set(ALGORITHMS)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_draws_pass_the_hyperparameter_check_over_the_shipped_entry(algo: str, env: str) -> None:
    cls = get_algorithm(algo)
    base = shipped(algo, env)
    n_envs = int(base.get("n_envs", 1))
    for params in _random_draws(algo, env, 60, n_envs):
        merged = merge_over(base, params)
        check_hyperparams(cls, merged, f"{algo} draw {params}")  # raises if refused
        if algo in ON_POLICY_MINIBATCHES:
            rollout = merged["n_steps"] * n_envs
            assert rollout % merged["batch_size"] == 0 and merged["batch_size"] > 1
        # settings the space does not draw keep the entry's values
        for key, value in base.get("policy_kwargs", {}).items():
            if key not in params["policy_kwargs"]:
                assert merged["policy_kwargs"][key] == value


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_discount_is_searched_only_where_steps_follow_each_other(algo: str) -> None:
    (bandit,) = _random_draws(algo, "SafetyRLHF-v0", 1, 8)
    (text,) = _random_draws(algo, "safety_rlhf:SafetyRLHF-Text-v0", 1, 16)
    assert "gamma" not in bandit and "gae_lambda" not in bandit
    assert "target_update_interval" not in bandit
    assert 0.9 <= text["gamma"] <= 1.0
    assert ("target_update_interval" in text) == (algo in ("dqn", "qrdqn"))


def test_a_fixed_trial_gives_the_named_settings() -> None:
    trial = optuna.trial.FixedTrial(
        {"learning_rate": 0.001, "n_steps": 32, "n_minibatches": 4, "n_epochs": 4,
         "ent_coef": 0.01, "clip_range": 0.2, "net_arch": "64x64", "lstm_hidden_size": 32}
    )  # fmt: skip
    params = suggest_hyperparams("recurrentppo", "SafetyRLHF-v0", trial, n_envs=8)
    assert params == {
        "learning_rate": 0.001,
        "n_steps": 32,
        "batch_size": 64,  # 32 steps x 8 envs in 4 minibatches
        "n_epochs": 4,
        "ent_coef": 0.01,
        "clip_range": 0.2,
        "policy_kwargs": {"net_arch": NET_ARCHS["64x64"], "lstm_hidden_size": 32},
    }


def test_unknown_algorithm_is_one_error() -> None:
    with pytest.raises(ValueError, match=r"algorithm 'sac'; tune takes ppo, a2c, dqn"):
        suggest_hyperparams("sac", "SafetyRLHF-v0", optuna.trial.FixedTrial({}), 8)


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_sb3_builds_the_agent_of_a_draw(algo: str) -> None:
    """Beyond the table check: SB3's own constructor takes two drawn settings."""
    cls = get_algorithm(algo)
    base = shipped(algo, "SafetyRLHF-v0")
    env = DummyVecEnv([lambda: gym.make("SafetyRLHF-v0", reward_model="rule")] * 2)
    try:
        for params in _random_draws(algo, "SafetyRLHF-v0", 2, 2):
            merged = merge_over(base, params)
            if "buffer_size" in merged:
                merged["buffer_size"] = 1_000  # memory; the drawn sizes are checked above
            policy = merged.pop("policy")
            kwargs = {k: v for k, v in merged.items() if k not in ("n_envs", "n_timesteps")}
            cls(policy, env, device="cpu", **kwargs)
    finally:
        env.close()


def test_a2c_never_normalises_a_one_transition_rollout() -> None:
    # SafetyRLHF-Text-v0's A2C entry runs one env: n_steps 1 is a rollout of one transition,
    # whose advantages have no standard deviation (NaN)
    trial = optuna.trial.FixedTrial(
        {"learning_rate": 0.001, "n_steps": 1, "ent_coef": 0.0, "vf_coef": 0.5,
         "max_grad_norm": 0.5, "normalize_advantage": True, "net_arch": "64"}
    )  # fmt: skip
    assert (
        suggest_hyperparams("a2c", "SafetyRLHF-v0", trial, n_envs=1)["normalize_advantage"] is False
    )
    assert (
        suggest_hyperparams("a2c", "SafetyRLHF-v0", trial, n_envs=2)["normalize_advantage"] is True
    )
    env = "SafetyRLHF-Text-v0"
    n_envs = int(shipped("a2c", env).get("n_envs", 1))
    for params in _random_draws("a2c", env, 200, n_envs):
        assert params["n_steps"] * n_envs >= 2 or not params["normalize_advantage"]
