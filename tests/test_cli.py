"""The ``safety-rlhf`` command line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import gymnasium as gym
import pytest
import torch
import yaml
from stable_baselines3 import PPO

from safety_rlhf.experiments.cli import build_parser, main, train_config_from_args
from safety_rlhf.experiments.config_flags import field_docs, flag_name
from safety_rlhf.experiments.train import TrainConfig
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
    assert PPO.load(run_dir / "model.zip").observation_space.shape == (384,)


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


# ------------------------------------------------------------ flags from TrainConfig


def _train_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def test_every_train_config_field_has_a_flag_with_its_docstring_as_help() -> None:
    actions = {a.dest: a for a in _train_parser()._actions}
    docs = field_docs(TrainConfig)
    for f in fields(TrainConfig):
        assert f.name in actions, f"TrainConfig.{f.name} has no flag"
        assert actions[f.name].option_strings == [flag_name(f.name, f.default)]
        first_words = " ".join(docs[f.name].split()[:3])
        assert first_words and first_words.lower() in actions[f.name].help.lower(), f.name


def test_a_command_line_gives_exactly_this_train_config() -> None:
    argv = ["train", "--algo", "A2C", "--env", "SafetyRLHF-v0", "--reward-model", "rule",
            "--timesteps", "512", "--seed", "4", "--kl-coef", "0.05", "--n-envs", "2",
            "--config", "my.yml", "--log-dir", "out", "--no-progress-bar", "--device", "cpu",
            "--eval-freq", "128", "--torch-threads", "2", "--vec-env", "dummy",
            "--env-kwargs", "encoder:hashing", "obs_dim:512",
            "--hyperparams", "learning_rate:1e-3", "n_steps:256", "normalize_advantage:false",
            "policy_kwargs:{net_arch: [64, 64]}", "gamma:0",
            "--cost-limit", "0.1", "--lagrange-lr", "0.2", "--lagrange-init", "1.5",
            "--checkpoint-freq", "0"]  # fmt: skip
    expected = TrainConfig(
        algo="a2c",
        env="SafetyRLHF-v0",
        reward_model="rule",
        timesteps=512,
        seed=4,
        kl_coef=0.05,
        n_envs=2,
        config="my.yml",
        log_dir="out",
        progress_bar=False,
        device="cpu",
        eval_freq=128,
        torch_threads=2,
        vec_env="dummy",
        env_kwargs={"encoder": "hashing", "obs_dim": 512},
        hyperparams={
            "learning_rate": 0.001,
            "n_steps": 256,
            "normalize_advantage": False,
            "policy_kwargs": {"net_arch": [64, 64]},
            "gamma": 0,
        },
        cost_limit=0.1,
        lagrange_lr=0.2,
        lagrange_init=1.5,
        checkpoint_freq=0,
    )
    assert train_config_from_args(build_parser().parse_args(argv)) == expected
    assert train_config_from_args(build_parser().parse_args(["train"])) == TrainConfig()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--hyperparams", "learning_rate"], "--hyperparams: expected KEY:VALUE"),
        (["--hyperparams", "learning_rate:[1,"], "--hyperparams: 'learning_rate:[1,': the value"),
        (["--hyperparams", "policy:!!python/name:os.system"], "--hyperparams: 'policy:!!python"),
        (["--hyperparams", "learning_rat:0.1"], "hyperparams: unknown key(s) ['learning_rat']"),
        (["--env-kwargs", "obs_dims:64"], "env_kwargs: unknown key(s) ['obs_dims']"),
        (["--env-kwargs", "=3"], "--env-kwargs: expected KEY:VALUE"),
    ],
)
def test_bad_overrides_are_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str], message: str
) -> None:
    assert main(["train", *flags, "--log-dir", str(tmp_path), "--no-progress-bar"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("safety-rlhf train: error: ") and message in line, line
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_overrides_reach_the_agent_and_the_env(tmp_path: Path) -> None:
    argv = ["train", "--timesteps", "64", "--n-envs", "2", "--log-dir", str(tmp_path),
            "--no-progress-bar", "--checkpoint-freq", "0",
            "--hyperparams", "n_steps:16", "learning_rate:1e-3", "batch_size:32",
            "--env-kwargs", "encoder:hashing", "obs_dim:64", "reward_model:rule"]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = tmp_path.iterdir()
    model = PPO.load(run_dir / "model.zip", device="cpu")
    assert (model.n_steps, model.learning_rate, model.batch_size) == (16, 0.001, 32)
    assert model.observation_space.shape == (64,)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["algo_kwargs"]["n_steps"] == 16 and config["algo_kwargs"]["gamma"] == 0.0
    assert config["env_kwargs"] == {"encoder": "hashing", "obs_dim": 64, "reward_model": "rule"}
