"""Checkpoints and --resume: a killed run continues; a torn checkpoint write loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_util import make_vec_env

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents import checkpoints
from safety_rlhf.agents.checkpoints import read_checkpoint, restore_buffer, save_checkpoint
from safety_rlhf.experiments.cli import main

TOTAL = 30_000


def _scalar_steps(run_dir: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (folder,) = {p.parent for p in run_dir.rglob("events.out.tfevents*")}
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return [e.step for e in acc.Scalars(tag)]


def test_a_run_killed_with_sigkill_resumes_to_the_end(tmp_path: Path) -> None:
    argv = ["train", "--reward-model", "rule", "--timesteps", str(TOTAL), "--n-envs", "2",
            "--checkpoint-freq", "1000", "--log-dir", str(tmp_path),
            "--no-progress-bar"]  # fmt: skip
    code = "import sys; from safety_rlhf.experiments.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        state = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(tmp_path.glob("*/checkpoint/state.json"))
            if found and json.loads(found[0].read_text())["num_timesteps"] >= 3000:
                state = found[0]
                break
            time.sleep(0.05)
        assert state is not None, "no checkpoint before the deadline"
        # a seeded random moment within the next checkpoint interval or so
        time.sleep(float(np.random.default_rng(0).uniform(0.0, 0.5)))
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = state.parent.parent
    assert not (run_dir / "model.zip").exists()  # it really died mid-run
    killed_at = read_checkpoint(run_dir)["num_timesteps"]
    assert 3000 <= killed_at < TOTAL

    assert main(["train", "--resume", str(run_dir), "--no-progress-bar"]) == 0
    model = PPO.load(run_dir / "model.zip", device="cpu")
    assert model.num_timesteps >= TOTAL
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["gold_success"] is not None
    # one TensorBoard folder, whose step axis runs on from before the kill to the end
    assert len({p.parent for p in run_dir.rglob("events.out.tfevents*")}) == 1
    steps = _scalar_steps(run_dir, "rollout/ep_rew_mean")
    assert min(steps) < killed_at and max(steps) >= TOTAL - 256


def test_a_torn_checkpoint_write_leaves_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_vec_env("SafetyRLHF-v0", n_envs=1, env_kwargs={"reward_model": "rule"})
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=32, device="cpu", seed=0)
    model.learn(32)
    folder = tmp_path / "checkpoint"
    save_checkpoint(model, folder)
    model.learn(32, reset_num_timesteps=False)

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed while writing state.json")

    monkeypatch.setattr(checkpoints, "atomic_write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, folder)
    state = read_checkpoint(tmp_path)  # the first checkpoint, whole
    assert state["num_timesteps"] == 32
    assert PPO.load(state["model"], device="cpu").num_timesteps == 32


def test_replay_buffer_round_trips_without_pickle(tmp_path: Path) -> None:
    env = make_vec_env("SafetyRLHF-v0", n_envs=1, env_kwargs={"reward_model": "rule"})
    model = DQN("MlpPolicy", env, learning_starts=10, buffer_size=500, device="cpu", seed=0)
    model.learn(100)
    save_checkpoint(model, tmp_path / "checkpoint")
    state = read_checkpoint(tmp_path)
    fresh = DQN("MlpPolicy", env, buffer_size=500, device="cpu", seed=1)
    restore_buffer(fresh, state["buffer"])
    assert fresh.replay_buffer.pos == model.replay_buffer.pos == 100
    np.testing.assert_array_equal(fresh.replay_buffer.actions, model.replay_buffer.actions)
    np.testing.assert_array_equal(fresh.replay_buffer.rewards, model.replay_buffer.rewards)


def test_resume_refuses_other_options_and_missing_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", "--resume", str(tmp_path), "--seed", "3"]) == 2
    assert "drop --seed" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
