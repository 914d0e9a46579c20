"""``SafetyRLHF-Text-v0``: episodes, rewards, the judge's info, pi_ref, masks, vector env."""

from __future__ import annotations

import pickle
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from test_vector_env import assert_same_info

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.envs.text_env import SafetyRLHFTextEnv
from safety_rlhf.envs.text_vector_env import SafetyRLHFTextVectorEnv
from safety_rlhf.task.gold_tables import GOLD_REWARD
from safety_rlhf.task.reference_lm import SUPPORT_THRESHOLD, ReferenceLM
from safety_rlhf.task.reference_policy import reference_probs
from safety_rlhf.task.response_grammar import VARIANTS
from safety_rlhf.task.strategies import Strategy
from safety_rlhf.task.tokenizer import EOS, VOCAB_SIZE, detokenize, tokenize

ID = "SafetyRLHF-Text-v0"
# the oracle reads the judge, so expected rewards are the gold table's (fast: no model)
GOLD: dict[str, Any] = {"reward_model": "gold", "encoder": "hashing", "obs_dim": 64}


def write(env: gym.Env, ids: list[int]) -> tuple[float, bool, bool, dict[str, Any]]:
    """Write ``ids`` one token per step; return the last step's reward, flags and info."""
    for token in ids:
        _, reward, terminated, truncated, info = env.step(token)
        if terminated or truncated:
            return reward, terminated, truncated, info
    raise AssertionError("the response did not end")


@pytest.mark.parametrize("strategy", list(Strategy))
def test_every_variant_is_judged_as_its_strategy_and_paid_its_gold_reward(
    strategy: Strategy,
) -> None:
    env = gym.make(ID, **GOLD)
    for variant in VARIANTS[strategy][:3]:
        _, info = env.reset(seed=len(variant))
        label = env.unwrapped.prompt_set.labels[int(env.unwrapped._episodes.prompt[0])]
        reward, terminated, truncated, info = write(env, [*variant, EOS])
        assert (terminated, truncated) == (True, False)
        assert info["strategy"] == strategy.slug
        assert info["label"] == label
        assert info["gold_reward"] == GOLD_REWARD[label][strategy]
        assert reward == float(np.float32(info["gold_reward"]))  # reward models give float32
        assert info["length"] == len(variant) + 1


def test_refusal_then_steps_on_a_harmful_prompt_is_harmful_content() -> None:
    env = gym.make(ID, **GOLD, prompts=None, split="test")
    harmful = [i for i, label in enumerate(env.unwrapped.prompt_set.labels) if label == "harmful"]
    seed = next(s for s in range(200) if _first_prompt(env, s) in harmful)
    env.reset(seed=seed)
    text = "i'm sorry, but i can't help with that. step 1: get everything you need ready."
    reward, terminated, _, info = write(env, [*tokenize(text), EOS])
    assert terminated and info["decision"] == "answered"
    assert info["harmful_content"] is True and info["cost"] == 1.0
    assert reward == -1.0 and info["is_success"] is False


def _first_prompt(env: gym.Env, seed: int) -> int:
    env.reset(seed=seed)
    return int(env.unwrapped._episodes.prompt[0])


def test_budget_truncates_through_the_time_limit_and_scores_the_text() -> None:
    env = gym.make(ID, **GOLD, max_tokens=5, max_episode_steps=5)
    env.reset(seed=0)
    word = tokenize("really")[0]
    flags = [env.step(word)[2:4] for _ in range(4)]
    assert flags == [(False, False)] * 4
    _, reward, terminated, truncated, info = env.step(word)
    assert (terminated, truncated) == (False, True)
    assert info["decision"] == "degenerate" and reward == float(np.float32(info["gold_reward"]))
    assert info["length"] == 5
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step(word)


def test_vector_env_refuses_a_time_limit_other_than_the_budget() -> None:
    with pytest.raises(ValueError, match="max_episode_steps=10 differs from max_tokens=48"):
        gym.make_vec(ID, 2, vectorization_mode="vector_entry_point", max_episode_steps=10, **GOLD)


def test_log_pi_ref_and_perplexity_match_the_reference_model() -> None:
    env = gym.make(ID, **GOLD)
    env.reset(seed=4)
    prompt = env.unwrapped.prompt_set.prompts[int(env.unwrapped._episodes.prompt[0])]
    ids = [*VARIANTS[Strategy.REFUSE][0], EOS]
    logs = []
    for token in ids:
        *_, info = env.step(token)
        logs.append(info["log_pi_ref"])
    log_w0 = np.log(reference_probs([prompt])[0])
    lm = ReferenceLM.default()
    np.testing.assert_allclose(logs, lm.token_log_probs(log_w0, ids), rtol=1e-12)
    assert info["perplexity"] == pytest.approx(lm.perplexity(log_w0, ids), rel=1e-12)
    assert info["response"] == detokenize(ids, prompt)


def test_observation_determines_pi_ref_exactly() -> None:
    env = SafetyRLHFTextEnv(**GOLD)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    layout, lm = env.setup.layout, env.setup.lm
    for _ in range(30):
        expected = env._episodes.next_log_ref[0]
        got = layout.reference_log_probs(lm, obs[None])[0]
        np.testing.assert_allclose(np.exp(got), np.exp(expected), atol=1e-6)
        token = int(rng.choice(VOCAB_SIZE, p=np.exp(expected)))
        obs, _, terminated, _, _ = env.step(token if token != EOS else 3)
        assert not terminated


def test_action_masks_forbid_only_tokens_at_the_floor() -> None:
    env = SafetyRLHFTextEnv(**GOLD)
    env.reset(seed=2)
    mask = env.action_masks()
    probs = np.exp(env._episodes.next_log_ref[0])
    assert mask.dtype == np.bool_ and mask.shape == (VOCAB_SIZE,)
    assert mask[EOS] and 3 < mask.sum() < VOCAB_SIZE
    words = np.arange(VOCAB_SIZE) != EOS  # EOS is always allowed, at the floor or not
    assert (probs[~mask] <= SUPPORT_THRESHOLD).all()
    assert (probs[mask & words] > SUPPORT_THRESHOLD).all()
    open_env = SafetyRLHFTextEnv(**GOLD, mask_below_floor=False)
    open_env.reset(seed=2)
    assert open_env.action_masks().all()


def test_pickled_env_continues_identically() -> None:
    env = gym.make(ID, **GOLD)
    env.reset(seed=3)
    env.step(5)
    clone = pickle.loads(pickle.dumps(env))
    for token in [*VARIANTS[Strategy.COMPLY][1], EOS]:
        a, b = env.step(token), clone.step(token)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4] and a[4] == b[4]


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_native_vector_env_equals_sync_vector_env_of_single_envs(mode: str) -> None:
    kwargs = {**GOLD, "max_tokens": 6, "max_episode_steps": 6}
    native = gym.make_vec(
        ID, 4, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs
    )
    sync = gym.make_vec(
        ID,
        4,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode(mode)},
        **kwargs,
    )
    assert isinstance(native.unwrapped, SafetyRLHFTextVectorEnv)
    a, b = native.reset(seed=11), sync.reset(seed=11)
    np.testing.assert_array_equal(a[0], b[0])
    assert_same_info(a[1], b[1], "reset")
    rng = np.random.default_rng(0)
    ended = 0
    for t in range(40):
        # EOS often, so that episodes end at every length, by eos and by the budget
        actions = np.where(rng.random(4) < 0.2, EOS, rng.integers(VOCAB_SIZE, size=4))
        got, expected = native.step(actions), sync.step(actions)
        for name, x, y in zip(
            ("obs", "reward", "terminated", "truncated"), got, expected, strict=False
        ):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}: {name}")
            assert x.dtype == y.dtype, f"step {t}: {name}"
        assert_same_info(got[4], expected[4], f"step {t}")
        ended += int((got[2] | got[3]).sum())
    assert ended > 10
