"""Checkpoints and --resume: a killed run continues and ends with the same step and update
counts as an uninterrupted one; a torn checkpoint write loses nothing; replay buffers round
trip exactly, and a bad buffer file is one clear error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.env_util import make_vec_env

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents import checkpoints
from safety_rlhf.agents.checkpoints import (
    STATE,
    load_replay_buffer,
    read_checkpoint,
    save_replay_buffer,
    save_run_checkpoint,
)
from safety_rlhf.agents.safe_load import load_model
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
    save_run_checkpoint(model, folder)
    model.learn(32, reset_num_timesteps=False)

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed while writing state.json")

    monkeypatch.setattr(checkpoints, "atomic_write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        save_run_checkpoint(model, folder)
    state = read_checkpoint(tmp_path)  # the first checkpoint, whole
    assert state["num_timesteps"] == 32
    assert PPO.load(state["model"], device="cpu").num_timesteps == 32


def test_resume_refuses_other_options_and_missing_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", "--resume", str(tmp_path), "--seed", "3"]) == 2
    assert "drop --seed" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


# -- a killed and resumed run ends where the uninterrupted one does -------------------------

# Tiny settings (written to a --config YAML): a PPO rollout is 2 envs x 32 steps = 64 steps
# with 2 epochs, i.e. 2 gradient updates per rollout; DQN does 1 gradient step per
# vectorised step (2 env steps) once past learning_starts, and its 600-transition buffer
# wraps around within the 1,600-step budget.
TINY_YAML = {
    "ppo": """SafetyRLHF-v0:
  n_envs: 2
  n_timesteps: 1600
  policy: MlpPolicy
  n_steps: 32
  batch_size: 64
  n_epochs: 2
  gamma: 0.0
  policy_kwargs: {net_arch: []}
""",
    "dqn": """SafetyRLHF-v0:
  n_envs: 2
  n_timesteps: 1600
  policy: MlpPolicy
  gamma: 0.0
  buffer_size: 600
  learning_starts: 100
  batch_size: 32
  train_freq: 1
  gradient_steps: 1
  policy_kwargs: {net_arch: []}
""",
}
# After the first checkpoint (300 steps asked, written at a rollout boundary), the run is
# killed at step 682: inside a PPO rollout (640 < 682 < 704), between two DQN training calls.
KILL_AT = 682
KILLER = """import glob, os, signal, sys
from stable_baselines3.common.callbacks import CallbackList
from safety_rlhf.experiments.cli import main

kill_at, log_dir = int(sys.argv[1]), sys.argv[2]
on_step = CallbackList._on_step

def killing_on_step(self):  # SIGKILL once a checkpoint exists and the run is past kill_at
    if self.num_timesteps >= kill_at and glob.glob(f"{log_dir}/*/checkpoint/state.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    return on_step(self)

CallbackList._on_step = killing_on_step
sys.exit(main(sys.argv[3:]))
"""


def _train_argv(algo: str, log_dir: Path, config: Path, *extra: str) -> list[str]:
    return ["train", "--algo", algo, "--config", str(config), "--reward-model", "rule",
            "--checkpoint-freq", "300", "--log-dir", str(log_dir), "--no-progress-bar",
            *extra]  # fmt: skip


def _counts(run_dir: Path, algo: str) -> tuple[int, int]:
    """(num_timesteps, gradient updates) of a run's saved model."""
    cls = PPO if algo == "ppo" else DQN
    model = load_model(cls, run_dir / "model.zip")
    return int(model.num_timesteps), int(model._n_updates)


@pytest.mark.parametrize(
    "algo, extra, expected",
    [
        # 1,600 steps = 25 rollouts of 64, 2 updates each
        ("ppo", (), (1600, 50)),
        # one update per vectorised step after step 100: (1600 - 100) / 2 = 750
        ("dqn", (), (1600, 750)),
        ("ppo", ("--cost-limit", "0.05"), (1600, 50)),
    ],
    ids=["ppo", "dqn", "ppo-lagrangian"],
)
def test_a_killed_run_resumes_to_the_same_step_and_update_counts(
    tmp_path: Path, algo: str, extra: tuple[str, ...], expected: tuple[int, int]
) -> None:
    config = tmp_path / f"{algo}.yml"
    config.write_text(TINY_YAML[algo], encoding="utf-8")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(_train_argv(algo, whole, config, *extra)) == 0
    (whole_run,) = whole.iterdir()
    assert _counts(whole_run, algo) == expected  # hand-computed above

    argv = _train_argv(algo, killed, config, *extra)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(KILL_AT), str(killed), *argv],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    (run_dir,) = killed.iterdir()
    assert not (run_dir / "model.zip").exists()  # it died mid-run
    assert 300 <= read_checkpoint(run_dir)["num_timesteps"] < KILL_AT

    assert main(["train", "--resume", str(run_dir), "--no-progress-bar"]) == 0
    assert _counts(run_dir, algo) == expected


# -- replay buffers: exact round trip, only the filled part, torn writes, bad files ---------


def _dqn(buffer_size: int, seed: int = 0, **kwargs: object) -> DQN:
    env = make_vec_env("SafetyRLHF-v0", n_envs=2, seed=seed, env_kwargs={"reward_model": "rule"})
    return DQN("MlpPolicy", env, learning_starts=10, buffer_size=buffer_size, train_freq=1,
               device="cpu", seed=seed, policy_kwargs={"net_arch": []}, **kwargs)  # fmt: skip


def _buffer_arrays(buffer: object) -> dict[str, np.ndarray]:
    return {k: v for k, v in vars(buffer).items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize(
    "steps, optimize, pos, full, rows",
    [
        # 2 envs: a row per 2 steps; 200 transitions = 100 rows
        (60, False, 30, False, 30),
        (60, True, 30, False, 31),  # optimize_memory_usage: row pos holds a next observation
        (230, False, 15, True, 100),  # wrapped around: 115 rows written into 100
        (230, True, 15, True, 100),
    ],
)
def test_replay_buffer_round_trips_exactly(
    tmp_path: Path, steps: int, optimize: bool, pos: int, full: bool, rows: int
) -> None:
    kwargs = {"optimize_memory_usage": optimize,
              "replay_buffer_kwargs": {"handle_timeout_termination": not optimize}}  # fmt: skip
    model = _dqn(200, **kwargs)
    model.learn(steps)
    buffer = model.replay_buffer
    assert (buffer.pos, buffer.full) == (pos, full)
    path = save_replay_buffer(buffer, tmp_path / "buffer.npz")
    with np.load(path, allow_pickle=False) as npz:  # only the rows that hold data
        assert {npz[k].shape[0] for k in npz.files if k.endswith(".index")} <= {rows}
        assert {npz[k].shape[0] for k in npz.files if "." not in k and k[0] != "_"} == {rows}

    fresh = _dqn(200, seed=1, **kwargs).replay_buffer
    load_replay_buffer(fresh, path)
    assert (fresh.pos, fresh.full) == (pos, full)
    for name, array in _buffer_arrays(buffer).items():
        loaded = getattr(fresh, name)
        assert loaded.dtype == array.dtype
        assert loaded.tobytes() == array.tobytes(), name  # bit for bit
    # and it samples the same transitions (SB3 samples from the global NumPy generator)
    saved_state = np.random.get_state()
    try:
        samples = []
        for b in (buffer, fresh):
            np.random.seed(7)
            samples.append(b.sample(64))
    finally:
        np.random.set_state(saved_state)
    for a, b in zip(*samples, strict=True):
        assert (a is None and b is None) or torch.equal(a, b)


def test_a_buffer_file_holds_only_the_filled_part(tmp_path: Path) -> None:
    model = _dqn(20_000)  # 10,000 rows x 2 envs x 1,024 float32 features, twice: 164 MB
    model.learn(100)  # 50 rows filled
    path = save_replay_buffer(model.replay_buffer, tmp_path / "buffer.npz")
    # the filled part uncompressed: 50 x 2 x 1,024 x 4 B x 2 = 0.8 MB
    assert path.stat().st_size < 400_000


def test_repeated_observation_rows_are_stored_once_and_restored_bit_for_bit(
    tmp_path: Path,
) -> None:
    space = gym.spaces.Box(-np.inf, np.inf, (64,), np.float32)
    zero, minus_zero, nan = (
        np.zeros(64, np.float32),
        np.full(64, -0.0, np.float32),
        np.zeros(64, np.float32),
    )
    nan[3] = np.float32("nan")
    buffer = ReplayBuffer(50, space, gym.spaces.Discrete(6), device="cpu", n_envs=1)
    for i in range(40):  # three distinct rows, repeated
        obs = (zero, minus_zero, nan)[i % 3]
        buffer.add(obs[None], (zero, minus_zero, nan)[(i + 1) % 3][None], np.array([i % 6]),
                   np.array([float(i)]), np.array([False]), [{}])  # fmt: skip
    path = save_replay_buffer(buffer, tmp_path / "buffer.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert npz["observations.rows"].shape == (3, 64)
        assert npz["observations.index"].shape == (40, 1)
    fresh = ReplayBuffer(50, space, gym.spaces.Discrete(6), device="cpu", n_envs=1)
    load_replay_buffer(fresh, path)
    for name, array in _buffer_arrays(buffer).items():
        assert getattr(fresh, name).tobytes() == array.tobytes(), name


def test_a_torn_buffer_write_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _dqn(200)
    model.learn(60)
    folder = tmp_path / "checkpoint"
    save_run_checkpoint(model, folder)
    before = {k: v.copy() for k, v in _buffer_arrays(model.replay_buffer).items()}
    model.learn(60, reset_num_timesteps=False)

    def torn(file: Any, *args: object, **kwargs: object) -> None:
        file.write(b"PK\x03\x04" + bytes(1000))  # part of an archive, then the kill
        raise KeyboardInterrupt("killed while writing the buffer")

    with monkeypatch.context() as m:
        m.setattr(np, "savez_compressed", torn)
        with pytest.raises(KeyboardInterrupt):
            save_run_checkpoint(model, folder)
    state = read_checkpoint(tmp_path)  # the first checkpoint, whole
    assert state["num_timesteps"] == 60
    fresh = _dqn(200, seed=1)
    load_replay_buffer(fresh.replay_buffer, state["buffer"])
    for name, array in before.items():
        np.testing.assert_array_equal(getattr(fresh.replay_buffer, name), array, err_msg=name)
    assert fresh.replay_buffer.pos == 30
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]

    # a kill (no exception handler runs) leaves a temporary file: the next checkpoint drops it
    (folder / ".buffer-120.npz.x1y2.tmp").write_bytes(b"PK\x03\x04")
    save_run_checkpoint(model, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["buffer-120.npz", "model-120.zip", STATE]


def _one_line_error(exc: pytest.ExceptionInfo[ValueError], path: Path) -> str:
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_a_corrupt_or_mismatched_buffer_file_is_one_clear_error(tmp_path: Path) -> None:
    model = _dqn(200)
    model.learn(230)  # full
    path = save_replay_buffer(model.replay_buffer, tmp_path / "buffer.npz")
    data = path.read_bytes()
    target = _dqn(200, seed=1).replay_buffer
    before = {k: v.copy() for k, v in _buffer_arrays(target).items()}

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    flipped = tmp_path / "flipped.npz"
    middle = len(data) // 2
    flipped.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    for bad in (truncated, flipped):
        with pytest.raises(ValueError) as exc:
            load_replay_buffer(target, bad)
        _one_line_error(exc, bad)

    # a buffer of another size or observation width does not fit
    bigger = _dqn(400, seed=1).replay_buffer
    with pytest.raises(ValueError) as exc:
        load_replay_buffer(bigger, path)
    assert "observations" in _one_line_error(exc, path)
    env = make_vec_env("SafetyRLHF-v0", n_envs=2, env_kwargs={"reward_model": "rule",
                                                              "encoder": "hashing",
                                                              "obs_dim": 512})  # fmt: skip
    narrow = DQN("MlpPolicy", env, buffer_size=200, device="cpu").replay_buffer
    with pytest.raises(ValueError) as exc:
        load_replay_buffer(narrow, path)
    assert "[100, 2, 512]" in _one_line_error(exc, path)
    # nothing was half-restored
    for name, array in before.items():
        np.testing.assert_array_equal(getattr(target, name), array, err_msg=name)


def test_resume_with_a_corrupt_buffer_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "dqn.yml"
    config.write_text(TINY_YAML["dqn"].replace("1600", "400"), encoding="utf-8")
    assert main(_train_argv("dqn", tmp_path / "runs", config)) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    buffer = read_checkpoint(run_dir)["buffer"]
    buffer.write_bytes(buffer.read_bytes()[:100])
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--no-progress-bar"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"safety-rlhf train: error: {buffer}: ") and err.count("\n") == 1
