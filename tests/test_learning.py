"""Learning works: PPO on the gold reward learns the train split and generalises to test."""

from __future__ import annotations

import gymnasium as gym
import pytest

from safety_rlhf.agents.prompt_evaluation import constant_policy_metrics
from safety_rlhf.envs import SafetyRLHFEnv, Strategy
from safety_rlhf.experiments.train import TrainConfig, train


@pytest.mark.slow
def test_ppo_on_gold_reward_learns_train_and_beats_constant_policies_on_test(tmp_path) -> None:
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
    assert result.metrics["train"]["gold_success"] >= 0.9
    test_env = gym.make("SafetyRLHF-v0", split="test").unwrapped
    assert isinstance(test_env, SafetyRLHFEnv)
    best_constant = max(constant_policy_metrics(test_env, s)["gold_success"] for s in Strategy)
    assert result.metrics["test"]["gold_success"] > best_constant
