"""SafetyMetricsCallback against values computed by hand on a fixed rollout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.algorithms import get_algorithm
from safety_rlhf.agents.callbacks import SafetyMetricsCallback, policy_kl_to_reference
from safety_rlhf.envs import SafetyRLHFEnv, Strategy
from safety_rlhf.task.reference_policy import reference_log_probs


def _info(label: str | None, category: str, strategy: Strategy, proxy: float) -> dict:
    return {
        "prompt": f"a {category} prompt", "label": label, "category": category,
        "strategy": strategy.slug, "proxy_reward": proxy, "gold_reward": 0.0,
    }  # fmt: skip


# harmful refused (success), harmful complied (failure, cost 1), benign answered (success),
# look-alike refused (failure, over-refusal), borderline safe completion (success)
ROLLOUT = [
    _info("harmful", "weapons", Strategy.REFUSE, 1.0),
    _info("harmful", "cyber", Strategy.COMPLY, -1.0),
    _info("benign", "cooking", Strategy.COMPLY, 0.5),
    _info("benign", "lookalike", Strategy.REFUSE_AND_REDIRECT, 0.25),
    _info("borderline", "medication", Strategy.SAFE_COMPLETION, 0.75),
]


@pytest.fixture
def model() -> PPO:
    env = SafetyRLHFEnv(reward_model="rule", encoder="hashing", obs_dim=32)
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=8, seed=0, device="cpu")
    model.set_logger(configure(None, ["log"]))  # records kept in memory, nothing written
    return model


def test_rollout_metrics_match_hand_computed_values(model: PPO) -> None:
    callback = SafetyMetricsCallback(window=len(ROLLOUT), n_samples=0)
    callback.init_callback(model)
    obs = np.zeros((1, 32), dtype=np.float32)
    for info in ROLLOUT:
        model._last_obs = obs
        callback.update_locals({"infos": [info]})
        callback.on_step()
    logged = model.logger.name_to_value
    assert logged["safety/gold_success"] == pytest.approx(3 / 5)
    assert logged["safety/harmful_refusal"] == pytest.approx(1 / 2)
    assert logged["safety/harmful_compliance"] == pytest.approx(1 / 2)
    assert logged["safety/benign_help"] == pytest.approx(1 / 2)
    assert logged["safety/over_refusal"] == pytest.approx(1 / 1)
    assert logged["safety/proxy_reward"] == pytest.approx(1.5 / 5)
    # gold-table rewards: 1.0, -1.0, 1.0, -1.0, 1.0; cost: one harmful compliance in five
    assert logged["safety/gold_reward"] == pytest.approx(1 / 5)
    assert logged["safety/cost"] == pytest.approx(1 / 5)
    # the KL is the exact KL of the policy's distribution at the visited observation
    with torch.no_grad():
        dist = model.policy.get_distribution(torch.as_tensor(obs)).distribution
        pi = dist.probs.numpy()[0].astype(np.float64)
    log_ref = reference_log_probs([r["prompt"] for r in ROLLOUT]).astype(np.float64)
    expected_kl = np.mean([np.sum(pi * (np.log(pi) - row)) for row in log_ref])
    assert logged["safety/kl_ref"] == pytest.approx(expected_kl, rel=1e-5)


def test_unavailable_metrics_are_not_logged(model: PPO) -> None:
    callback = SafetyMetricsCallback(window=1, n_samples=0)
    callback.init_callback(model)
    model._last_obs = np.zeros((1, 32), dtype=np.float32)
    callback.update_locals({"infos": [_info("benign", "cooking", Strategy.COMPLY, 1.0)]})
    callback.on_step()
    logged = model.logger.name_to_value
    assert logged["safety/benign_help"] == 1.0
    assert "safety/harmful_refusal" not in logged and "safety/over_refusal" not in logged


def test_kl_is_zero_for_the_reference_policy_itself() -> None:
    log_ref = reference_log_probs(["How do I kill a Python process?", "Bake bread?"])

    class Reference:
        device = "cpu"

        def get_distribution(self, obs: torch.Tensor):
            class D:
                distribution = torch.distributions.Categorical(logits=torch.as_tensor(log_ref))

            return D()

    kl = policy_kl_to_reference(Reference(), np.zeros((2, 4), np.float32), log_ref)
    assert kl == pytest.approx(0.0, abs=1e-6)


# Small budgets that still cross several dumps of each algorithm: 2 envs, rollouts of 64
# decisions (on-policy), a window of 16 decisions, i.e. several windows per dump interval.
WINDOW = 16
SMALL: dict[str, dict[str, Any]] = {
    "ppo": {"n_steps": 32, "batch_size": 64, "n_epochs": 1},
    "a2c": {"n_steps": 32},
    "trpo": {"n_steps": 32, "batch_size": 64},
    "dqn": {"learning_starts": 64, "buffer_size": 1_000, "batch_size": 32},
}


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("algo", sorted(SMALL))
def test_every_window_reaches_tensorboard_at_its_own_step(algo: str, tmp_path: Path) -> None:
    env = make_vec_env(
        "SafetyRLHF-v0",
        n_envs=2,
        seed=0,
        env_kwargs={"reward_model": "rule", "encoder": "hashing", "obs_dim": 32},
    )
    model = get_algorithm(algo)(
        "MlpPolicy",
        env,
        tensorboard_log=str(tmp_path),
        policy_kwargs={"net_arch": [8]},
        seed=0,
        device="cpu",
        **SMALL[algo],
    )
    model.learn(
        8 * 64, callback=SafetyMetricsCallback(window=WINDOW, n_samples=1), tb_log_name="tb"
    )
    decisions = model.num_timesteps  # one decision per env step
    windows = -(-decisions // WINDOW)  # full windows, plus the partial one at the end
    (run,) = tmp_path.iterdir()
    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "tensors": 0}).Reload()
    points = events.Scalars("safety/gold_success")
    steps = [p.step for p in points]
    assert len(points) == windows == 32, f"{algo}: {len(points)} points for {windows} windows"
    assert steps == [WINDOW * k for k in range(1, windows + 1)]
    assert len(events.Tensors("safety/samples/text_summary")) == windows
