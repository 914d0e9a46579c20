"""The native vector env returns exactly what N seeded single envs return."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.envs.prompt_stream import BLOCK
from safety_rlhf.envs.vector_env import SafetyRLHFVectorEnv

# constitution: a reward built from parts, so info["reward_components"] is compared too
KWARGS: dict[str, Any] = {"reward_model": "constitution", "max_episode_steps": 4}


# Importing rl_zoo3 (as test_agents does) patches Gymnasium's TimeLimit to add this key.
ADDED_BY_RL_ZOO3 = {"TimeLimit.truncated"}


def make_pair(
    n: int, mode: str, **kwargs: Any
) -> tuple[gym.vector.VectorEnv, gym.vector.VectorEnv]:
    kwargs = {**KWARGS, **kwargs}
    native = gym.make_vec(
        "SafetyRLHF-v0", n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs
    )
    vector_kwargs = {"autoreset_mode": AutoresetMode(mode)}
    sync = gym.make_vec(
        "SafetyRLHF-v0", n, vectorization_mode="sync", vector_kwargs=vector_kwargs, **kwargs
    )
    return native, sync


def assert_same_info(native: dict[str, Any], sync: dict[str, Any], where: str) -> None:
    """Every key Gymnasium's SyncVectorEnv reports, with the same mask and masked values."""
    for key, value in sync.items():
        if key.startswith("_") or key in ADDED_BY_RL_ZOO3:
            continue
        assert key in native, f"{where}: info lacks {key!r}"
        mask = sync[f"_{key}"]
        np.testing.assert_array_equal(native[f"_{key}"], mask, err_msg=f"{where}: _{key}")
        if isinstance(value, dict):
            assert_same_info(native[key], value, f"{where}.{key}")
        elif key == "final_obs":
            for got, expected in zip(native[key][mask], value[mask], strict=True):
                np.testing.assert_array_equal(got, expected, err_msg=f"{where}: final_obs")
        elif value.dtype.kind == "f":
            np.testing.assert_array_equal(native[key][mask], value[mask], err_msg=f"{where}: {key}")
        else:
            assert native[key][mask].tolist() == value[mask].tolist(), f"{where}: {key}"
    extra = {k for k in native if not k.startswith("_")} - set(sync)
    assert not extra, f"{where}: extra info keys {extra}"


def run_both(native, sync, n_steps: int, seed: int, rng: np.random.Generator) -> int:
    """Step both with the same random actions; return how many episodes ended."""
    for name, (a, b) in {"reset": (native.reset(seed=seed), sync.reset(seed=seed))}.items():
        np.testing.assert_array_equal(a[0], b[0])
        assert_same_info(a[1], b[1], name)
    ended = 0
    for t in range(n_steps):
        actions = rng.integers(6, size=native.num_envs)
        got, expected = native.step(actions), sync.step(actions)
        for name, x, y in zip(
            ("obs", "reward", "terminated", "truncated"), got, expected, strict=False
        ):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}: {name}")
        assert got[1].dtype == expected[1].dtype
        assert_same_info(got[4], expected[4], f"step {t}")
        ended += int(got[3].sum())
    return ended


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_native_equals_sync_vector_env_of_single_envs(mode: str) -> None:
    native, sync = make_pair(5, mode)
    assert isinstance(native.unwrapped, SafetyRLHFVectorEnv)
    ended = run_both(native, sync, 30, seed=7, rng=np.random.default_rng(0))
    assert ended >= 5 * 6  # several episode ends (and autoresets) were compared
    # reseeding mid-run, with a list of seeds, resets every generator
    native.reset(seed=[3, None, 11, 5, 0]), sync.reset(seed=[3, None, 11, 5, 0])
    for _ in range(3):
        actions = np.arange(5) % 6
        np.testing.assert_array_equal(native.step(actions)[0], sync.step(actions)[0])


def test_prompt_draws_match_across_block_refills() -> None:
    # each sub-env draws BLOCK prompt indices per generator call; cross several refills
    native, sync = make_pair(2, "NextStep", max_episode_steps=50, reward_model="rule")
    run_both(native, sync, 2 * BLOCK + 30, seed=123, rng=np.random.default_rng(1))


def test_partial_reset_with_reset_mask() -> None:
    native, sync = make_pair(4, "NextStep")
    native.reset(seed=0), sync.reset(seed=0)
    for _ in range(2):
        native.step(np.zeros(4, dtype=np.int64)), sync.step(np.zeros(4, dtype=np.int64))
    mask = np.array([True, False, True, False])
    (obs_a, info_a), (obs_b, info_b) = (
        native.reset(options={"reset_mask": mask}),
        sync.reset(options={"reset_mask": mask}),
    )
    np.testing.assert_array_equal(obs_a[mask], obs_b[mask])
    assert_same_info(info_a, info_b, "partial reset")
    got, expected = native.step(np.ones(4, dtype=np.int64)), sync.step(np.ones(4, dtype=np.int64))
    for x, y in zip(got[:4], expected[:4], strict=True):
        np.testing.assert_array_equal(x, y)


def test_info_is_a_dict_of_arrays() -> None:
    envs = SafetyRLHFVectorEnv(num_envs=3, reward_model="rule", max_episode_steps=16)
    envs.reset(seed=0)
    _, rewards, _, _, info = envs.step(np.array([0, 3, 5]))
    assert rewards.shape == (3,) and rewards.dtype == np.float64
    assert info["strategy"].tolist() == ["comply", "refuse", "ask_clarification"]
    assert info["refused"].tolist() == [False, True, False]
    assert info["_label"].tolist() == [True, True, True]
    np.testing.assert_array_equal(rewards, info["proxy_reward"])


def test_bad_use_is_refused_with_a_clear_error() -> None:
    envs = SafetyRLHFVectorEnv(num_envs=2, reward_model="rule")
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.zeros(2, dtype=np.int64))
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 6 of sub-environment 1"):
        envs.step(np.array([0, 6]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        envs.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": np.zeros(2, dtype=bool)})
    with pytest.raises(ValueError, match="num_envs"):
        SafetyRLHFVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="autoreset_mode='disabled'"):
        SafetyRLHFVectorEnv(num_envs=1, autoreset_mode="disabled")
