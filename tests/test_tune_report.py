"""``safety-rlhf tune`` and a study it did not make, and the YAML header: a study that is
refused is left as it was, foreign trials never crash the YAML, and no argument can break
the header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.cli import main
from safety_rlhf.experiments.train_config import TrainConfig
from safety_rlhf.experiments.tune import report

optuna = pytest.importorskip("optuna")  # the [tune] extra

NAME = "ppo-SafetyRLHF-v0"
BASE = ["tune", "--algo", "ppo", "--reward-model", "rule", "--timesteps", "256",
        "--eval-freq", "64", "--seeds", "1"]  # fmt: skip
SETTINGS = {"algo": "ppo", "env": "SafetyRLHF-v0", "reward_model": "rule", "seeds": 1,
            "timesteps": 256, "eval_freq": 64, "last_evals": 3}  # fmt: skip


def _fake_train(cfg: TrainConfig, argv: Any = None, on_evaluation: Any = None) -> None:
    for step in (64, 128, 192, 256):
        on_evaluation(step, {"gold_success": 0.5})


@pytest.fixture(autouse=True)
def fake_train(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "train", _fake_train)
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _foreign_trial(study: Any, value: float) -> None:
    """A complete trial added by hand (no ``hyperparams``, as tune records them)."""
    study.add_trial(optuna.trial.create_trial(value=value, params={}, distributions={}))


def _refused(capsys: pytest.CaptureFixture[str], status: int, needle: str) -> None:
    err = capsys.readouterr().err
    assert status == 2 and needle in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda u: optuna.create_study(storage=u, study_name=NAME), "minimises"),
        (
            lambda u: optuna.create_study(
                storage=u, study_name=NAME, directions=["maximize", "minimize"]
            ),
            "has 2 objectives",
        ),
        (
            lambda u: _foreign_trial(
                optuna.create_study(storage=u, study_name=NAME, direction="maximize"), 0.9
            ),
            "holds 1 trial(s) but no tune settings",
        ),
    ],
)
def test_a_study_tune_did_not_make_is_refused_and_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, needle: str
) -> None:
    url = f"sqlite:///{tmp_path}/study.db"
    make(url)
    status = main([*BASE, "--trials", "1", "--storage", url, "--out", str(tmp_path / "out")])
    _refused(capsys, status, needle)
    assert optuna.load_study(study_name=NAME, storage=url).user_attrs == {}  # not written
    assert not (tmp_path / "out").exists()


def test_a_complete_trial_without_hyperparams_is_left_out_of_the_yaml(tmp_path: Path) -> None:
    out, url = tmp_path / "out", f"sqlite:///{tmp_path}/out/study.db"
    assert main([*BASE, "--trials", "1", "--out", str(out)]) == 0
    _foreign_trial(optuna.load_study(study_name=NAME, storage=url), 0.99)  # better, foreign
    assert main([*BASE, "--trials", "1", "--out", str(out)]) == 0
    text = (out / "ppo.yml").read_text()
    assert "# best: trial 0, value 0.5000" in text and "trial 1:" not in text


def test_only_foreign_complete_trials_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/study.db"
    study = optuna.create_study(storage=url, study_name=NAME, direction="maximize")
    for key, value in SETTINGS.items():
        study.set_user_attr(key, value)
    _foreign_trial(study, 0.9)
    status = main([*BASE, "--trials", "1", "--storage", url, "--out", str(tmp_path / "out")])
    _refused(capsys, status, "no complete trial records its hyperparameters")


def test_a_newline_in_an_argument_cannot_break_the_header(tmp_path: Path) -> None:
    out = tmp_path / "o\nSafetyRLHF-v0: 1"
    assert main([*BASE, "--trials", "1", "--out", str(out)]) == 0
    text = (out / "ppo.yml").read_text()
    header, _ = text.split("\nSafetyRLHF-v0:\n", 1)
    assert all(line.startswith("# ") for line in header.splitlines())
    assert "o\\nSafetyRLHF-v0: 1" in header
    assert list(yaml.safe_load(text)) == ["SafetyRLHF-v0"]


def test_a_yaml_error_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = yaml.safe_load

    def broken(stream: Any) -> Any:  # only for the tuned YAML: the shipped ones still load
        if isinstance(stream, str) and "chosen by `safety-rlhf tune`" in stream:
            raise yaml.YAMLError("found character that cannot start any token")
        return real(stream)

    monkeypatch.setattr(report.yaml, "safe_load", broken)
    status = main([*BASE, "--trials", "1", "--out", str(tmp_path / "out")])
    _refused(capsys, status, "is not valid YAML: found character")
