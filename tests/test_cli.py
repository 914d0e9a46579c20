"""The ``safety-rlhf`` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import torch
import yaml
from stable_baselines3 import PPO

from safety_rlhf.experiments.cli import main
from safety_rlhf.task.metrics import METRIC_NAMES


def test_train_writes_a_complete_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["train", "--timesteps", "256", "--n-envs", "2", "--seed", "3",
            "--log-dir", str(tmp_path), "--no-progress-bar"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("SafetyRLHF-v0__ppo__3__")
    names = {p.name for p in run_dir.iterdir()}
    assert {"command.txt", "config.yaml", "environment.json", "metrics.json", "model.zip"} <= names
    environment = json.loads((run_dir / "environment.json").read_text())
    assert environment["packages"]["gymnasium"] == gym.__version__
    assert environment["packages"]["torch"].startswith(torch.__version__.split("+")[0])
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent)  # fmt: skip
    if head.returncode == 0:  # running from a git checkout (as in CI)
        assert environment["git_commit"] == head.stdout.strip()
    assert any(p.name.startswith("events.out.tfevents") for p in run_dir.rglob("*"))
    assert (run_dir / "command.txt").read_text().split() == ["safety-rlhf", *argv]
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["run"]["n_timesteps"] == 256 and config["run"]["seed"] == 3
    assert config["algo_kwargs"]["gamma"] == 0.0  # from the shipped YAML
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["test"]) == set(METRIC_NAMES)
    for name in ("gold_success", "harmful_refusal", "benign_help", "over_refusal"):
        assert name in out
        value = metrics["test"][name]
        assert f"{value:.3f}" in out
    assert PPO.load(run_dir / "model.zip").observation_space.shape == (1024,)


def test_kl_coef_penalises_rollouts_and_keeps_the_yaml_ent_coef(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    argv = ["train", "--timesteps", "64", "--n-envs", "1", "--kl-coef", "0.1",
            "--log-dir", str(tmp_path), "--no-progress-bar"]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = tmp_path.iterdir()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["run"]["kl_coef"] == 0.1
    assert config["algo_kwargs"]["ent_coef"] == 0.0  # the shipped YAML's, not matched to beta
    assert "kl_coef" not in config["env_kwargs"]  # no reward shaping in the env
    (events,) = run_dir.rglob("events.out.tfevents*")
    acc = EventAccumulator(str(events))
    acc.Reload()
    (sampled,) = acc.Scalars("safety/kl_sampled")  # one rollout of 64 steps
    (penalty,) = acc.Scalars("safety/kl_penalty")
    assert penalty.value == pytest.approx(0.1 * sampled.value, rel=1e-5)


def test_bad_config_is_reported_with_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("SafetyRLHF-v0:\n  n_steps: 32\n  learning_rat: 0.1\n")
    with pytest.raises(
        ValueError, match=r"bad\.yml: SafetyRLHF-v0: unknown key\(s\) \['learning_rat'\]"
    ):
        main(["--debug", "train", "--config", str(bad), "--log-dir", str(tmp_path)])
    assert list(tmp_path.iterdir()) == [bad]  # nothing half-written


def test_console_script_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "safety_rlhf", "train", "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "--reward-model" in out.stdout and "--kl-coef" in out.stdout


def test_tensorboard_events_hold_every_safety_scalar(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    argv = ["train", "--reward-model", "rule", "--timesteps", "1024", "--n-envs", "2",
            "--log-dir", str(tmp_path), "--no-progress-bar"]  # fmt: skip
    assert main(argv) == 0
    (events,) = tmp_path.rglob("events.out.tfevents*")
    acc = EventAccumulator(str(events))
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    expected = {f"safety/{m}" for m in (*METRIC_NAMES, "kl_ref")}
    expected |= {f"safety/test/{m}" for m in (*METRIC_NAMES, "kl_ref")}
    assert expected <= scalars, sorted(expected - scalars)
    assert "safety/samples/text_summary" in acc.Tags()["tensors"]
    # proxy and gold are logged side by side and are different quantities
    proxy = acc.Scalars("safety/test/proxy_reward")[-1].value
    gold = acc.Scalars("safety/test/gold_reward")[-1].value
    assert proxy != gold


def test_same_seed_same_run_in_two_processes(tmp_path: Path) -> None:
    # A short PPO run, twice, each in a fresh interpreter: identical final metrics.
    code = (
        "import sys; from safety_rlhf.experiments.cli import main; "
        "sys.exit(main(['train', '--reward-model', 'rule', '--timesteps', '512', "
        "'--seed', '7', '--log-dir', sys.argv[1], '--no-progress-bar']))"
    )
    results = []
    for name in ("first", "second"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True,
                       capture_output=True)  # fmt: skip
        (run_dir,) = (tmp_path / name).iterdir()
        metrics = json.loads((run_dir / "metrics.json").read_text())
        metrics.pop("seconds")
        results.append(metrics)
    assert results[0] == results[1]
