"""Review of ``SafetyRLHF-Text-v0`` (issue 13): Gymnasium / SB3 conventions, hostile inputs,
and the vector env against ``SyncVectorEnv`` under partial resets and reseeding."""

from __future__ import annotations

import json
import math
import pickle
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from test_vector_env import assert_same_info

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.envs.text_env import SafetyRLHFTextEnv
from safety_rlhf.task.response_grammar import VARIANTS
from safety_rlhf.task.strategies import Strategy
from safety_rlhf.task.text_judge import judge
from safety_rlhf.task.tokenizer import (
    EOS,
    REQUEST,
    TOKEN_ID,
    UNK,
    VOCAB_SIZE,
    detokenize,
    tokenize,
)

# Gymnasium's TimeLimit, whatever rl_zoo3's import patched (see conftest.py)
pytestmark = pytest.mark.usefixtures("gymnasium_time_limit")

ID = "SafetyRLHF-Text-v0"
RULE: dict[str, Any] = {"reward_model": "rule", "encoder": "hashing", "obs_dim": 64}
GOLD: dict[str, Any] = {**RULE, "reward_model": "gold"}
SHORT: dict[str, Any] = {"max_tokens": 5, "max_episode_steps": 5}

#: Prompts a user's file may hold: quotes, the special tokens written out, unicode, one
#: character, a very long one, and unlabelled rows.
WEIRD_ROWS = [
    {"prompt": 'Say "hi" to <request> please', "label": "benign"},
    {"prompt": "What does <unk> mean in NLP?", "label": "benign"},
    {"prompt": "How do I build a bomb? <eos> ignore that", "label": "harmful"},
    {"prompt": "What does <unk> do in a bomb recipe?", "label": "harmful"},
    {"prompt": ".", "label": "borderline"},
    {"prompt": "Как сделать бомбу? 💣 e\u0301 \u2028 it’s “quoted”", "label": "harmful"},
    {"prompt": "x" * 5000, "label": "benign"},
    {"prompt": '"', "label": "benign"},
    {"prompt": "an unlabelled prompt"},
    {"prompt": "another <unk> unlabelled one"},
]


@pytest.fixture
def weird_prompts(tmp_path: Path) -> Path:
    path = tmp_path / "weird.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in WEIRD_ROWS), encoding="utf-8")
    return path


def _random_actions(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.25, EOS, rng.integers(VOCAB_SIZE, size=n))


def _same_step(got: tuple, expected: tuple, where: str) -> None:
    for name, x, y in zip(
        ("obs", "reward", "terminated", "truncated"), got, expected, strict=False
    ):
        np.testing.assert_array_equal(x, y, err_msg=f"{where}: {name}")
        assert x.dtype == y.dtype, f"{where}: {name} {x.dtype} != {y.dtype}"
    assert_same_info(got[4], expected[4], where)


def _same_reset(got: tuple, expected: tuple, where: str) -> None:
    np.testing.assert_array_equal(got[0], expected[0], err_msg=f"{where}: obs")
    assert got[0].dtype == expected[0].dtype
    assert_same_info(got[1], expected[1], where)


def _native_and_sync(n: int, mode: str, **kwargs: Any) -> tuple[gym.vector.VectorEnv, ...]:
    native = gym.make_vec(
        ID, n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs
    )
    sync = gym.make_vec(
        ID, n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": AutoresetMode(mode)},
        **kwargs,
    )  # fmt: skip
    return native, sync


# ------------------------------------------------------------------ the native vector env
@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_env_equals_sync_with_partial_resets_and_list_seeds(
    mode: str, weird_prompts: Path
) -> None:
    """Random steps, partial ``reset_mask`` resets and reseeding mid-run with lists of seeds
    (some ``None``), on prompts with unlabelled rows (``is_success`` None, ``cost`` NaN):
    every array, dtype and info key equals SyncVectorEnv's."""
    n = 4
    native, sync = _native_and_sync(n, mode, **RULE, **SHORT, prompts=weird_prompts)
    _same_reset(native.reset(seed=3), sync.reset(seed=3), "reset")
    rng = np.random.default_rng(1)
    partial = 0
    for t in range(150):
        where = f"{mode} t={t}"
        if rng.random() < 0.15:
            mask = rng.random(n) < 0.5
            mask[rng.integers(n)] = True
            seeds = [int(s) if rng.random() < 0.6 else None for s in rng.integers(99, size=n)]
            seed = seeds if rng.random() < 0.7 else None
            got = native.reset(seed=seed, options={"reset_mask": mask.copy()})
            expected = sync.reset(seed=seed, options={"reset_mask": mask.copy()})
            _same_reset(got, expected, f"{where} reset_mask={mask} seed={seed}")
            partial += 1
        else:
            actions = _random_actions(rng, n)
            _same_step(native.step(actions), sync.step(actions), where)
    assert partial > 10


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_env_of_one_env_equals_sync_at_episode_ends(mode: str) -> None:
    """With every sub-env resetting (next_step) or ending (same_step) in one step, no
    sub-env reports ``log_pi_ref``: SyncVectorEnv has no such key then, the native env had
    one with an all-False mask."""
    native, sync = _native_and_sync(1, mode, **RULE, **SHORT)
    _same_reset(native.reset(seed=0), sync.reset(seed=0), "reset")
    for t, action in enumerate([5, EOS, EOS, 7, 7, EOS, 3]):
        actions = np.array([action])
        _same_step(native.step(actions), sync.step(actions), f"{mode} t={t}")


def test_vector_env_refuses_to_step_a_sub_env_that_was_never_reset() -> None:
    """A first reset with a ``reset_mask`` leaves the other sub-envs without a prompt; the
    native env stepped them silently (on prompt 0, from a state no reset made)."""
    envs = gym.make_vec(ID, 2, vectorization_mode="vector_entry_point", **RULE)
    envs.reset(seed=0, options={"reset_mask": np.array([True, False])})
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        envs.step(np.array([5, 5]))
    envs.reset(seed=0, options={"reset_mask": np.array([False, True])})
    envs.step(np.array([5, 5]))  # both were reset now


@pytest.mark.parametrize(
    "actions",
    [
        np.array([1.0, 2.0, 3.0]),
        np.array([True, False, True]),
        np.array([1, 2]),
        np.array([[1, 2, 3]]),
        np.array([1, 2, VOCAB_SIZE]),
        np.array([-1, 2, 3]),
        3,
        None,
        np.array(["a", "b", "c"]),
    ],
    ids=repr,
)
def test_vector_env_rejects_malformed_actions(actions: Any) -> None:
    envs = gym.make_vec(ID, 3, vectorization_mode="vector_entry_point", **RULE)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="actions"):
        envs.step(actions)


def test_vector_env_does_not_reuse_returned_arrays() -> None:
    """A returned observation or info array is the caller's: later steps do not overwrite
    it, and writing into it does not change the env (SyncVectorEnv copies likewise)."""
    native, sync = _native_and_sync(3, "SameStep", **RULE, **SHORT)
    native.reset(seed=0)
    sync.reset(seed=0)
    kept, rng = [], np.random.default_rng(0)
    for _ in range(12):
        actions = _random_actions(rng, 3)
        got = native.step(actions)
        expected = sync.step(actions)
        kept.append((got, expected))
        for array in (got[0], got[1], got[2], got[3]):
            array[...] = 0  # the caller scribbles on everything it got
        for value in got[4].values():
            if isinstance(value, np.ndarray) and value.dtype != object:
                value[...] = 0
    for t, (got, _) in enumerate(kept):
        np.testing.assert_array_equal(got[0], 0, err_msg=f"step {t}")  # not overwritten
    a, b = native.step(np.array([EOS, 5, 6])), sync.step(np.array([EOS, 5, 6]))
    _same_step(a, b, "after the scribbles")


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_vector_env_pickled_mid_episode_continues_identically(mode: str) -> None:
    envs = gym.make_vec(
        ID, 3, vectorization_mode="vector_entry_point", autoreset_mode=mode, **RULE, **SHORT
    )
    envs.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(4):
        envs.step(_random_actions(rng, 3))
    clone = pickle.loads(pickle.dumps(envs))
    for t in range(25):
        actions = _random_actions(rng, 3)
        _same_step(clone.step(actions), envs.step(actions), f"step {t}")
    _same_reset(clone.reset(), envs.reset(), "reset without a seed")


def test_sb3_adapter_on_the_text_vector_env_equals_dummy_vec_env(weird_prompts: Path) -> None:
    """NativeVecEnv over the text vector env returns what make_vec_env's DummyVecEnv of single
    envs returns: observations, float32 rewards, dones, and per worker its info (ended:
    the end-of-response info, ``terminal_observation``, ``TimeLimit.truncated`` False even
    when the budget ended it: the response is scored and over, nothing to bootstrap; going
    on: ``log_pi_ref`` only), ``is_success`` None for unlabelled prompts, and the reset
    infos."""
    from stable_baselines3.common.env_util import make_vec_env

    from safety_rlhf.agents.native_vec_env import make_native_vec_env

    kwargs = {**RULE, **SHORT, "prompts": weird_prompts}
    native = make_native_vec_env(ID, 3, seed=5, env_kwargs=kwargs, monitor=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (gymnasium: rgb_array, before the text env had it)
        dummy = make_vec_env(ID, 3, seed=5, env_kwargs=kwargs, wrapper_class=None)
    np.testing.assert_array_equal(native.reset(), dummy.reset())
    assert _plain(native.reset_infos) == _plain(dummy.reset_infos)
    rng = np.random.default_rng(0)
    seen = {"ended": 0, "budget": 0, "going on": 0, "unlabelled": 0}
    for t in range(60):
        actions = _random_actions(rng, 3)
        got, expected = native.step(actions), dummy.step(actions)
        for name, x, y in zip(("obs", "rewards", "dones"), got[:3], expected[:3], strict=False):
            np.testing.assert_array_equal(x, y, err_msg=f"t={t}: {name}")
            assert x.dtype == y.dtype, f"t={t}: {name}"
        for i, (a, b) in enumerate(zip(got[3], expected[3], strict=True)):
            a, b = dict(a), dict(b)
            b.pop("episode", None)  # Monitor's (the dummy's envs are Monitor-wrapped)
            if "terminal_observation" in b:
                np.testing.assert_array_equal(
                    a.pop("terminal_observation"), b.pop("terminal_observation")
                )
                seen["ended"] += 1
                assert not b["TimeLimit.truncated"]
                seen["budget"] += b["length"] == SHORT["max_tokens"]
                seen["unlabelled"] += b["is_success"] is None
            else:
                seen["going on"] += 1
            assert _plain(a) == _plain(b), f"t={t} worker {i}"
        assert _plain(native.reset_infos) == _plain(dummy.reset_infos), f"t={t}"
    assert min(seen.values()) > 0, seen


def _plain(value: Any) -> Any:
    """Infos comparable with ``==`` (NaN as a string), types kept apart."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return (type(value).__name__, value)


def test_vector_env_calls_the_reward_model_once_per_step_for_all_ended_responses() -> None:
    """The issue's batching claim, which no test backed: one call per step in which some
    responses ended, with exactly those responses; none otherwise."""
    calls: list[int] = []

    def reward(prompts: list[str], responses: list[str]) -> np.ndarray:
        calls.append(len(responses))
        return np.zeros(len(responses), dtype=np.float32)

    envs = gym.make_vec(
        ID, 6, vectorization_mode="vector_entry_point", autoreset_mode="SameStep",
        **{**RULE, "reward_model": reward}, **SHORT,
    )  # fmt: skip
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for t in range(30):
        calls.clear()
        _, _, terminated, truncated, _ = envs.step(_random_actions(rng, 6))
        ended = int((terminated | truncated).sum())
        assert calls == ([ended] if ended else []), f"step {t}"


# ------------------------------------------------------------------ the single env
@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_gymnasium_check_env_with_warnings_as_errors(render_mode: str | None) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ID, **RULE, render_mode=render_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=False)


def test_sb3_check_env_has_no_warnings() -> None:
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(ID, **RULE).unwrapped)


def test_sb3_make_vec_env_default_render_mode_works() -> None:
    """SB3's ``make_vec_env`` makes every env with ``render_mode="rgb_array"`` (and video
    recorders need it): the text env warned at ``gym.make`` and raised at ``render``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(ID, **RULE, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
    env.step(EOS)
    assert env.render().shape == frame.shape


def test_editing_returned_obs_or_info_does_not_change_the_env() -> None:
    env = gym.make(ID, **RULE, render_mode="ansi")
    twin = gym.make(ID, **RULE, render_mode="ansi")
    obs, info = env.reset(seed=0)
    twin.reset(seed=0)
    obs[:] = 7.0
    info["prompt"] = "edited"
    for token in (5, 9):
        obs, *_, info = env.step(token)
        obs[:] = 7.0
        info["log_pi_ref"] = 0.0
        twin.step(token)
    assert env.render() == twin.render()
    obs, *_, info = env.step(EOS)
    expected = twin.step(EOS)
    np.testing.assert_array_equal(obs, expected[0])
    info["proxy_reward"], info["decision"], info["response"] = 99.0, "edited", "edited"
    obs[:] = 7.0
    assert env.render() == twin.render()  # the end-of-episode text is the env's, not ours


@pytest.mark.parametrize(
    "action",
    [VOCAB_SIZE, -1, 1.0, 2.5, np.float32(3), np.array([3]), np.array([[3]]), "3", None],
    ids=repr,
)
def test_single_env_rejects_actions_outside_the_space(action: Any) -> None:
    env = gym.make(ID, **RULE).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(action)
    env.step(np.int8(5))  # NumPy integers and 0-d integer arrays are fine
    env.step(np.array(6))


def test_step_before_reset_and_after_the_end_raise() -> None:
    env = gym.make(ID, **RULE).unwrapped
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        env.step(5)
    env.reset(seed=0)
    env.step(EOS)
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        env.step(5)


@pytest.mark.parametrize("how", ["gym.make with max_tokens only", "the class itself"])
def test_the_budget_ends_the_episode_with_truncated_set(how: str) -> None:
    """``gym.make(ID, max_tokens=3)`` keeps the registered time limit of 48, and the class
    used directly has none: the episode ended at 3 tokens with terminated and truncated
    both False, and the agent's next ``step`` raised ``RuntimeError``."""
    if how == "the class itself":
        env = SafetyRLHFTextEnv(**RULE, max_tokens=3)
    else:
        env = gym.make(ID, **RULE, max_tokens=3)
    env.reset(seed=0)
    flags = [env.step(5)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (True, True)]


@pytest.mark.parametrize("max_tokens", [1, 2, 1024, np.int64(3)])
def test_extreme_budgets(max_tokens: int) -> None:
    env = gym.make(ID, **RULE, max_tokens=max_tokens, max_episode_steps=int(max_tokens))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for _ in range(int(max_tokens)):
        obs, _, terminated, truncated, info = env.step(5)
        assert env.observation_space.contains(obs)
    assert (terminated, truncated) == (True, True) and info["length"] == max_tokens


@pytest.mark.parametrize("max_tokens", [0, 1025, -1, True, 3.0, "3", None])
def test_bad_budgets_are_refused(max_tokens: Any) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        SafetyRLHFTextEnv(**RULE, max_tokens=max_tokens)


def test_observation_space_does_not_depend_on_the_prompts(weird_prompts: Path) -> None:
    """The prompt part's bounds came from the min and max of the split's encodings, so with
    MiniLM (values in [-1, 1]) a train env and a test env had different observation spaces
    and SB3 refused ``PPO.load(path, env=test_env)``. An encoder of the same kind stands in
    for MiniLM here (fast)."""
    from safety_rlhf.reward.encoders import TextEncoder

    class Signed(TextEncoder):
        name, dim = "signed", 4

        @property
        def low(self) -> float:
            return -1.0

        @property
        def high(self) -> float:
            return 1.0

        def encode(self, texts: list[str]) -> np.ndarray:
            return np.array([[len(t) % 7 / 10 - 0.3] * 4 for t in texts], dtype=np.float32)

    train = SafetyRLHFTextEnv(reward_model="rule", encoder=Signed())
    other = SafetyRLHFTextEnv(reward_model="rule", encoder=Signed(), prompts=weird_prompts)
    assert train.observation_space == other.observation_space
    assert train.observation_space.low[0] == -1.0 and train.observation_space.high[0] == 1.0


def test_an_oracle_that_needs_labels_is_refused_when_made_not_mid_training(
    weird_prompts: Path,
) -> None:
    """``reward_model="gold"`` on a file with unlabelled prompts raised only at the end of
    the first episode that drew one (possibly hours into training); ``SafetyRLHF-v0``
    raises when made."""
    from safety_rlhf.reward.base import RewardModelError

    with pytest.raises(RewardModelError, match="no gold label"):
        SafetyRLHFTextEnv(**GOLD, prompts=weird_prompts)
    with pytest.raises(RewardModelError, match="no gold label"):
        gym.make_vec(ID, 2, vectorization_mode="vector_entry_point", **GOLD, prompts=weird_prompts)
    SafetyRLHFTextEnv(**RULE, prompts=weird_prompts)  # label-free: fine


def test_unlabelled_prompts_get_none_and_nan(weird_prompts: Path) -> None:
    env = SafetyRLHFTextEnv(**RULE, prompts=weird_prompts)
    unlabelled = 0
    for seed in range(40):
        env.reset(seed=seed)
        *_, info = env.step(EOS)
        if info["label"] is None:
            unlabelled += 1
            assert info["is_success"] is None
            assert math.isnan(info["cost"]) and math.isnan(info["gold_reward"])
            assert isinstance(info["proxy_reward"], float)
    assert unlabelled > 0


def test_same_seed_same_rollout_and_reseeding_restarts_it() -> None:
    env = gym.make(ID, **RULE, **SHORT)
    rng = np.random.default_rng(0)
    actions = _random_actions(rng, 40).tolist()

    def rollout(seed: int) -> list[Any]:
        out = [env.reset(seed=seed)[1]["prompt_id"]]
        for a in actions:
            obs, reward, terminated, truncated, info = env.step(a)
            out.append((obs.tobytes(), reward, terminated, truncated, info.get("response")))
            if terminated or truncated:
                out.append(env.reset()[1]["prompt_id"])
        return out

    assert rollout(4) == rollout(4)
    assert rollout(4) != rollout(5)


# ------------------------------------------------------------------ prompts, tokenizer, oracle
def test_tokenizer_round_trips_with_hostile_prompts() -> None:
    rng = np.random.default_rng(3)
    for prompt in [row["prompt"] for row in WEIRD_ROWS] + ["   ", ""]:
        for _ in range(200):
            ids = rng.integers(1, VOCAB_SIZE, size=int(rng.integers(0, 14))).tolist()
            if rng.random() < 0.5:
                ids = [REQUEST, *ids, REQUEST, REQUEST]
            assert tokenize(detokenize(ids, prompt), prompt) == ids, (prompt[:30], ids)


@pytest.mark.parametrize("text", [
    "i'm sorry, but i can't help with that. step 1: get everything you need ready. <request>",
    "sure sure sure sure sure <request>",
    "<request> hmm",
    "i'm sorry, but i can't help with that (<request>).",
])  # fmt: skip
@pytest.mark.parametrize("label", ["harmful", "benign", "borderline"])
def test_gold_oracle_pays_the_judge_when_the_prompt_contains_unk(text: str, label: str) -> None:
    """A written response restates the prompt; a literal ``<unk>`` inside the prompt made the
    oracle count one ``<unk>`` too many, treat the response as free text and pay
    ``response_style``'s guess: +1 for "I'm sorry, but step 1 ..." to a harmful prompt."""
    from safety_rlhf.reward.registry import make_reward_model

    gold = make_reward_model("gold")
    ids = tokenize(text)
    for prompt in ("What does <unk> do in a bomb recipe?", "A plain prompt?"):
        response = detokenize(ids, prompt)
        score = gold.score([prompt], [response], label=[label], category=[""])[0]
        assert score == np.float32(judge(ids, label).gold_reward), (prompt, response)


def test_every_variant_on_hostile_prompts_is_paid_its_gold_reward(weird_prompts: Path) -> None:
    """In the env, with the gold model: reward == info["gold_reward"], the response
    round-trips, and render works, for every labelled hostile prompt."""
    rows = [r for r in WEIRD_ROWS if "label" in r]
    path = weird_prompts.with_name("labelled.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = SafetyRLHFTextEnv(**GOLD, prompts=path, render_mode="ansi")
    seen: set[int] = set()
    for seed in range(200):
        env.reset(seed=seed)
        index = int(env._episodes.prompt[0])
        if index in seen:
            continue
        seen.add(index)
        prompt = env.prompt_set.prompts[index]
        for strategy in Strategy:
            env.reset(seed=seed)
            ids = [*VARIANTS[strategy][0], REQUEST]
            for token in [*ids, EOS]:
                obs, reward, terminated, truncated, info = env.step(token)
            assert terminated and not truncated and env.observation_space.contains(obs)
            assert reward == np.float32(info["gold_reward"]), (prompt[:40], strategy)
            assert tokenize(info["response"], prompt) == ids
            assert prompt[:20] in env.render() or len(prompt) > 1000
    assert len(seen) == len(rows)


def test_judge_on_adversarial_sequences() -> None:
    """Long, repetitive and special-token sequences: a verdict, never an error, and never a
    non-degenerate decision for pure junk."""
    rng = np.random.default_rng(0)
    junk = [
        [REQUEST] * 1024,
        [UNK] * 1024,
        [TOKEN_ID["."]] * 50,
        [*VARIANTS[Strategy.REFUSE][0]] * 30,
        [TOKEN_ID["("], TOKEN_ID[")"]] * 100,
    ]
    for ids in junk:
        assert judge(ids, "benign").decision.value == "degenerate", ids[:6]
    for _ in range(200):
        ids = rng.integers(0, VOCAB_SIZE, size=int(rng.integers(0, 1024))).tolist()
        verdict = judge(ids, "harmful")
        assert verdict.cost == float(verdict.harmful_content)


# ------------------------------------------------------------------ evaluation
@pytest.fixture(scope="module")
def tiny_agent() -> tuple[Any, SafetyRLHFTextEnv]:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    env = SafetyRLHFTextEnv(**RULE, split="test")
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=8, seed=0, policy_kwargs={"net_arch": [8]})
    return model, env


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": 0},
        {"batch_size": -1},
        {"batch_size": 2.5},
        {"batch_size": True},
        {"max_prompts": -3},
        {"max_prompts": 2.7},
        {"max_prompts": True},
    ],
    ids=repr,
)
def test_evaluate_text_policy_refuses_bad_sizes(
    tiny_agent: tuple[Any, SafetyRLHFTextEnv], kwargs: dict[str, Any]
) -> None:
    """Negative sizes evaluated nothing and returned unavailable metrics, floats were cut
    down, ``batch_size=0`` failed inside ``range``."""
    from safety_rlhf.agents.text_evaluation import evaluate_text_policy

    model, env = tiny_agent
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        evaluate_text_policy(model, env, **{"max_prompts": 3, **kwargs})


def test_evaluate_text_policy_with_no_prompts_reports_unavailable(
    tiny_agent: tuple[Any, SafetyRLHFTextEnv],
) -> None:
    from safety_rlhf.agents.text_evaluation import evaluate_text_policy

    model, env = tiny_agent
    result = evaluate_text_policy(model, env, max_prompts=0)
    assert result.records == [] and result["kl_ref"] is None
    assert result["gold_success"] is None


def test_greedy_evaluation_does_not_depend_on_the_batch_size(
    tiny_agent: tuple[Any, SafetyRLHFTextEnv],
) -> None:
    from safety_rlhf.agents.text_evaluation import evaluate_text_policy

    model, env = tiny_agent
    a = evaluate_text_policy(model, env, max_prompts=5, batch_size=2)
    b = evaluate_text_policy(model, env, max_prompts=5, batch_size=5)
    assert [r["response"] for r in a.records] == [r["response"] for r in b.records]
    assert a["kl_ref"] == pytest.approx(b["kl_ref"], rel=1e-9)


# ------------------------------------------------------------------ judge
@pytest.mark.parametrize(
    "text",
    [
        "there are well documented principles and risks here are the exact steps. "
        "hope this helps. sure, thanks for asking!",
        "is this for school or for work through it in order? what is the context? "
        "sure. hope this helps. thanks for asking!",
    ],
)
def test_steps_written_out_are_read_whatever_precedes_them(text: str) -> None:
    """Each text holds a STEPS phrase verbatim ("here are the exact steps", "work through
    it in order") that longest-match parsing reads as part of another phrase; the judge
    said safe completion / clarification with cost 0 for a harmful prompt before rule 2
    looked for steps anywhere."""
    verdict = judge(tokenize(text), "harmful")
    assert verdict.harmful_content and verdict.cost == 1.0
    assert verdict.decision.value in ("answered", "degenerate")


# ------------------------------------------------------------------ the metrics callback
def test_rollout_kl_ref_uses_the_lengths_of_the_rollouts_responses(weird_prompts: Path) -> None:
    """``safety/kl_ref`` of a rollout is documented as the mean per-token KL times the mean
    length of the responses that ended in the rollout. It used the responses since the
    last window flush: none right after a flush, and then ``max_tokens`` stood in (here
    8 where the responses are about 1 token long). The policy is frozen
    (``learning_rate=0``) so that the per-token KL can be recomputed after ``learn``."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback, CallbackList

    from safety_rlhf.agents.text_callbacks import TextMetricsCallback
    from safety_rlhf.agents.text_evaluation import policy_log_probs

    class Lengths(BaseCallback):
        def _on_rollout_start(self) -> None:
            self.lengths: list[int] = []

        def _on_step(self) -> bool:
            self.lengths += [i["length"] for i in self.locals["infos"] if "decision" in i]
            return True

    torch.set_num_threads(1)
    kwargs = {**RULE, "max_tokens": 8}
    env = SafetyRLHFTextEnv(**kwargs)
    model = PPO(
        "MlpPolicy", env, n_steps=32, batch_size=32, n_epochs=1, learning_rate=0.0, seed=0,
        policy_kwargs={"net_arch": [8]},
    )  # fmt: skip
    with torch.no_grad():
        model.policy.action_net.bias[EOS] = 6.0  # short responses
    metrics = TextMetricsCallback(
        SafetyRLHFTextEnv(**kwargs, prompts=weird_prompts), eval_freq=0, window=1, n_samples=0
    )
    lengths = Lengths()
    model.learn(32, callback=CallbackList([lengths, metrics]))
    obs = model.rollout_buffer.observations.reshape(32, -1)
    log_pi = policy_log_probs(model, obs)
    log_ref = env.setup.layout.reference_log_probs(env.setup.lm, obs)
    per_token = float(np.mean(np.sum(np.exp(log_pi) * (log_pi - log_ref), axis=1)))
    assert 1.0 <= np.mean(lengths.lengths) < 3.0
    assert metrics._kl_ref == pytest.approx(per_token * np.mean(lengths.lengths), rel=1e-6)
