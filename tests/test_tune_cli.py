"""``safety-rlhf tune`` in-process with a fake ``train``: bad input is one line and exit 2
with nothing written; a study resumes, counts failures and writes a YAML train accepts."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from safety_rlhf.agents.algorithms import load_hyperparams
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.cli import main
from safety_rlhf.experiments.train_config import TrainConfig

optuna = pytest.importorskip("optuna")  # the [tune] extra

BASE = ["tune", "--algo", "ppo", "--reward-model", "rule", "--timesteps", "256",
        "--eval-freq", "64"]  # fmt: skip


def _fake_train(cfg: TrainConfig, argv: Any = None, on_evaluation: Any = None) -> None:
    """A run whose test gold success is its learning rate's rank in (1e-4, 3e-2), from
    0.2 to 0.8, plus 0.01 per seed, at each of four evaluations."""
    lr = cfg.hyperparams["learning_rate"]
    score = 0.2 + 0.6 * (lr - 1e-4) / (3e-2 - 1e-4) + 0.01 * cfg.seed
    for step in (64, 128, 192, 512):
        on_evaluation(step, {"gold_success": score})


@pytest.fixture
def fake_train(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "train", _fake_train)


def _one_error_line(capsys: pytest.CaptureFixture[str], status: int, *needles: str) -> str:
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("safety-rlhf tune: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:  # a port nothing listens on once the socket is closed
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--algo", "sac"], ["unknown algorithm 'sac'"]),
        (["--trials", "0"], ["--trials must be a whole number from 1"]),
        (["--storage", "redis://localhost/0"], ["--storage redis://localhost/0", "database URL"]),
        (["--storage", "sqlite:///{tmp}/missing/study.db"], ["does not exist"]),
        (["--storage", "sqlite:///{tmp}"], ["a folder; refusing to replace it"]),
        (["--storage", "sqlite://"], ["in-memory database"]),
        # SQLite by any driver, query arguments and all, checked as typed (not made
        # absolute first: ":memory:" would be a file in the working folder)
        (["--storage", "sqlite:///:memory:"], ["in-memory database"]),
        (["--storage", "sqlite+pysqlite://"], ["in-memory database"]),
        (["--storage", "sqlite:///file:x?mode=memory&uri=true"], ["in-memory database"]),
        (["--storage", "sqlite:///study.db?uri=true"], ["SQLite URI filenames"]),
        (["--storage", "sqlite+pysqlite:///{tmp}"], ["a folder; refusing to replace it"]),
        (["--storage", "sqlite:///{tmp}/missing/study.db?timeout=5"], ["does not exist"]),
        (["--last-evals", "5"], ["--last-evals 5", "only 4 evaluation(s)"]),
        # 8 envs: evaluations at steps 64, 128, 192 and the end, not ceil(256 / 60) = 5
        (["--eval-freq", "60", "--last-evals", "5"], ["only 4 evaluation(s)"]),
        (["--address", "127.0.0.1:6379"], ["--address and --cpus-per-trial need --backend ray"]),
        (["--cpus-per-trial", "2"], ["--address and --cpus-per-trial need --backend ray"]),
        (["--backend", "ray", "--cpus-per-trial", "1000"], ["the local Ray instance has"]),
        (["--study-name", ""], ["--study-name is empty"]),
        (
            ["--study-name", "evil\nSafetyRLHF-v0: 1"],
            ["--study-name 'evil\\nSafetyRLHF-v0: 1'", "control character"],
        ),
        (["--backend", "ray", "--address", "127.0.0.1:{port}"], ["no Ray cluster reachable"]),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_train: None,
    extra: list[str],
    needles: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative storage path would land here
    out = tmp_path / "out"
    extra = [e.format(tmp=tmp_path, port=_closed_port()) for e in extra]
    status = main([*BASE, "--trials", "2", "--out", str(out), *extra])
    _one_error_line(capsys, status, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no OUT, no database


@pytest.mark.parametrize(("module", "needle"), [("optuna", "[tune]"), ("ray", "[ray]")])
def test_missing_extra_names_its_pip_install(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    needle: str,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    out = tmp_path / "out"
    status = main([*BASE, "--trials", "2", "--backend", "ray", "--out", str(out)])
    _one_error_line(capsys, status, f'pip install "safety-rlhf-gym{needle}"')
    assert not out.exists()


def test_study_resumes_and_writes_a_yaml_train_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_train: None
) -> None:
    out = tmp_path / "out"
    assert main([*BASE, "--trials", "2", "--out", str(out)]) == 0
    assert main([*BASE, "--trials", "3", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "1 of 3" not in stdout and "2 of 3 trial(s) finished" in stdout
    assert f"optuna-dashboard sqlite:///{out.absolute()}/study.db" in stdout
    storage = f"sqlite:///{out}/study.db"
    study = optuna.load_study(study_name="ppo-SafetyRLHF-v0", storage=storage)
    assert [t.number for t in study.trials] == [0, 1, 2]  # the re-run ran one more
    assert study.user_attrs["timesteps"] == 256 and study.user_attrs["last_evals"] == 3
    best = study.best_trial
    params = load_hyperparams("ppo", "SafetyRLHF-v0", str(out / "ppo.yml"))  # train's check
    for key, value in best.user_attrs["hyperparams"].items():
        assert params[key] == value
    assert params["n_timesteps"] == 256
    assert params["gamma"] == load_hyperparams("ppo", "SafetyRLHF-v0")["gamma"]  # not searched
    text = (out / "ppo.yml").read_text()
    assert f"# best: trial {best.number}, value {best.value:.4f}" in text
    assert "# trials: 3 complete, 0 pruned (median pruner), 0 failed" in text
    # every key has a comment above it, as in the shipped YAMLs
    body = text.split("SafetyRLHF-v0:\n", 1)[1].splitlines()
    keys = [i for i, line in enumerate(body) if line.startswith("  ") and line[2] not in " #"]
    assert keys and all(body[i - 1].startswith("  # ") for i in keys)
    assert set(yaml.safe_load(text)) == {"SafetyRLHF-v0"}


def test_resuming_with_other_settings_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_train: None
) -> None:
    out = tmp_path / "out"
    assert main([*BASE, "--trials", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in out.rglob("*"))
    status = main([*BASE, "--timesteps", "512", "--trials", "2", "--out", str(out)])
    _one_error_line(capsys, status, "other settings", "timesteps 256 there, 512 here")
    assert sorted(p.name for p in out.rglob("*")) == before


def test_a_folder_of_other_origin_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_train: None
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    status = main([*BASE, "--trials", "1", "--out", str(tmp_path)])
    _one_error_line(capsys, status, "not an output of 'tune'")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_failed_trials_are_reported_and_stop_the_command_at_three(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:

    def broken(cfg: TrainConfig, argv: Any = None, on_evaluation: Any = None) -> None:
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr(train_module, "train", broken)
    out = tmp_path / "out"
    assert main([*BASE, "--trials", "5", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    failed = [line for line in captured.out.splitlines() if "FAILED" in line]
    assert failed == [f"trial {n}: FAILED: RuntimeError: the GPU caught fire" for n in range(3)]
    assert "stopped after 3 failed trials" in captured.err
    assert "the GPU caught fire" in (out / "runs" / "trial-0" / "error.txt").read_text()
    assert not (out / "ppo.yml").exists()
