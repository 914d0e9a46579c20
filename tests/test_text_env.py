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

# Gymnasium's TimeLimit, whatever rl_zoo3's import patched (see conftest.py)
pytestmark = pytest.mark.usefixtures("gymnasium_time_limit")

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
    assert (terminated, truncated) == (True, True)  # scored and finished: nothing follows
    assert info["decision"] == "degenerate" and reward == float(np.float32(info["gold_reward"]))
    assert info["length"] == 5
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step(word)


@pytest.mark.parametrize("kind", ["dummy", "native"])
def test_sb3_does_not_bootstrap_a_value_after_the_budget(kind: str) -> None:
    """SB3 adds ``gamma * V(final obs)`` to the reward of an episode that is truncated and
    not terminated; a response ended by the budget has been scored and has no future, so
    SB3 must not see ``TimeLimit.truncated`` (PPO learned to write to the budget to collect
    that never-trained value, with any reward model and any KL coefficient)."""
    from stable_baselines3.common.env_util import make_vec_env

    from safety_rlhf.agents.native_vec_env import make_native_vec_env

    kwargs = {**GOLD, "max_tokens": 3}
    if kind == "dummy":
        venv = make_vec_env(ID, n_envs=1, seed=0, env_kwargs={**kwargs, "max_episode_steps": 3})
    else:
        venv = make_native_vec_env(
            ID, n_envs=1, seed=0, env_kwargs={**kwargs, "max_episode_steps": 3}
        )
    venv.reset()
    word = tokenize("really")[0]
    for _ in range(3):
        _, _, dones, infos = venv.step(np.array([word]))
    assert dones[0] and infos[0]["length"] == 3
    assert not infos[0].get("TimeLimit.truncated", False)


def test_vector_env_refuses_a_time_limit_below_the_budget_and_takes_max_tokens_alone() -> None:
    with pytest.raises(ValueError, match="max_episode_steps=10 is below max_tokens=48"):
        gym.make_vec(ID, 2, vectorization_mode="vector_entry_point", max_episode_steps=10, **GOLD)
    # the registered 48 is passed with a smaller budget: the budget ends responses at 3
    envs = gym.make_vec(ID, 2, vectorization_mode="vector_entry_point", max_tokens=3, **GOLD)
    envs.reset(seed=0)
    word = tokenize("really")[0]
    flags = [envs.step(np.full(2, word))[3].tolist() for _ in range(3)]
    assert flags == [[False, False], [False, False], [True, True]]


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


def test_vector_env_scores_the_responses_that_ended_in_a_step_in_one_call() -> None:
    calls: list[int] = []

    def reward(prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        calls.append(len(prompts))
        return np.array([len(r) for r in responses], dtype=np.float32)

    envs = gym.make_vec(
        ID, 8, vectorization_mode="vector_entry_point", reward_model=reward,
        encoder="hashing", obs_dim=64,
    )  # fmt: skip
    envs.reset(seed=0)
    word = tokenize("really")[0]
    envs.step(np.full(8, word))
    assert calls == []  # nothing ended
    actions = np.array([EOS, EOS, EOS, word, word, EOS, word, word])
    _, rewards, terminated, _, info = envs.step(actions)
    assert calls == [4] and terminated.sum() == 4
    # the text-length "reward" lands on the rows that ended, 0 elsewhere
    assert (rewards[terminated] == [len(r) for r in info["response"][terminated]]).all()
    assert (rewards[~terminated] == 0).all()
