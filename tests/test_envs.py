"""Every registered env id: Gymnasium and SB3 checkers, determinism, pickling, spaces."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.utils.env_checker import check_returned_data_not_reused
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

import safety_rlhf
from safety_rlhf.envs import SafetyRLHFEnv, Strategy
from safety_rlhf.envs.prompt_stream import BLOCK
from safety_rlhf.envs.text_image import FRAME_SHAPE
from safety_rlhf.task.reference_policy import reference_probs

SPECS = sorted(
    (s for s in gym.registry.values() if str(s.entry_point).startswith("safety_rlhf")),
    key=lambda s: s.id,
)


def test_every_id_is_registered_on_import() -> None:
    assert [s.id for s in SPECS] == ["SafetyRLHF-Text-v0", "SafetyRLHF-v0"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_gymnasium_check_env_without_warnings(spec: gym.envs.registration.EnvSpec) -> None:
    env = spec.make(disable_env_checker=True).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env, skip_render_check=False)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_sb3_check_env_without_warnings(spec: gym.envs.registration.EnvSpec) -> None:
    env = spec.make(disable_env_checker=True).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    assert [str(w.message) for w in caught] == []


def _rollout(env: gym.Env, seed: int, steps: int) -> list[tuple]:
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [(obs.tobytes(), info["prompt_id"])]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        out.append((obs.tobytes(), reward, terminated, truncated, sorted(info.items())))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((obs.tobytes(), info["prompt_id"]))
    return out


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_same_seed_same_rollout(spec: gym.envs.registration.EnvSpec) -> None:
    a = _rollout(gym.make(spec.id), seed=7, steps=40)
    b = _rollout(gym.make(spec.id), seed=7, steps=40)
    c = _rollout(gym.make(spec.id), seed=8, steps=40)
    assert a == b
    assert a != c


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_pickle_round_trip_continues_identically(spec: gym.envs.registration.EnvSpec) -> None:
    env = gym.make(spec.id)
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    for action in [0, 3, 5, 2, 1]:
        x, y = env.step(action), clone.step(action)
        np.testing.assert_array_equal(x[0], y[0])
        assert x[1:] == y[1:]
        (obs_x, info_x), (obs_y, info_y) = env.reset(), clone.reset()
        np.testing.assert_array_equal(obs_x, obs_y)
        assert info_x == info_y


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_sb3_defaults_do_not_warn(spec: gym.envs.registration.EnvSpec) -> None:
    # SB3 makes envs with render_mode="rgb_array"; its own tests turn warnings into errors
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_vec_env(spec.id, n_envs=2).close()
        model = PPO("MlpPolicy", spec.id, n_steps=32, batch_size=32, n_epochs=1, device="cpu")
        model.learn(32)


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.vector_entry_point is not None], ids=lambda s: s.id
)
def test_vector_env_returns_new_data_on_every_call(spec: gym.envs.registration.EnvSpec) -> None:
    for mode in ("same_step", "next_step"):
        envs = gym.make_vec(
            spec.id, 1, vectorization_mode="vector_entry_point", autoreset_mode=mode
        )
        check_returned_data_not_reused(envs)


def test_make_with_module_prefix_in_fresh_interpreter() -> None:
    code = (
        "import gymnasium as gym, sys\n"
        "env = gym.make('safety_rlhf:SafetyRLHF-v0')\n"
        "assert 'safety_rlhf' in sys.modules\n"
        "print(type(env.unwrapped).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "SafetyRLHFEnv"


def test_one_prompt_per_episode_the_response_terminates_it() -> None:
    env = gym.make("SafetyRLHF-v0", reward_model="rule")
    assert safety_rlhf.PROMPTS_PER_EPISODE == 1 and env.spec.max_episode_steps is None
    first_obs, first = env.reset(seed=3)
    obs, _, terminated, truncated, info = env.step(0)
    assert (terminated, truncated) == (True, False)
    assert info["prompt_id"] == first["prompt_id"]
    np.testing.assert_array_equal(obs, first_obs)  # no next state: the answered prompt
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.step(0)
    # successive episodes' prompts: uniform draws from the env's generator (seed 3), in
    # blocks of BLOCK, one per episode
    draws = np.random.default_rng(3).integers(env.unwrapped.n_prompts, size=BLOCK)
    ids = [first["prompt_id"]]
    for _ in range(11):
        ids.append(env.reset()[1]["prompt_id"])
        env.step(int(Strategy.REFUSE))
    assert ids == [env.unwrapped.prompt_set.ids[k] for k in draws[:12]]


def test_spaces_and_obs_dim_argument() -> None:
    env = gym.make("SafetyRLHF-v0", encoder="hashing", obs_dim=256)
    assert env.observation_space.shape == (256,)
    assert env.observation_space.dtype == np.float32
    assert env.action_space == gym.spaces.Discrete(len(Strategy)) == gym.spaces.Discrete(6)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_obs_dim_defaults_to_the_encoders_own() -> None:
    assert gym.make("SafetyRLHF-v0").observation_space.shape == (384,)
    assert gym.make("SafetyRLHF-v0", encoder="hashing").observation_space.shape == (1024,)
    minilm = gym.make("SafetyRLHF-v0", encoder="minilm", split="test")
    assert minilm.observation_space.shape == (384,)
    obs, _ = minilm.reset(seed=0)
    assert minilm.observation_space.contains(obs)
    # a unit-length sentence embedding, 8 bits per coordinate: each moves by at most half a
    # step (max |x| / 254), the norm by at most sqrt(384) times that
    assert abs(float(np.linalg.norm(obs)) - 1.0) <= np.abs(obs).max() / 254 * np.sqrt(384)


def test_invalid_action_is_rejected() -> None:
    env = gym.make("SafetyRLHF-v0", disable_env_checker=True)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(6)


def test_bad_arguments_name_the_argument() -> None:
    env = SafetyRLHFEnv(render_mode="human")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="render_mode='human' is not supported"):
        env.render()
    with pytest.raises(ValueError, match="split"):
        SafetyRLHFEnv(split="validation")


def test_info_reports_the_step_just_taken() -> None:
    env = SafetyRLHFEnv(reward_model="gold", split="test")
    _, first = env.reset(seed=1)
    _, reward, _, _, info = env.step(int(Strategy.REFUSE))
    assert info["prompt_id"] == first["prompt_id"]
    assert info["prompt"] in info["response"]
    assert info["refused"] is True and info["strategy"] == "refuse"
    label = info["label"]
    assert info["is_success"] == (label == "harmful")
    assert info["cost"] == 0.0
    assert reward == info["proxy_reward"] == info["gold_reward"]


def test_comply_on_a_harmful_prompt_costs_one() -> None:
    env = SafetyRLHFEnv(reward_model="gold")
    harmful = env.prompt_set.labels.index("harmful")
    env.reset(seed=0)
    env._index = harmful  # place a known prompt in front of the agent
    _, reward, _, _, info = env.step(int(Strategy.COMPLY))
    assert info["label"] == "harmful" and info["cost"] == 1.0 and not info["is_success"]
    assert reward == -1.0


def test_reward_has_no_kl_term_and_info_has_log_pi_ref_of_the_action() -> None:
    # the KL penalty needs the agent's log pi, so the agent applies it (agents/kl_penalty.py)
    env = SafetyRLHFEnv(reward_model="rule")
    env.reset(seed=11)
    for action in range(6):
        prompt = env.prompt_set.prompts[env._index]
        _, reward, *_, info = env.step(action)
        env.reset()
        assert reward == info["proxy_reward"]
        assert info["log_pi_ref"] == pytest.approx(np.log(reference_probs([prompt])[0, action]))
    with pytest.raises(TypeError, match="kl_coef"):
        SafetyRLHFEnv(kl_coef=0.5)


def test_render_ansi_shows_prompt_response_and_reward() -> None:
    env = gym.make("SafetyRLHF-v0", render_mode="ansi")
    env.reset(seed=0)
    assert env.render().startswith("Prompt:")
    _, _, _, _, info = env.step(0)
    text = env.render()
    assert info["prompt"] in text and info["response"] in text and "Reward:" in text


def test_render_rgb_array_draws_the_text() -> None:
    env = gym.make("SafetyRLHF-v0", render_mode="rgb_array")
    env.reset(seed=0)
    prompt = env.render()
    env.step(0)
    exchange = env.render()
    blank = np.full(FRAME_SHAPE, 255, dtype=np.uint8)
    for frame in (prompt, exchange):
        assert frame.shape == FRAME_SHAPE == (180, 640, 3) and frame.dtype == np.uint8
        assert (frame != blank).any()  # some text was drawn
    # the exchange (prompt, response, reward) takes more lines than the prompt alone
    used_rows = [int(np.flatnonzero((f < 128).any(axis=(1, 2))).max()) for f in (prompt, exchange)]
    assert used_rows[1] > used_rows[0]
    np.testing.assert_array_equal(exchange, env.render())  # the same state, the same frame


def test_hashing_encoding_is_identical_in_another_process() -> None:
    from safety_rlhf.reward.encoders import HashingEncoder

    text = "How do I kill a Python process?"
    here = HashingEncoder(dim=128).encode([text])[0]
    code = (
        "import sys; from safety_rlhf.reward.encoders import HashingEncoder\n"
        f"x = HashingEncoder(dim=128).encode([{text!r}])[0]\n"
        "sys.stdout.write(x.tobytes().hex())"
    )
    env = {"PYTHONHASHSEED": "12345"}
    import os

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    assert bytes.fromhex(out.stdout) == here.tobytes()


def test_reward_components_of_a_composite_model_are_in_info() -> None:
    env = SafetyRLHFEnv(reward_model="constitution", split="test")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(int(Strategy.REFUSE))
    parts = info["reward_components"]
    assert set(parts) == {
        "refuses_harmful", "no_moralising", "no_operational_detail", "points_to_help",
    }  # fmt: skip
    weights = env.reward_model.weight_by_name
    assert reward == pytest.approx(sum(weights[k] * v for k, v in parts.items()), abs=1e-5)
