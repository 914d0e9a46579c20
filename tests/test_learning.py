"""Learning works: PPO on the gold reward learns the train split and generalises to test
about as well as a classifier fitted with the gold labels on the same observations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from safety_rlhf.agents.prompt_evaluation import constant_policy_metrics
from safety_rlhf.envs import SafetyRLHFEnv, Strategy
from safety_rlhf.experiments.train import TrainConfig, train


def _env(split: str) -> SafetyRLHFEnv:
    env = gym.make("SafetyRLHF-v0", split=split, reward_model="gold").unwrapped
    assert isinstance(env, SafetyRLHFEnv)
    return env


@pytest.mark.slow
def test_ppo_on_gold_reward_learns_train_and_nears_the_supervised_ceiling_on_test(
    tmp_path,
) -> None:
    result = train(
        TrainConfig(
            algo="ppo",
            reward_model="gold",
            timesteps=30_000,
            seed=0,
            log_dir=str(tmp_path),
            progress_bar=False,
        )
    )
    train_env, test_env = _env("train"), _env("test")
    # the supervised ceiling: logistic regression on the train observations *with* the gold
    # labels, scored on test (benchmarks/observation_ceiling.py: 0.804; PPO reached 0.789)
    probe = LogisticRegression(C=1.0, max_iter=3000).fit(
        train_env.tables.observations, np.array(train_env.prompt_set.labels)
    )
    ceiling = probe.score(test_env.tables.observations, np.array(test_env.prompt_set.labels))
    assert result.metrics["train"]["gold_success"] >= 0.8
    assert result.metrics["test"]["gold_success"] >= ceiling - 0.03
    best_constant = max(constant_policy_metrics(test_env, s)["gold_success"] for s in Strategy)
    assert result.metrics["test"]["gold_success"] > best_constant + 0.1
