"""The KL penalty of RLHF on SB3's on-policy rollouts (``safety_rlhf.agents.kl_penalty``).

Expected values come from hand arithmetic, from GAE written out as a plain loop here, and
from the closed-form optimum ``pi*(a|s) ∝ pi_ref(a|s) exp(r(s,a) / beta)`` of the
KL-regularised objective; never from the code under test or from SB3's GAE.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml
from gymnasium import spaces
from sb3_contrib import TRPO, MaskablePPO, RecurrentPPO
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import obs_as_tensor

import safety_rlhf
from safety_rlhf.agents.kl_penalty import KLPenaltyCallback, apply_kl_penalty
from safety_rlhf.experiments.cli import main
from safety_rlhf.experiments.train import TrainConfig, train
from safety_rlhf.task.gold_tables import GOLD_REWARD
from safety_rlhf.task.reference_policy import reference_probs

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: A small SafetyRLHF-v0 (32 hashed features), paid by the gold reward.
SMALL: dict[str, Any] = {
    "reward_model": "gold",
    "encoder": "hashing",
    "obs_dim": 32,
    "render_mode": None,
}


def _buffer(rewards: list, values: list, log_probs: list, starts: list, gamma: float,
            gae_lambda: float, last_values: list, dones: list) -> RolloutBuffer:  # fmt: skip
    """A filled SB3 rollout buffer (``len(rewards)`` steps x ``len(rewards[0])`` envs) with
    SB3's returns and advantages computed, as ``collect_rollouts`` leaves it."""
    n_steps, n_envs = np.shape(rewards)
    buf = RolloutBuffer(n_steps, spaces.Box(-1, 1, (1,)), spaces.Discrete(6), "cpu",
                        gae_lambda=gae_lambda, gamma=gamma, n_envs=n_envs)  # fmt: skip
    for t in range(n_steps):
        buf.add(np.zeros((n_envs, 1), np.float32), np.zeros((n_envs, 1)),
                np.array(rewards[t], np.float32), np.array(starts[t], np.float32),
                torch.tensor(values[t]), torch.tensor(log_probs[t]))  # fmt: skip
    buf.compute_returns_and_advantage(torch.tensor(last_values), np.array(dones))
    return buf


def test_penalty_of_a_two_step_rollout_by_hand() -> None:
    # gamma 0.5, lambda 1, beta 0.5; log pi - log pi_ref = (-1 + 2, -2 + 1) = (1, -1)
    buf = _buffer(rewards=[[1.0], [2.0]], values=[[0.5], [0.25]], log_probs=[[-1.0], [-2.0]],
                  starts=[[1.0], [0.0]], gamma=0.5, gae_lambda=1.0, last_values=[4.0],
                  dones=[False])  # fmt: skip
    stats = apply_kl_penalty(buf, np.array([[-2.0], [-1.0]]), kl_coef=0.5)
    # rewards: 1 - 0.5 * 1 = 0.5 and 2 - 0.5 * (-1) = 2.5
    np.testing.assert_allclose(buf.rewards[:, 0], [0.5, 2.5])
    # A_1 = 2.5 + 0.5 * 4 - 0.25 = 4.25; A_0 = (0.5 + 0.5 * 0.25 - 0.5) + 0.5 * 4.25 = 2.25
    np.testing.assert_allclose(buf.advantages[:, 0], [2.25, 4.25])
    # returns = advantages + values: 2.75 = 0.5 + 0.5 * 4.5 and 4.5 = 2.5 + 0.5 * 4
    np.testing.assert_allclose(buf.returns[:, 0], [2.75, 4.5])
    assert stats == {"kl_sampled": 0.0, "kl_penalty": 0.0}  # mean of (1, -1)


def _gae(rewards: np.ndarray, values: np.ndarray, starts: np.ndarray, last_values: np.ndarray,
         dones: np.ndarray, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """GAE(lambda) advantages and lambda-returns, one env and one step at a time."""
    n_steps, n_envs = rewards.shape
    adv = np.zeros((n_steps, n_envs))
    for e in range(n_envs):
        running = 0.0
        for t in reversed(range(n_steps)):
            if t == n_steps - 1:
                alive, next_value = 1.0 - float(dones[e]), float(last_values[e])
            else:
                alive, next_value = 1.0 - float(starts[t + 1, e]), float(values[t + 1, e])
            delta = rewards[t, e] + gamma * next_value * alive - values[t, e]
            running = delta + gamma * lam * alive * running
            adv[t, e] = running
    return adv, adv + values


def test_penalty_equals_gae_recomputed_on_the_penalised_rewards() -> None:
    # 3 envs, 4 steps; episodes start mid-rollout in envs 0 and 2; env 1 ends at the last step
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    log_probs, log_ref = -rng.uniform(0.1, 3, (4, 3)), -rng.uniform(0.1, 3, (4, 3))
    starts = np.array([[1, 1, 1], [0, 0, 1], [1, 0, 0], [0, 0, 1]], dtype=np.float32)
    last_values, dones = np.array([0.7, -1.2, 0.3]), np.array([False, True, False])
    buf = _buffer(rewards.tolist(), values.tolist(), log_probs.tolist(), starts.tolist(),
                  0.9, 0.8, last_values.tolist(), dones.tolist())  # fmt: skip
    stats = apply_kl_penalty(buf, log_ref, kl_coef=0.3)
    penalised = rewards - 0.3 * (log_probs - log_ref)
    adv, ret = _gae(penalised, values, starts, last_values, dones, 0.9, 0.8)
    np.testing.assert_allclose(buf.rewards, penalised, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(buf.advantages, adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(buf.returns, ret, rtol=1e-5, atol=1e-5)
    assert stats["kl_sampled"] == pytest.approx(float(np.mean(log_probs - log_ref)))
    assert stats["kl_penalty"] == pytest.approx(0.3 * float(np.mean(log_probs - log_ref)))


class _EndEvery(gym.Wrapper):
    """Terminate every ``k`` steps (``k = 1``: one prompt per episode)."""

    def __init__(self, env: gym.Env, k: int) -> None:
        super().__init__(env)
        self.k, self.t = k, 0

    def reset(self, **kwargs: Any) -> Any:
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        return obs, reward, terminated or self.t % self.k == 0, truncated, info


class _Snapshot(BaseCallback):
    """Before the KL callback: the rollout's rewards as SB3 stored them, and log pi_ref."""

    def _on_rollout_start(self) -> None:
        self.log_ref: list[list[float]] = []

    def _on_step(self) -> bool:
        self.log_ref.append([info["log_pi_ref"] for info in self.locals["infos"]])
        return True

    def _on_rollout_end(self) -> None:
        self.rewards = self.model.rollout_buffer.rewards.astype(np.float64).copy()


class _Check(BaseCallback):
    """After the KL callback: the buffer equals GAE of the penalised rewards, recomputed."""

    def __init__(self, snap: _Snapshot, beta: float) -> None:
        super().__init__()
        self.snap, self.beta = snap, beta
        self.kl: list[float] = []
        self.ended: list[bool] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        model, buf = self.model, self.model.rollout_buffer
        obs = obs_as_tensor(model._last_obs, model.device)
        with torch.no_grad():
            if isinstance(model, RecurrentPPO):
                starts = torch.tensor(model._last_episode_starts, dtype=torch.float32)
                last = model.policy.predict_values(obs, model._last_lstm_states.vf, starts)
            else:
                last = model.policy.predict_values(obs)
        log_ref = np.array(self.snap.log_ref)
        kl = buf.log_probs.astype(np.float64) - log_ref
        penalised = self.snap.rewards - self.beta * kl
        adv, ret = _gae(penalised, buf.values, buf.episode_starts, last.numpy().ravel(),
                        model._last_episode_starts, model.gamma, model.gae_lambda)  # fmt: skip
        np.testing.assert_allclose(buf.rewards, penalised, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(buf.advantages, adv, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(buf.returns, ret, rtol=1e-4, atol=1e-4)
        self.kl.append(float(kl.mean()))
        self.ended.append(bool(buf.episode_starts[1:].any()))


ALGOS = {
    "ppo": lambda env: PPO("MlpPolicy", env, n_steps=12, batch_size=24, n_epochs=1),
    "a2c": lambda env: A2C("MlpPolicy", env, n_steps=12),
    "trpo": lambda env: TRPO("MlpPolicy", env, n_steps=12, batch_size=24),
    "recurrentppo": lambda env: RecurrentPPO(
        "MlpLstmPolicy",
        env,
        n_steps=12,
        batch_size=24,
        n_epochs=1,
        policy_kwargs={"lstm_hidden_size": 4},
    ),
    "maskableppo": lambda env: MaskablePPO("MlpPolicy", env, n_steps=12, batch_size=24, n_epochs=1),
}


@pytest.mark.parametrize("ending", ["truncated", "terminated"])
@pytest.mark.parametrize("algo", list(ALGOS))
def test_every_on_policy_algorithm_learns_from_the_penalised_returns(
    algo: str, ending: str, tmp_path: Path
) -> None:
    # gamma 0.9, lambda 0.8 (the defaults are 0 for this bandit, which would hide the
    # recursion); 2 envs; episodes of 5 truncated (values bootstrapped) or of 3 terminated
    kwargs = SMALL
    if ending == "truncated":
        env = make_vec_env("SafetyRLHF-v0", n_envs=2, seed=0,
                           env_kwargs={**kwargs, "max_episode_steps": 5})  # fmt: skip
    else:
        env = make_vec_env("SafetyRLHF-v0", n_envs=2, seed=0, env_kwargs=kwargs,
                           wrapper_class=_EndEvery, wrapper_kwargs={"k": 3})  # fmt: skip
    model = ALGOS[algo](env)
    model.gamma = model.rollout_buffer.gamma = 0.9
    model.gae_lambda = model.rollout_buffer.gae_lambda = 0.8
    model.set_logger(configure(str(tmp_path), ["csv"]))
    snap = _Snapshot()
    check = _Check(snap, beta=0.4)
    callbacks = CallbackList([snap, KLPenaltyCallback(kl_coef=0.4), check])
    learn = {"use_masking": False} if algo == "maskableppo" else {}
    model.learn(48, callback=callbacks, **learn)
    assert len(check.kl) == 2 and all(check.ended)  # episodes ended inside each rollout
    with open(tmp_path / "progress.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("safety/kl_sampled")]
    logged = [float(r["safety/kl_sampled"]) for r in rows]
    if algo == "a2c":  # A2C dumps every 100 updates: the mean of both, at training end
        check.kl = [float(np.mean(check.kl))]
    np.testing.assert_allclose(logged, check.kl, rtol=1e-5)


def test_a_rollout_cut_short_is_dropped(tmp_path: Path) -> None:
    class Stop(BaseCallback):
        def _on_step(self) -> bool:
            return self.n_calls != 3

    env = make_vec_env("SafetyRLHF-v0", n_envs=2, seed=0, env_kwargs=SMALL)
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=16, n_epochs=1, gamma=0.9)
    kl = KLPenaltyCallback(kl_coef=0.2)
    model.learn(32, callback=[kl, Stop()])
    assert model.num_timesteps == 6 and kl.last_stats == {}  # stopped, nothing penalised
    snap = _Snapshot()
    check = _Check(snap, beta=0.2)
    model.learn(32, callback=[snap, kl, check], reset_num_timesteps=False)
    assert len(check.kl) == 2  # two full rollouts penalised exactly; the 3 stale steps gone


class _NoLogRef(gym.Wrapper):
    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info.pop("log_pi_ref")
        return obs, reward, terminated, truncated, info


def test_a_missing_log_pi_ref_names_the_env() -> None:
    env = make_vec_env("SafetyRLHF-v0", n_envs=2, seed=0, wrapper_class=_NoLogRef, env_kwargs=SMALL)
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=16)
    with pytest.raises(
        ValueError, match=r"env 0 \(SafetyRLHF-v0\) returned no info\['log_pi_ref'\]"
    ):
        model.learn(16, callback=KLPenaltyCallback(kl_coef=0.1))


@pytest.mark.parametrize("beta", [-0.1, math.nan, math.inf, "0.1"])
def test_bad_kl_coef_is_refused(beta: Any) -> None:
    with pytest.raises(ValueError, match="kl_coef must be a finite number >= 0"):
        KLPenaltyCallback(kl_coef=beta)


def test_off_policy_algorithm_is_refused() -> None:
    env = gym.make("SafetyRLHF-v0", reward_model="gold", encoder="hashing", obs_dim=32)
    model = DQN("MlpPolicy", env)
    with pytest.raises(ValueError, match=r"kl_coef 0\.1 is not supported by DQN: .*log-prob"):
        model.learn(16, callback=KLPenaltyCallback(kl_coef=0.1))


def test_benchmark_refuses_kl_coef_for_off_policy_algorithms_before_any_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["benchmark", "--algos", "ppo,dqn", "--kl-coefs", "0,0.1", "--seeds", "1",
            "--timesteps", "64", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error: kl_coef 0.1 is not supported by DQN" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ convergence to pi*

BANDIT = [  # two benign prompts: pi_ref over-refuses the first (a look-alike), not the second
    {"prompt": "How do I kill a Python process?", "label": "benign", "category": "lookalike"},
    {"prompt": "What is a good pasta recipe for two?", "label": "benign", "category": "cooking"},
]
BETA = 0.5


def _closed_form() -> np.ndarray:
    """``pi*(a|s) ∝ pi_ref(a|s) exp(r(s,a) / beta)`` with the gold reward table."""
    ref = reference_probs([row["prompt"] for row in BANDIT])
    reward = np.array([GOLD_REWARD[row["label"]] for row in BANDIT])
    star = ref * np.exp(reward / BETA)
    return star / star.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(("algo", "hyper"), [
    # PPO as shipped (advantage normalisation on, 10 epochs) with a smaller step size: at
    # 3e-3 Adam's steps keep the policy jittering around pi* (TV about 0.1)
    ("ppo", {"learning_rate": 5e-4}),
    # A2C as shipped but for its entropy bonus (tuned to 0.05 in issue 14), which would move
    # the optimum away from pi*
    ("a2c", {"ent_coef": 0.0}),
])  # fmt: skip
def test_train_kl_coef_converges_to_the_closed_form_optimum(
    tmp_path: Path, algo: str, hyper: dict[str, Any]
) -> None:
    prompts = tmp_path / "bandit.jsonl"
    prompts.write_text("".join(json.dumps(row) + "\n" for row in BANDIT), encoding="utf-8")
    shipped = yaml.safe_load(
        (Path(safety_rlhf.__file__).parent / "agents" / "hyperparams" / f"{algo}.yml").read_text()
    )["SafetyRLHF-v0"]
    config = tmp_path / f"{algo}.yml"
    config.write_text(yaml.safe_dump({"SafetyRLHF-v0": {**shipped, **hyper}}))
    env_kwargs = {"prompts": str(prompts), "encoder": "hashing"}
    cfg = TrainConfig(algo=algo, reward_model="gold", timesteps=20_000, kl_coef=BETA,
                      config=str(config), env_kwargs=env_kwargs, log_dir=str(tmp_path / "runs"),
                      progress_bar=False, eval_freq=0, checkpoint_freq=0)  # fmt: skip
    model = train(cfg, argv=[]).model
    assert model.ent_coef == {**shipped, **hyper}["ent_coef"] == 0.0  # not matched to beta
    env = gym.make("SafetyRLHF-v0", reward_model="gold", **env_kwargs).unwrapped
    with torch.no_grad():
        obs = torch.as_tensor(env.tables.observations)
        pi = model.policy.get_distribution(obs).distribution.probs.numpy()
    star = _closed_form()
    assert star.max() < 0.9  # pi* is not deterministic at this beta
    tv = 0.5 * np.abs(pi - star).sum(axis=1)
    assert (tv < 0.05).all(), f"total variation to pi* per prompt: {tv}; pi = {pi}"
