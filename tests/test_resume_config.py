"""``train --resume`` continues with the run's own saved ``config.yaml``, or refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import yaml
from stable_baselines3 import DQN, PPO

from safety_rlhf.agents.checkpoints import read_checkpoint, resume_seed
from safety_rlhf.experiments.cli import main
from safety_rlhf.experiments.train import resolve, resume_config

ENTRY = {
    "n_envs": 2,
    "n_timesteps": 128,
    "policy": "MlpPolicy",
    "n_steps": 16,
    "batch_size": 32,
    "learning_rate": 0.003,
    "gamma": 0.0,
    "policy_kwargs": {"net_arch": []},
}


def _write_yaml(path: Path, **changes: object) -> Path:
    path.write_text(yaml.safe_dump({"SafetyRLHF-v0": {**ENTRY, **changes}}))
    return path


def _interrupted(tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    """A PPO run of 128 steps from a user YAML, with its final model deleted (as if it was
    killed after its last checkpoint), and that YAML."""
    yml = _write_yaml(tmp_path / "ppo.yml")
    runs = tmp_path / "runs"
    argv = ["train", "--config", str(yml), "--reward-model", "rule", "--checkpoint-freq", "32",
            "--log-dir", str(runs), "--no-progress-bar", *extra]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = runs.iterdir()
    # checkpoints are taken at rollout starts (rollouts of 2 x 16 steps): the last at 96
    assert read_checkpoint(run_dir)["num_timesteps"] == 96
    (run_dir / "model.zip").unlink()
    return run_dir, yml


@pytest.fixture
def interrupted_run(tmp_path: Path) -> tuple[Path, Path]:
    """See :func:`_interrupted`."""
    return _interrupted(tmp_path)


def test_resume_uses_the_saved_settings_not_the_current_yaml(
    interrupted_run: tuple[Path, Path],
) -> None:
    run_dir, yml = interrupted_run
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    # the user edits the YAML after the run: every value differs now
    _write_yaml(yml, n_envs=4, n_timesteps=256, n_steps=8, learning_rate=0.5, gamma=0.9)
    run, algo_kwargs = resolve(resume_config(run_dir))
    assert algo_kwargs == saved["algo_kwargs"]
    assert (run["n_envs"], run["n_timesteps"]) == (2, 128)

    assert main(["train", "--resume", str(run_dir), "--no-progress-bar"]) == 0
    model = PPO.load(run_dir / "model.zip", device="cpu")
    assert model.num_timesteps == 128  # the run's own budget, not the YAML's new 256
    assert (model.n_envs, model.n_steps, model.learning_rate, model.gamma) == (2, 16, 0.003, 0.0)
    assert yaml.safe_load((run_dir / "config.yaml").read_text()) == saved


def test_resume_refuses_a_missing_malformed_or_foreign_config(
    interrupted_run: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    run_dir, _ = interrupted_run
    config = run_dir / "config.yaml"
    saved = config.read_text()

    def refused() -> str:
        assert main(["train", "--resume", str(run_dir), "--no-progress-bar"]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("safety-rlhf train: error: ") and str(config) in line, line
        assert not (run_dir / "model.zip").exists()
        return line

    config.unlink()
    assert "missing" in refused()
    config.write_text("run: {algo: ppo\n")
    assert "invalid YAML" in refused()
    config.write_text("- just\n- a list\n")
    assert "expected the mappings 'run' and 'algo_kwargs'" in refused()
    config.write_text(saved.replace("algo: ppo", "algo: a2c"))  # the checkpoint is PPO's
    assert "does not match the checkpoint" in refused()
    config.write_text(saved.replace("n_steps: 16", "n_steps: 64"))
    assert "n_steps=64 (checkpoint: 16)" in refused()
    config.write_text(saved.replace("algo: ppo", "algo: nope"))
    assert "unknown algorithm 'nope'" in refused()


def test_resume_of_a_run_seeded_near_2_to_the_32(tmp_path: Path) -> None:
    # its envs were seeded seed + steps done = 4294967386 on resume: beyond NumPy's range
    run_dir, _ = _interrupted(tmp_path, "--seed", "4294967290")
    assert main(["train", "--resume", str(run_dir), "--no-progress-bar"]) == 0
    assert PPO.load(run_dir / "model.zip", device="cpu").num_timesteps == 128


def test_resume_seed_is_a_new_stream_in_numpys_range() -> None:
    seeds = {resume_seed(s, n) for s in (0, 1, 2**32 - 1) for n in (0, 96, 10**12)}
    assert len(seeds) == 9 and all(0 <= s < 2**32 for s in seeds)
    assert resume_seed(5, 96) == resume_seed(5, 96) != 5 + 96


def _other_algorithms_model(run_dir: Path) -> None:
    env = gym.make("SafetyRLHF-v0", reward_model="rule")
    DQN("MlpPolicy", env, buffer_size=16, policy_kwargs={"net_arch": []}).save(
        run_dir / "checkpoint" / read_checkpoint(run_dir)["model"].name
    )


def _state_edit(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        path = run_dir / "checkpoint" / "state.json"
        state = json.loads(path.read_text())
        change(state)  # in place
        path.write_text(json.dumps(state))

    return damage


def _write_state(text: str | bytes) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        path = run_dir / "checkpoint" / "state.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return damage


#: (what, damage to the run folder, expected text of the one error line)
STATE_CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("a list", _write_state("[1, 2]"), "expected a JSON object, got list"),
    ("not UTF-8", _write_state(b'{"num_timesteps": "\xe9"}'),
     "state.json: not UTF-8 text (byte 19)"),
    ("steps missing", _state_edit(lambda s: s.pop("num_timesteps")),
     "num_timesteps must be a whole number >= 0, got None"),
    ("steps a string", _state_edit(lambda s: s.update(num_timesteps="96")),
     "num_timesteps must be a whole number >= 0, got '96'"),
    ("steps negative", _state_edit(lambda s: s.update(num_timesteps=-1)),
     "num_timesteps must be a whole number >= 0, got -1"),
    ("model outside the folder", _state_edit(lambda s: s.update(model="../config.yaml")),
     "model must name a file in the checkpoint folder, got '../config.yaml'"),
    ("model a number", _state_edit(lambda s: s.update(model=5)),
     "model must name a file in the checkpoint folder, got 5"),
    ("rng missing", _state_edit(lambda s: s.pop("rng")), "'rng' is not the torch, NumPy"),
    ("NumPy state cut", _state_edit(lambda s: s["rng"]["numpy"][1].pop()), "'rng' is not"),
    ("torch state not base64", _state_edit(lambda s: s["rng"].update(torch="!" * 6744)),
     "'rng' is not"),
    ("multiplier NaN", _state_edit(lambda s: s.update(lagrange_multiplier=float("nan"))),
     "lagrange_multiplier must be a finite number >= 0, got nan"),
    ("another algorithm's model", _other_algorithms_model,
     "n_steps=16 (checkpoint: 1)"),
]  # fmt: skip


def test_resume_refuses_a_malformed_or_foreign_state_json(
    interrupted_run: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    run_dir, _ = interrupted_run
    checkpoint = run_dir / "checkpoint"
    saved = {p.name: p.read_bytes() for p in checkpoint.iterdir()}
    failed = []
    for what, damage, expected in STATE_CASES:
        for name, data in saved.items():
            (checkpoint / name).write_bytes(data)
        damage(run_dir)
        status = main(["train", "--resume", str(run_dir), "--no-progress-bar"])
        lines = capsys.readouterr().err.splitlines()
        ok = status == 2 and len(lines) == 1 and lines[0].startswith("safety-rlhf train: error: ")
        if not (ok and expected in lines[0] and not (run_dir / "model.zip").exists()):
            failed.append(f"{what}: exit {status}, {lines[-1:] or lines}")
    assert not failed, failed
