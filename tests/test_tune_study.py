"""Real ``safety-rlhf tune`` studies in subprocesses (slow): killed and resumed, stopped by
SIGTERM, and on a local Ray instance. Tiny budgets: 256 steps per run, 2 seeds."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

import safety_rlhf
from safety_rlhf.experiments.cli import main

optuna = pytest.importorskip("optuna")  # the [tune] extra

pytestmark = pytest.mark.slow

ROOT = Path(safety_rlhf.__file__).resolve().parents[1]
#: A bound on waiting, so that a broken command fails the test instead of hanging it;
#: nothing is asserted about how long anything takes.
PATIENCE = 600.0


def _command(out: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "safety_rlhf.experiments.cli", "tune", "--algo", "ppo",
            "--reward-model", "rule", "--trials", str(trials), "--timesteps", "256",
            "--eval-freq", "64", "--seeds", "2", "--out", str(out), *extra]  # fmt: skip


def _env() -> dict[str, str]:
    """This checkout first on the path of the command (and of its Ray workers)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _complete(db: Path) -> int:
    """COMPLETE trials in the SQLite storage ``db`` (0 while it is being made)."""
    if not db.is_file():
        return 0
    try:
        with closing(sqlite3.connect(db, timeout=1)) as connection:
            query = "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'"
            (n,) = connection.execute(query).fetchone()
    except sqlite3.OperationalError:  # no table yet, or locked
        return 0
    return int(n)


def _start_and_signal(out: Path, signum: int) -> subprocess.CompletedProcess[str]:
    """Run a 3-trial study; send ``signum`` once its first trial is COMPLETE in the storage."""
    process = subprocess.Popen(
        _command(out, 3), cwd=out.parent, env=_env(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + PATIENCE
        while process.poll() is None and _complete(out / "study.db") < 1:
            assert time.monotonic() < deadline, "no trial completed"
            time.sleep(0.1)
        assert process.poll() is None, "the study ended before it could be stopped"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=PATIENCE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _study(out: Path) -> optuna.Study:
    return optuna.load_study(study_name="ppo-SafetyRLHF-v0", storage=f"sqlite:///{out}/study.db")


def test_killed_study_resumes_to_three_trials_and_train_takes_its_yaml(tmp_path: Path) -> None:
    out = tmp_path / "tune"
    killed = _start_and_signal(out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert not (out / "ppo.yml").exists()
    first = [t.number for t in _study(out).trials if t.state.name == "COMPLETE"]
    assert len(first) >= 1

    rerun = subprocess.run(
        _command(out, 3), cwd=tmp_path, env=_env(), text=True, capture_output=True,
        timeout=PATIENCE,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    trials = _study(out).trials
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 3
    assert set(first) <= {t.number for t in finished}  # the first invocation's trial counts
    # at most the trial the kill interrupted is left over: RUNNING, or FAIL once its
    # heartbeat went stale
    assert len(trials) - len(finished) <= 1
    assert all(t.state.name in ("RUNNING", "FAIL") for t in trials if t not in finished)
    assert f"optuna-dashboard sqlite:///{out}/study.db" in rerun.stdout

    status = main(["train", "--algo", "ppo", "--config", str(out / "ppo.yml"),
                   "--reward-model", "rule", "--timesteps", "64", "--checkpoint-freq", "0",
                   "--log-dir", str(tmp_path / "runs"), "--no-progress-bar"])  # fmt: skip
    assert status == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "model.zip").is_file()


def test_sigterm_stops_the_study_and_keeps_finished_trials(tmp_path: Path) -> None:
    out = tmp_path / "tune"
    stopped = _start_and_signal(out, signal.SIGTERM)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
    assert "interrupted by SIGTERM" in stopped.stderr
    assert "to continue, run the same command" in stopped.stderr
    assert len([t for t in _study(out).trials if t.state.name == "COMPLETE"]) >= 1


def test_ray_backend_runs_two_trials_on_a_local_instance(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "tune"
    done = subprocess.run(
        _command(out, 2, "--backend", "ray", "--cpus-per-trial", "1"), cwd=tmp_path,
        env=_env(), text=True, capture_output=True, timeout=PATIENCE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trials = _study(out).trials
    assert sorted(t.number for t in trials if t.state.name in ("COMPLETE", "PRUNED")) == [0, 1]
    assert trials[0].params != trials[1].params  # tasks that start together draw apart
    assert {p.name for p in (out / "runs").iterdir()} == {"trial-0", "trial-1"}
    assert (out / "ppo.yml").is_file()
