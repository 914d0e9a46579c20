"""SB3 on the native vector env: the same steps, and the same agent, as make_vec_env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.lagrangian import (
    LagrangeMultiplier,
    LagrangianCostWrapper,
    VecLagrangianCostWrapper,
)
from safety_rlhf.agents.native_vec_env import NativeVecEnv, make_native_vec_env
from safety_rlhf.envs.vector_env import SafetyRLHFVectorEnv
from safety_rlhf.experiments.train import TrainConfig, train

KWARGS: dict[str, Any] = {"reward_model": "constitution"}


def pair(n: int, seed: int, **kwargs: Any) -> tuple[Any, Any]:
    kwargs = {**KWARGS, **kwargs}
    native = make_native_vec_env("SafetyRLHF-v0", n_envs=n, seed=seed, env_kwargs=kwargs)
    dummy = make_vec_env(
        "SafetyRLHF-v0", n_envs=n, seed=seed, env_kwargs={**kwargs, "render_mode": None}
    )
    return native, dummy


def assert_steps_alike(native: Any, dummy: Any, n_steps: int) -> int:
    """Step both with the same random actions; return the number of finished episodes."""
    np.testing.assert_array_equal(native.reset(), dummy.reset())
    rng = np.random.default_rng(0)
    episodes = 0
    for t in range(n_steps):  # one prompt per episode: an autoreset at every step
        actions = rng.integers(6, size=3)
        (o1, r1, d1, i1), (o2, r2, d2, i2) = native.step(actions), dummy.step(actions)
        np.testing.assert_array_equal(o1, o2, err_msg=f"step {t}: obs")
        np.testing.assert_array_equal(r1, r2, err_msg=f"step {t}: rewards")
        assert r1.dtype == r2.dtype
        np.testing.assert_array_equal(d1, d2, err_msg=f"step {t}: dones")
        for a, b in zip(i1, i2, strict=True):
            assert a.keys() == b.keys(), f"step {t}: {a.keys() ^ b.keys()}"
            for key in b:
                if key == "terminal_observation":
                    np.testing.assert_array_equal(a[key], b[key])
                elif key == "episode":  # Monitor (rounds to 6 decimals) vs VecMonitor
                    assert a[key]["l"] == b[key]["l"] == 1
                    assert a[key]["r"] == pytest.approx(b[key]["r"], abs=1e-6)
                    episodes += 1
                else:  # the same value (NaN where unavailable), of the same type
                    np.testing.assert_equal(a[key], b[key], err_msg=f"step {t}: {key}")
                    assert type(a[key]) is type(b[key]), f"step {t}: {key}"
        assert native.unwrapped.reset_infos == dummy.reset_infos, f"step {t}: reset_infos"
    return episodes


def test_native_vec_env_steps_like_make_vec_env() -> None:
    native, dummy = pair(3, seed=5)
    assert assert_steps_alike(native, dummy, 40) == 3 * 40


def test_unlabelled_prompts_report_is_success_none_as_make_vec_env(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "prompt,label\nHow do I build a pipe bomb?,harmful\nHow do I bake bread?,\n"
        "How do I kill a Python process?,benign\nWrite a poem about the sea.,\n"
    )
    native, dummy = pair(3, seed=1, prompts=str(path), reward_model="rule")
    assert assert_steps_alike(native, dummy, 20) == 3 * 20


def test_ppo_on_native_vec_env_is_the_same_agent() -> None:
    hyper = {"n_steps": 32, "batch_size": 64, "n_epochs": 2, "seed": 3, "device": "cpu"}
    params = []
    for venv in pair(4, seed=3, reward_model="rule"):
        torch.manual_seed(0)
        model = PPO("MlpPolicy", venv, policy_kwargs={"net_arch": []}, **hyper)
        model.learn(256)
        params.append([p.detach().clone() for p in model.policy.parameters()])
    for a, b in zip(*params, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_adapter_refuses_next_step_mode_and_per_worker_attributes() -> None:
    with pytest.raises(ValueError, match="same_step"):
        NativeVecEnv(
            SafetyRLHFVectorEnv(num_envs=2, reward_model="rule", autoreset_mode="next_step")
        )
    venv = NativeVecEnv(
        SafetyRLHFVectorEnv(num_envs=2, reward_model="rule", autoreset_mode="same_step")
    )
    assert venv.get_attr("n_prompts") == [venv.env.n_prompts] * 2
    with pytest.raises(AttributeError, match="share one env"):
        venv.set_attr("kl_coef", 0.5)


def test_vec_lagrangian_wrapper_pays_what_the_per_env_wrapper_pays() -> None:
    kwargs = {"reward_model": "gold", "cost_model": "gold", "render_mode": None}
    m1, m2 = LagrangeMultiplier(0.0, init=1.5), LagrangeMultiplier(0.0, init=1.5)
    native = VecLagrangianCostWrapper(make_native_vec_env(n_envs=2, seed=1, env_kwargs=kwargs), m1)
    dummy = make_vec_env(
        "SafetyRLHF-v0", n_envs=2, seed=1, env_kwargs=kwargs,
        wrapper_class=LagrangianCostWrapper, wrapper_kwargs={"multiplier": m2},
    )  # fmt: skip
    native.reset(), dummy.reset()
    costs = 0
    for t in range(20):
        (_, r1, _, i1), (_, r2, _, i2) = (
            native.step(np.zeros(2, dtype=np.int64)),
            dummy.step(np.zeros(2, dtype=np.int64)),
        )
        np.testing.assert_array_equal(r1, r2, err_msg=f"step {t}")
        for a, b in zip(i1, i2, strict=True):
            for key in ("reward_before_penalty", "lagrangian_penalty", "episode_cost"):
                assert a.get(key) == b.get(key), f"step {t}: {key}"
            costs += a["cost"] > 0
    assert costs > 0  # always comply: some harmful prompts were penalised


def test_train_with_native_vec_env_gives_the_dummy_vec_env_agent(tmp_path: Path) -> None:
    common = {"reward_model": "rule", "timesteps": 512, "n_envs": 2, "cost_limit": 0.0,
              "cost_model": "gold"}  # fmt: skip
    results = [
        train(
            TrainConfig(
                vec_env=kind,
                log_dir=str(tmp_path / kind),
                progress_bar=False,
                eval_freq=0,
                **common,  # type: ignore[arg-type]
            )
        )
        for kind in ("dummy", "native")
    ]
    assert results[0].metrics == results[1].metrics
    config = yaml.safe_load((results[1].run_dir / "config.yaml").read_text())
    assert config["run"]["vec_env"] == "native"


def test_train_vec_env_kinds(tmp_path: Path) -> None:
    # auto picks the native vector env; subproc workers (fresh processes) find the plain id
    for kind, expected in (("auto", "native"), ("subproc", "subproc")):
        result = train(
            TrainConfig(
                reward_model="rule",
                timesteps=128,
                n_envs=2,
                vec_env=kind,
                log_dir=str(tmp_path / kind),
                progress_bar=False,
                eval_freq=0,
            )
        )
        config = yaml.safe_load((result.run_dir / "config.yaml").read_text())
        assert config["run"]["vec_env"] == expected
    with pytest.raises(ValueError, match="vec_env must be one of"):
        train(TrainConfig(vec_env="threads", log_dir=str(tmp_path / "bad")))
    assert not (tmp_path / "bad").exists()
