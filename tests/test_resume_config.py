"""``train --resume`` continues with the run's own saved ``config.yaml``, or refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from stable_baselines3 import PPO

from safety_rlhf.agents.checkpoints import read_checkpoint
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


@pytest.fixture
def interrupted_run(tmp_path: Path) -> tuple[Path, Path]:
    """A PPO run of 128 steps from a user YAML, with its final model deleted (as if it was
    killed after its last checkpoint), and that YAML."""
    yml = _write_yaml(tmp_path / "ppo.yml")
    runs = tmp_path / "runs"
    argv = ["train", "--config", str(yml), "--reward-model", "rule", "--checkpoint-freq", "32",
            "--log-dir", str(runs), "--no-progress-bar"]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = runs.iterdir()
    # checkpoints are taken at rollout starts (rollouts of 2 x 16 steps): the last at 96
    assert read_checkpoint(run_dir)["num_timesteps"] == 96
    (run_dir / "model.zip").unlink()
    return run_dir, yml


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
