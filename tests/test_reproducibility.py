"""The same seed gives the same rollouts and the same reward model in another process."""

from __future__ import annotations

import subprocess
import sys

ROLLOUT = """
import hashlib, numpy as np, gymnasium as gym, safety_rlhf
env = gym.make("SafetyRLHF-v0", reward_model="rule")
obs, _ = env.reset(seed=11)
rng = np.random.default_rng(11)
digest = hashlib.sha256(obs.tobytes())
for _ in range(300):
    obs, reward, terminated, truncated, info = env.step(int(rng.integers(6)))
    digest.update(obs.tobytes() + np.float64(reward).tobytes() + info["prompt_id"].encode())
    if terminated or truncated:
        obs, _ = env.reset()
print(digest.hexdigest())
"""

REWARD_MODEL = """
from safety_rlhf.data.preferences import load_shipped_preferences
from safety_rlhf.reward.bradley_terry import BradleyTerryConfig
from safety_rlhf.reward.bradley_terry_training import train_bradley_terry
prefs = load_shipped_preferences("train")
n = 1500
config = BradleyTerryConfig(encoder="hashing", dim=256, hidden=(32,), epochs=3, seed=5)
model, _ = train_bradley_terry(prefs.prompts[:n], prefs.chosen[:n], prefs.rejected[:n],
                               config, progress=False)
print(model.identity)
"""


def _twice(code: str) -> tuple[str, str]:
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    return runs[0].stdout.strip(), runs[1].stdout.strip()


def test_same_seed_same_rollout_in_two_processes() -> None:
    first, second = _twice(ROLLOUT)
    assert len(first) == 64 and first == second


def test_same_seed_same_reward_model_in_two_processes() -> None:
    first, second = _twice(REWARD_MODEL)
    assert first.startswith("bradley-terry:") and first == second  # identity = weights hash
