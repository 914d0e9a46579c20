"""SIGINT and SIGTERM: nothing is left running, nothing trained is lost, one line says how
to continue (issue 11, section 3)."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from stable_baselines3 import PPO

from safety_rlhf.agents.checkpoints import read_checkpoint
from safety_rlhf.agents.interrupts import Interrupted, StopOnSignal
from safety_rlhf.agents.safe_load import load_model
from safety_rlhf.experiments.benchmark import runner
from safety_rlhf.experiments.cli import main

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")

CLI = "import sys; from safety_rlhf.experiments.cli import main; sys.exit(main(sys.argv[1:]))"


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids of every live process, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _run(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *argv], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def _table(out: Path) -> list[dict[str, str]]:
    """``results.csv`` without the columns that differ between identical runs."""
    rows = csv.DictReader(io.StringIO((out / "results.csv").read_text()))
    return [{k: v for k, v in r.items() if k not in ("seconds", "commit")} for r in rows]


def _benchmark(out: Path) -> list[str]:
    return ["benchmark", "--algos", "ppo", "--seeds", "2", "--timesteps", "2048",
            "--hyperparams", "n_steps:32", "batch_size:32", "--reward-model", "rule",
            "--jobs", "2", "--reps", "20", "--out", str(out)]  # fmt: skip


@pytest.mark.slow
def test_sigterm_stops_every_benchmark_worker_and_a_rerun_gives_the_same_table(
    tmp_path: Path,
) -> None:
    out, log = tmp_path / "interrupted", tmp_path / "stderr.txt"
    with log.open("w") as stderr:  # a file: surviving workers would hold a pipe open
        proc = subprocess.Popen([sys.executable, "-c", CLI, *_benchmark(out)],
                                stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= _descendants(proc.pid)
            if list(out.glob("runs/*/SafetyRLHF-v0__*/tb*")):  # a cell is training
                break
            time.sleep(0.05)
        seen |= _descendants(proc.pid)
        assert proc.poll() is None, "the benchmark ended before it could be interrupted"
        assert len(seen) >= 2, seen  # the two workers at least
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 2  # for init to reap the killed grandchildren
        while time.monotonic() < deadline and any(_alive(p) for p in seen):
            time.sleep(0.1)
        assert not [p for p in seen if _alive(p)], "processes of the benchmark survived it"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in seen:  # what this test started, if the assertion failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    err = log.read_text()
    assert proc.returncode == 128 + signal.SIGTERM
    (line,) = err.splitlines()
    assert line.startswith("safety-rlhf benchmark: interrupted by SIGTERM: ")
    assert "of 2 cell(s) finished" in line and line.endswith(" ".join(_benchmark(out)))
    finished = list(out.glob("runs/*/done.json"))
    assert len(finished) < 2 and not (out / "results.csv").exists()

    rerun = _run(_benchmark(out))
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    for cell in out.glob("runs/*"):  # the interrupted attempt's run folder is gone
        (run,) = cell.glob("SafetyRLHF-v0__*")
        assert json.loads((cell / "done.json").read_text())["run"] == run.name
    whole = _run(_benchmark(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert _table(out) == _table(tmp_path / "whole") and len(_table(out)) == 2


#: PPO with 2 envs x 64 steps a rollout: 100 rollouts of 128 steps, 4 epochs each.
TOTAL, ROLLOUT, EPOCHS = 12800, 128, 4


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_train_saves_a_checkpoint_and_names_the_resume_command(
    tmp_path: Path, signum: int
) -> None:
    argv = ["train", "--reward-model", "rule", "--timesteps", str(TOTAL), "--n-envs", "2",
            "--hyperparams", "n_steps:64", "batch_size:64", f"n_epochs:{EPOCHS}",
            "--log-dir", str(tmp_path), "--no-progress-bar"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", CLI, *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.stat().st_size > 0 for p in tmp_path.glob("*/tb_1/events*")):
                break  # learning, and past its first log dump
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err[-2000:]
    (run_dir,) = tmp_path.iterdir()
    (line,) = err.splitlines()
    name = signal.Signals(signum).name
    assert line.startswith(f"safety-rlhf train: interrupted by {name}: checkpoint saved at step ")
    assert line.endswith(f"continue with: safety-rlhf train --resume {run_dir}")
    assert not (run_dir / "model.zip").exists()
    state = read_checkpoint(run_dir)
    assert 0 < state["num_timesteps"] < TOTAL and state["num_timesteps"] % ROLLOUT == 0
    assert f"at step {state['num_timesteps']};" in line
    model = load_model(PPO, state["model"], device="cpu")
    assert model.num_timesteps == state["num_timesteps"]
    # saved at a rollout boundary: every counted rollout has had its epochs
    assert model._n_updates == EPOCHS * state["num_timesteps"] // ROLLOUT

    assert main(["train", "--resume", str(run_dir), "--no-progress-bar"]) == 0
    final = load_model(PPO, run_dir / "model.zip", device="cpu")
    assert final.num_timesteps == TOTAL and final._n_updates == EPOCHS * TOTAL // ROLLOUT
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["gold_success"] is not None


def _start_grandchild(pid_file: str) -> None:
    """A benchmark worker's task that starts a child (as a ``SubprocVecEnv`` does) and waits."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    Path(pid_file).write_text(str(child.pid))
    child.wait()


def test_stopping_the_workers_ends_their_children_too(tmp_path: Path) -> None:
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=runner._init_worker)  # fmt: skip
    pid_file = tmp_path / "grandchild.pid"
    executor.submit(_start_grandchild, str(pid_file))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not pid_file.is_file():
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    workers = [p.pid for p in multiprocessing.active_children()]
    try:
        assert _alive(grandchild)
        runner._stop_workers(executor)
        deadline = time.monotonic() + 2  # for init to reap it
        while time.monotonic() < deadline and _alive(grandchild):
            time.sleep(0.05)
        assert not _alive(grandchild), "a worker's child survived"
        assert workers and not [p for p in workers if _alive(p)]
    finally:
        if _alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_the_first_signal_is_held_and_a_second_raises_at_once(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stop = StopOnSignal(tmp_path / "checkpoint")
    stop.arm()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # a handler that raised would have raised by now
        assert stop.signum == signal.SIGTERM
        with pytest.raises(Interrupted) as raised:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert raised.value.signum == signal.SIGINT and raised.value.exit_status == 130
        assert raised.value.checkpoint is None and not (tmp_path / "checkpoint").exists()
    finally:
        stop.disarm()
    assert {s: signal.getsignal(s) for s in before} == before


def test_ctrl_c_at_the_terminal_stops_a_subproc_env_run_with_one_line(tmp_path: Path) -> None:
    """A Ctrl-C at the terminal signals the whole foreground process group, env workers too."""
    argv = ["train", "--reward-model", "rule", "--timesteps", str(TOTAL), "--n-envs", "2",
            "--vec-env", "subproc", "--hyperparams", "n_steps:64", "batch_size:64",
            "--log-dir", str(tmp_path), "--no-progress-bar"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", CLI, *argv], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.stat().st_size > 0 for p in tmp_path.glob("*/tb_1/events*")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-2000:]
    (run_dir,) = tmp_path.iterdir()
    (line,) = err.splitlines()
    assert line.endswith(f"continue with: safety-rlhf train --resume {run_dir}")
    assert read_checkpoint(run_dir)["num_timesteps"] > 0


SIGNAL_IN_TRAIN = """
import os, signal, sys, time
from safety_rlhf.experiments import train
from safety_rlhf.experiments.cli import main

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)

train.train = killed
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_during_any_command_is_one_line(tmp_path: Path) -> None:
    argv = ["reproduce", "behavior-controlled", "--epochs", "1", "--timesteps", "64",
            "--toy-timesteps", "64", "--log-dir", str(tmp_path)]  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", SIGNAL_IN_TRAIN, *argv], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 143, proc.stderr[-2000:]
    assert proc.stderr.splitlines() == ["safety-rlhf reproduce: interrupted by SIGTERM"]
