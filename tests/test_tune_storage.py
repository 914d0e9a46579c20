"""The storage URL of ``safety-rlhf tune``: SQLite by any driver checked where it points,
made absolute for Ray, and no password in anything the command records or prints."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from safety_rlhf.agents.interrupts import Interrupted
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.cli import main
from safety_rlhf.experiments.train_config import TrainConfig
from safety_rlhf.experiments.tune import runner, storage
from safety_rlhf.experiments.tune.storage import absolute_url, recorded_argv, shown_url

optuna = pytest.importorskip("optuna")  # the [tune] extra

BASE = ["tune", "--algo", "ppo", "--reward-model", "rule", "--timesteps", "256",
        "--eval-freq", "64", "--seeds", "1", "--trials", "1"]  # fmt: skip


@pytest.fixture
def argvs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """``train`` faked (a constant score); the argv of every run, as ``command.txt`` gets it."""
    seen: list[list[str]] = []

    def fake(cfg: TrainConfig, argv: Any = None, on_evaluation: Any = None) -> None:
        seen.append(list(argv))
        for step in (64, 128, 192, 256):
            on_evaluation(step, {"gold_success": 0.5})

    monkeypatch.setattr(train_module, "train", fake)
    return seen


@pytest.mark.parametrize("url", ["sqlite:///{link}?timeout=5", "sqlite+pysqlite:///{link}"])
def test_a_link_is_refused_whatever_the_driver_and_query(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argvs: list[list[str]], url: str
) -> None:
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "target.db")
    out = tmp_path / "out"
    status = main([*BASE, "--out", str(out), "--storage", url.format(link=link)])
    err = capsys.readouterr().err
    assert status == 2 and "symbolic link" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.db"]  # no target, no OUT


def test_a_relative_sqlite_path_is_made_absolute_for_every_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argvs: list[list[str]]
) -> None:
    assert absolute_url("sqlite+pysqlite:///x.db?timeout=5") == (
        f"sqlite+pysqlite:///{Path('x.db').absolute()}?timeout=5"
    )
    assert absolute_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert absolute_url("postgresql://u@h/db") == "postgresql://u@h/db"
    monkeypatch.chdir(tmp_path)
    url = "sqlite+pysqlite:///study.db?timeout=5"
    assert main([*BASE, "--out", "out", "--storage", url]) == 0
    assert (tmp_path / "study.db").is_file()
    text = (tmp_path / "out" / "ppo.yml").read_text()
    assert f"in sqlite+pysqlite:///{tmp_path}/study.db?timeout=5 " in text


def test_shown_url_hides_every_password() -> None:
    assert shown_url("postgresql://u:pa/ss@h/db") == "postgresql://u:***@h/db"
    assert shown_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert "secret" not in shown_url("postgresql://u@h/db?password=secret")
    assert shown_url("sqlite:////tmp/x y.db") == "sqlite:////tmp/x y.db"  # as typed
    assert "secret" not in shown_url("nonsense://u:se@cret@h:port/db")


def test_recorded_argv_hides_the_storage_password_in_every_form() -> None:
    url = "postgresql://u:secret@h/db"
    for argv in (["--storage", url], [f"--storage={url}"], ["--stor", url]):
        assert "secret" not in " ".join(recorded_argv(argv, url))
    assert recorded_argv(["--storage", "sqlite:///x.db"], "sqlite:///x.db") == [
        "--storage",
        "sqlite:///x.db",
    ]


def test_no_password_in_the_runs_argv_the_yaml_or_the_interrupt_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argvs: list[list[str]],
) -> None:
    # a PostgreSQL URL with a password, the study kept in a SQLite file instead
    url = "postgresql://tuner:secret@db.example/studies"
    db = f"sqlite:///{tmp_path}/study.db"
    monkeypatch.setattr(runner, "open_storage", lambda optuna, _: storage.open_storage(optuna, db))
    out = tmp_path / "out"
    assert main([*BASE, "--out", str(out), "--storage", url]) == 0
    assert argvs and all("secret" not in " ".join(argv) for argv in argvs)
    text = (out / "ppo.yml").read_text()
    assert "secret" not in text and "tuner:***@" in text
    assert "secret" not in capsys.readouterr().out

    def stopped(cfg: TrainConfig, argv: Any = None, on_evaluation: Any = None) -> None:
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(train_module, "train", stopped)
    status = main([*BASE, "--trials", "2", "--out", str(out), "--storage", url])
    err = capsys.readouterr().err
    assert status == 130 and "to continue, run the same command" in err, err
    assert "secret" not in err and "tuner:***@" in err
