"""``safety-rlhf benchmark --backend ray`` (issue 14, section 1): the same results as the
local backend, cells' files returned to the driver, bad input refused before anything
runs, a signal stopping every Ray process."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from test_signals import _alive, _descendants

from safety_rlhf.experiments import benchmark as bm
from safety_rlhf.experiments import ray_backend
from safety_rlhf.experiments.benchmark import ray_cells
from safety_rlhf.experiments.cli import main

CLI = "import sys; from safety_rlhf.experiments.cli import main; sys.exit(main(sys.argv[1:]))"


# ---------------------------------------------------------------- files back to the driver


def test_packed_folder_unpacks_to_the_same_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "tb_1").mkdir(parents=True)
    (src / "model.zip").write_bytes(b"\x00\x01zip")
    (src / "tb_1" / "events.out").write_bytes(b"events")
    (src / "link").symlink_to(src / "model.zip")
    files = ray_cells.pack_folder(src)
    assert files == {"model.zip": b"\x00\x01zip", "tb_1/events.out": b"events"}  # no link
    dest = tmp_path / "out" / "run"
    dest.parent.mkdir()
    ray_cells.unpack_folder(files, dest)
    assert ray_cells.pack_folder(dest) == files
    assert stat.S_IMODE(dest.stat().st_mode) & 0o055 == 0o055 & ~_umask()  # not private
    assert sorted(p.name for p in dest.parent.iterdir()) == ["run"]  # no temporary left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("bad", ["../escape", "/etc/passwd", "a/../../b", "", "a//b", "./a"])
def test_unsafe_paths_from_a_worker_are_refused_and_nothing_is_left(
    tmp_path: Path, bad: str
) -> None:
    with pytest.raises(ValueError, match="unsafe file path"):
        ray_cells.unpack_folder({"ok.txt": b"1", bad: b"2"}, tmp_path / "run")
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent / "escape").exists()


def _cell(tmp_path: Path) -> bm.Cell:
    (cell,) = bm.grid_cells(bm.BenchmarkConfig(algos=["ppo"], seeds=1, out=str(tmp_path)))
    return cell


def test_a_finished_cell_is_stored_run_folder_first_and_done_json_last(tmp_path: Path) -> None:
    cell = _cell(tmp_path)
    cell_dir = Path(cell.train.log_dir)
    stale = cell_dir / "SafetyRLHF-v0__ppo__0__20260101-000000"  # an interrupted attempt
    stale.mkdir(parents=True)
    (cell_dir / "error.txt").write_text("an earlier failure")
    run = "SafetyRLHF-v0__ppo__0__20261130-120000"
    record = {"cell": cell.name, "run": run, "metrics": {}}
    files = {f"{run}/model.zip": b"m", f"{run}/tb_1/ev": b"e", "done.json": b'{"run": 1}'}
    ray_cells._store(cell, record, files)
    assert sorted(p.name for p in cell_dir.iterdir()) == sorted(["done.json", run])
    assert (cell_dir / run / "tb_1" / "ev").read_bytes() == b"e"
    assert (cell_dir / "done.json").read_bytes() == b'{"run": 1}'


def test_a_failed_cell_is_stored_as_its_error_only(tmp_path: Path) -> None:
    cell = _cell(tmp_path)
    ray_cells._store(cell, {"cell": cell.name, "error": "E: x"}, {"error.txt": b"Traceback"})
    cell_dir = Path(cell.train.log_dir)
    assert [p.name for p in cell_dir.iterdir()] == ["error.txt"]


# ---------------------------------------------------------------- the task loop


class FakeRay:
    """What :func:`ray_backend.run_ray_tasks` uses of Ray, run eagerly in this process."""

    def __init__(self) -> None:
        self.cancelled: list[tuple[int, bool]] = []
        self.requests: list[float] = []

    def remote(self, num_cpus: float, max_retries: int) -> Any:
        self.requests.append(num_cpus)

        def wrap(func: Any) -> Any:
            class Remote:
                @staticmethod
                def remote(*args: Any) -> tuple[int, Any]:
                    try:
                        return (int(args[0]), ("ok", func(*args)))
                    except Exception as exc:
                        return (int(args[0]), ("err", exc))

            return Remote

        return wrap

    def wait(self, refs: list[Any], num_returns: int) -> tuple[list[Any], list[Any]]:
        return refs[:1], refs[1:]

    def get(self, ref: tuple[int, Any]) -> Any:
        kind, value = ref[1]
        if kind == "err":
            raise value
        return value

    def cancel(self, ref: tuple[int, Any], force: bool) -> None:
        self.cancelled.append((ref[0], force))


def _task(i: int) -> int:
    if i == 1:
        raise RuntimeError("cell 1 failed")
    return 10 * i


def test_a_failing_task_is_reported_and_the_others_go_on() -> None:
    fake, results, errors = FakeRay(), {}, {}
    ray_backend.run_ray_tasks(
        fake, _task, [(0,), (1,), (2,)], 1.5, results.__setitem__, errors.__setitem__
    )
    assert results == {0: 0, 2: 20} and list(errors) == [1] and fake.requests == [1.5]
    assert str(errors[1]) == "cell 1 failed" and fake.cancelled == []


def test_an_exception_on_the_driver_cancels_every_unfinished_task_by_force() -> None:
    fake = FakeRay()

    def on_result(i: int, value: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ray_backend.run_ray_tasks(fake, _task, [(0,), (2,), (3,)], 1, on_result, lambda i, e: None)
    assert fake.cancelled == [(2, True), (3, True)]


# ---------------------------------------------------------------- bad input


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _argv(out: Path, *flags: str) -> list[str]:
    return ["benchmark", "--algos", "ppo", "--seeds", "1", "--timesteps", "64",
            "--reward-model", "rule", "--out", str(out), *flags]  # fmt: skip


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--backend", "ray", "--address", "127.0.0.1:{port}"], "no Ray cluster reachable there"),
        (["--backend", "ray", "--address", "nohostport"], "expected HOST:PORT"),
        (["--backend", "ray", "--address", "[127.0.0.1:1"], "expected HOST:PORT"),
        (["--backend", "ray", "--address", "::1:6379"], "expected HOST:PORT"),
        (["--backend", "ray", "--address", "host:99999"], "expected HOST:PORT"),
        (
            ["--backend", "ray", "--jobs", "1", "--cpus-per-run", "2"],
            "the local Ray instance has 1 CPU(s)",
        ),
        (["--address", "127.0.0.1:6379"], "--address and --cpus-per-run need --backend ray"),
        (["--cpus-per-run", "2"], "--address and --cpus-per-run need --backend ray"),
    ],
)
def test_bad_ray_settings_are_one_line_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str], message: str
) -> None:
    flags = [f.format(port=_closed_port()) for f in flags]
    out = tmp_path / "out"
    assert main(_argv(out, *flags)) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("safety-rlhf benchmark: error: ") and message in line, line
    assert not out.exists()


@pytest.mark.slow
def test_an_address_where_no_ray_answers_is_refused_within_the_join_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    monkeypatch.setattr(ray_backend, "JOIN_TIMEOUT", 10.0)  # ray.init alone would wait for ever
    with socket.socket() as listener:  # something listens, but speaks no Ray
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        out = tmp_path / "out"
        assert main(_argv(out, "--backend", "ray", "--address", f"127.0.0.1:{port}")) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(f"127.0.0.1:{port}: no Ray cluster answered there within 10 s"), line
    assert not out.exists()


def test_without_ray_the_error_names_the_pip_command(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    out = tmp_path / "out"
    assert main(_argv(out, "--backend", "ray")) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith('pip install "safety-rlhf-gym[ray]"') and not out.exists()


def test_cpus_per_run_must_be_a_positive_number(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(_argv(Path("unused"), "--backend", "ray", "--cpus-per-run", "0"))
    assert exit_info.value.code == 2
    assert "expected a number > 0" in capsys.readouterr().err


# ---------------------------------------------------------------- real Ray


def _table(out: Path) -> list[dict[str, str]]:
    """``results.csv`` without the columns that differ between identical runs."""
    rows = csv.DictReader(io.StringIO((out / "results.csv").read_text()))
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def _grid(out: Path, backend: str) -> bm.BenchmarkConfig:
    return bm.BenchmarkConfig(algos=["ppo", "a2c"], seeds=2, timesteps=512, eval_freq=128,
                              reward_model="rule", jobs=2, reps=200, out=str(out),
                              backend=backend)  # fmt: skip


@pytest.mark.slow
def test_ray_backend_gives_the_local_backends_results_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    # without --address a new local instance starts, whatever RAY_ADDRESS names
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    local = bm.run_benchmark(_grid(tmp_path / "local", "local"), argv=["b"], log=lambda _: None)
    on_ray = bm.run_benchmark(_grid(tmp_path / "ray", "ray"), argv=["b"], log=lambda _: None)
    assert not local.failures and not on_ray.failures and len(on_ray.cells) == 4
    assert local.aggregate is not None and on_ray.aggregate is not None
    assert bm.iqm_table(on_ray.aggregate) == bm.iqm_table(local.aggregate)
    assert (
        _table(tmp_path / "ray") == _table(tmp_path / "local")
        and len(_table(tmp_path / "ray")) == 4
    )
    for record in on_ray.cells:  # the run folders landed under --out, on the driver
        cell = tmp_path / "ray" / "runs" / record["cell"]
        assert json.loads((cell / "done.json").read_text()) == record
        run = cell / record["run"]
        assert (run / "model.zip").is_file() and list(run.glob("tb*/events.out.tfevents.*"))
        _, values = bm.read_curves(run)["safety/test/gold_success"]
        assert values[-1] == pytest.approx(record["metrics"]["test"]["gold_success"])

    log: list[str] = []
    again = bm.run_benchmark(_grid(tmp_path / "ray", "ray"), argv=["b"], log=log.append)
    assert sum("already done" in line for line in log) == 4 and len(again.cells) == 4


def _processes_mentioning(*texts: str) -> set[int]:
    """Pids of the processes whose command line holds one of ``texts``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if any(text.encode() in cmd for text in texts):
                found.add(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
def test_sigint_stops_every_ray_process_and_keeps_finished_cells(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out, log = tmp_path / "out", tmp_path / "stderr.txt"

    def argv(seeds: int) -> list[str]:
        return ["benchmark", "--algos", "a2c", "--seeds", str(seeds), "--timesteps", "8000",
                "--reward-model", "rule", "--reps", "20", "--out", str(out), "--backend", "ray",
                "--jobs", "1"]  # fmt: skip

    first = subprocess.run([sys.executable, "-c", CLI, *argv(1)], capture_output=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    done = out / "runs" / "a2c__kl0__seed0" / "done.json"
    record = done.read_bytes()
    with log.open("w") as stderr:  # a file: surviving processes would hold a pipe open
        proc = subprocess.Popen([sys.executable, "-c", CLI, *argv(3)],
                                stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip
    seen: set[int] = set()  # the command's processes: Ray's GCS, raylet and workers among them
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= _descendants(proc.pid)
            if seen & _processes_mentioning("default_worker.py"):  # a worker has started
                break
            time.sleep(0.2)
        time.sleep(3)  # its task is training
        seen |= _descendants(proc.pid)
        assert proc.poll() is None, "the benchmark ended before it could be interrupted"
        assert seen & _processes_mentioning("raylet") and seen & _processes_mentioning("gcs_server")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in seen):
        time.sleep(0.2)
    assert not [p for p in seen if _alive(p)], "processes of the benchmark survived it"
    assert proc.returncode == 128 + signal.SIGINT
    (line,) = [x for x in log.read_text().splitlines() if x.startswith("safety-rlhf")]
    assert line.startswith("safety-rlhf benchmark: interrupted by SIGINT: ")
    assert "of 3 cell(s) finished" in line and done.read_bytes() == record


@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
def test_joins_a_cluster_started_with_ray_start_on_loopback(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # Ray's socket paths must be short
    home = tmp_path / "home"  # the cluster's token goes to $HOME/.ray: not the user's
    home.mkdir()
    port = _closed_port()
    env = {**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "token"}
    ray_cli = str(Path(sys.executable).parent / "ray")
    try:  # a cluster with token authentication, as the README's "Scaling out" starts one
        subprocess.run([ray_cli, "get-auth-token", "--generate"], env=env, check=True,
                       capture_output=True, timeout=60)  # fmt: skip
        subprocess.run([ray_cli, "start", "--head", "--node-ip-address=127.0.0.1",
                        f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                        "--disable-usage-stats", f"--temp-dir={temp}"],
                       env=env, check=True, capture_output=True, timeout=120)  # fmt: skip
        argv = [*_argv(tmp_path / "out", "--backend", "ray", "--address", f"127.0.0.1:{port}")]
        argv[argv.index("64")] = "256"
        run = [sys.executable, "-c", CLI, *argv]
        without_token = {k: v for k, v in env.items() if k != "RAY_AUTH_MODE"}
        refused = subprocess.run(run, env=without_token, capture_output=True, text=True,
                                 timeout=300)  # fmt: skip
        (line,) = [x for x in refused.stderr.splitlines() if x.startswith("safety-rlhf")]
        assert refused.returncode == 2 and "uses token authentication" in line, line
        joined = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
        assert joined.returncode == 0, joined.stderr[-2000:]
        assert "on the Ray cluster at 127.0.0.1:" in joined.stdout
        (record,) = [json.loads(p.read_text()) for p in tmp_path.glob("out/runs/*/done.json")]
        assert record["timesteps"] == 256
        local = [a if a != str(tmp_path / "out") else str(tmp_path / "local") for a in argv[:-4]]
        here = subprocess.run([sys.executable, "-c", CLI, *local], capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert here.returncode == 0, here.stderr[-2000:]
        assert _table(tmp_path / "out") == _table(tmp_path / "local") != []
    finally:
        for pid in _processes_mentioning(str(temp)):  # this cluster's processes only
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
