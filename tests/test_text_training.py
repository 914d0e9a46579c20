"""Training and evaluating SB3 agents on ``SafetyRLHF-Text-v0``: train, evaluate, the pi_ref
start, the KL penalty, MaskablePPO's masks and the TensorBoard metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.native_vec_env import make_native_vec_env
from safety_rlhf.agents.reference_init import imitate_reference
from safety_rlhf.agents.text_evaluation import evaluate_text_policy, policy_log_probs
from safety_rlhf.experiments.cli import main
from safety_rlhf.experiments.evaluate import evaluate_run
from safety_rlhf.experiments.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ID = "SafetyRLHF-Text-v0"
FAST: dict[str, Any] = {"reward_model": "rule", "encoder": "hashing", "obs_dim": 64}
SMALL = {"n_envs": 4, "n_steps": 32, "batch_size": 64, "n_epochs": 1, "imitate_reference": 40}


def _scalars(run_dir: Path) -> dict[str, list[float]]:
    (events,) = {p.parent for p in run_dir.rglob("events.out.tfevents*")}
    acc = EventAccumulator(str(events), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    out = {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    out.update({tag: [] for tag in acc.Tags()["tensors"]})  # text summaries
    return out


@pytest.mark.parametrize("algo", ["ppo", "maskableppo"])
def test_train_writes_text_metrics_and_kl_to_tensorboard(
    algo: str, tmp_path: Path, user_jsonl: Path, label_map: dict[str, str]
) -> None:
    result = train(
        TrainConfig(
            algo=algo,
            env=ID,
            timesteps=512,
            kl_coef=0.05,
            log_dir=str(tmp_path),
            progress_bar=False,
            eval_freq=0,
            env_kwargs={**FAST, "prompts": str(user_jsonl), "label_map": label_map},
            hyperparams=dict(SMALL),
        )
    )
    tags = _scalars(result.run_dir)
    for name in ("perplexity", "length", "distinct_2", "degenerate", "kl_ref", "kl_sampled"):
        assert f"safety/{name}" in tags, name
    assert "safety/test/gold_success" in tags and "safety/samples/text_summary" in tags
    assert all(v >= 0.0 for v in tags["safety/kl_ref"])
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["test"]["length"] >= 1 and metrics["test"]["kl_ref"] >= 0.0
    assert 0.0 <= metrics["test"]["degenerate"] <= 1.0


def test_imitating_pi_ref_brings_the_policy_close_to_it() -> None:
    env = gym.make(ID, **FAST).unwrapped
    model = PPO("MlpPolicy", env, policy_kwargs={"net_arch": [64]}, seed=0)
    before = evaluate_text_policy(model, env, deterministic=False, max_prompts=200)["kl_ref"]
    fitted = imitate_reference(model, env, 300, epochs=10, seed=0)
    after = evaluate_text_policy(model, env, deterministic=False, max_prompts=200)["kl_ref"]
    # a random 300-token policy is far from pi_ref (tens of nats per response)
    assert before > 20.0 and after < before / 3
    assert fitted["states"] > 300 and fitted["kl_ref"] < 1.0


def test_kl_ref_of_a_policy_that_is_pi_ref_is_zero() -> None:
    env = gym.make(ID, **FAST).unwrapped

    class Reference:  # a model whose policy is pi_ref itself, read from the observation
        policy: Any = None
        action_space = env.action_space

    model = Reference()
    layout, lm = env.setup.layout, env.setup.lm
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            "safety_rlhf.agents.text_evaluation.policy_log_probs",
            lambda _m, obs: layout.reference_log_probs(lm, obs),
        )
        result = evaluate_text_policy(model, env, deterministic=False, max_prompts=100)  # type: ignore[arg-type]
    assert result["kl_ref"] == pytest.approx(0.0, abs=1e-4)
    # its responses are pi_ref's: the perplexity of sampled text stays low
    assert result["perplexity"] < 10.0


def test_maskable_ppo_never_writes_a_masked_token() -> None:
    venv = make_native_vec_env(ID, n_envs=4, seed=0, env_kwargs=FAST)
    model = MaskablePPO("MlpPolicy", venv, n_steps=32, batch_size=64, seed=0)
    model.learn(128)
    obs = venv.reset()
    for _ in range(60):
        masks = np.stack(venv.env_method("action_masks"))
        actions, _ = model.predict(obs, action_masks=masks)
        assert masks[np.arange(4), actions].all()
        obs, *_ = venv.step(actions)


def test_greedy_policy_log_probs_match_sb3_distribution() -> None:
    env = gym.make(ID, **FAST).unwrapped
    model = PPO("MlpPolicy", env, seed=1)
    obs, _ = env.reset(seed=0)
    expected = model.policy.get_distribution(model.policy.obs_to_tensor(obs[None])[0])
    got = policy_log_probs(model, obs[None])
    np.testing.assert_allclose(
        got, expected.distribution.logits.detach().numpy().astype(np.float64), atol=1e-5
    )


def test_evaluate_cli_decodes_greedy_and_seeded_samples(
    tmp_path: Path, user_jsonl: Path, label_map: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    flags = ["--env", ID, "--reward-model", "rule", "--timesteps", "256", "--log-dir",
             str(tmp_path), "--no-progress-bar", "--env-kwargs", "encoder:hashing", "obs_dim:64",
             "--hyperparams", *(f"{k}:{v}" for k, v in SMALL.items())]  # fmt: skip
    assert main(["train", *flags]) == 0
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    kwargs = {"prompts": str(user_jsonl), "label_map": label_map, "verbose": False}
    greedy = [evaluate_run(run_dir, **kwargs)["metrics"] for _ in range(2)]
    assert greedy[0] == greedy[1]
    sampled = [evaluate_run(run_dir, decoding="sampled", seed=s, **kwargs) for s in (0, 0, 1)]
    assert sampled[0]["metrics"] == sampled[1]["metrics"]
    assert sampled[0]["samples"] and sampled[0]["decoding"] == "sampled"
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(run_dir), "--decoding", "sampled", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sampled responses, one per prompt" in printed and "sample responses:" in printed
    assert json.loads(out.read_text())["metrics"]["perplexity"] > 1.0
