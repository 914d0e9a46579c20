"""SB3's ``rollout/success_rate`` and ``rollout/ep_rew_mean`` mean what an SB3 user expects:
the share of gold-correct decisions and the mean reward per prompt, over the last 100."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import KVWriter, Logger

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.native_vec_env import make_native_vec_env

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Dumps(KVWriter):
    """Keeps every dump of the logger: ``(step, {key: value})``."""

    def __init__(self) -> None:
        self.dumps: list[tuple[int, dict[str, Any]]] = []

    def write(self, key_values: dict[str, Any], key_excluded: Any, step: int = 0) -> None:
        self.dumps.append((step, dict(key_values)))

    def close(self) -> None:
        pass


class LastHundredDecisions(BaseCallback):
    """The share of gold-correct decisions and the mean reward of the last 100 decisions
    (every step's ``info`` and reward, whether or not SB3 thinks an episode ended), taken at
    the end of each rollout, just before SB3 dumps its logs."""

    def __init__(self) -> None:
        super().__init__()
        self.success: list[bool] = []
        self.rewards: list[float] = []
        self.expected: dict[int, tuple[float, float]] = {}

    def _on_step(self) -> bool:
        for info, reward in zip(self.locals["infos"], self.locals["rewards"], strict=True):
            if info["is_success"] is not None:
                self.success.append(bool(info["is_success"]))
            self.rewards.append(float(reward))
        return True

    def _on_rollout_end(self) -> None:
        self.expected[self.num_timesteps] = (
            float(np.mean(self.success[-100:])),
            float(np.mean(self.rewards[-100:])),
        )


@pytest.mark.parametrize("vec_env", ["dummy", "native"])
def test_success_rate_and_ep_rew_mean_are_per_decision(vec_env: str) -> None:
    kwargs = {"reward_model": "rule", "encoder": "hashing", "obs_dim": 32}
    if vec_env == "dummy":
        env = make_vec_env("SafetyRLHF-v0", n_envs=4, seed=0, env_kwargs=kwargs)
    else:
        env = make_native_vec_env(n_envs=4, seed=0, env_kwargs=kwargs)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    output = Dumps()
    model.set_logger(Logger(folder=None, output_formats=[output]))
    recorder = LastHundredDecisions()
    model.learn(4 * 128, callback=recorder)
    logged = {
        step: (values["rollout/success_rate"], values["rollout/ep_rew_mean"])
        for step, values in output.dumps
        if "rollout/success_rate" in values
    }
    assert sorted(logged) == sorted(recorder.expected) == [128, 256, 384, 512]
    for step, (success_rate, ep_rew_mean) in logged.items():
        expected_success, expected_reward = recorder.expected[step]
        assert success_rate == pytest.approx(expected_success, abs=1e-12), step
        # Monitor rounds episode returns to 6 decimals
        assert ep_rew_mean == pytest.approx(expected_reward, abs=1e-5), step
