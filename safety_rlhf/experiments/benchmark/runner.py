"""Running a benchmark: the cells in parallel processes, reuse of finished ones, results.

See :mod:`safety_rlhf.experiments.benchmark.grid` for what a cell is and when a finished
one is reused.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from safety_rlhf.agents.interrupts import Interrupted
from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.data.output_paths import MARKER, check_output_dir
from safety_rlhf.experiments.benchmark.cell_run import load_done, run_cell
from safety_rlhf.experiments.benchmark.grid import (
    BenchmarkConfig,
    Cell,
    cell_key,
    differences,
    grid_cells,
    software,
    validate,
)
from safety_rlhf.experiments.benchmark.ray_cells import run_cells_on_ray
from safety_rlhf.experiments.benchmark.report import write_outputs
from safety_rlhf.experiments.benchmark.statistics import AGGREGATE_METRICS, Aggregate, aggregate
from safety_rlhf.experiments.ray_backend import cpu_count
from safety_rlhf.experiments.run_files import code_provenance

__all__ = ["BenchmarkInterrupted", "BenchmarkResult", "run_benchmark"]


class BenchmarkInterrupted(Interrupted):
    """SIGINT or SIGTERM stopped a benchmark; its workers are gone, its finished cells kept.

    :param signum: the signal.
    :param finished: cells finished (this run's and earlier runs').
    :param total: cells of the grid.
    """

    def __init__(self, signum: int, finished: int, total: int) -> None:
        super().__init__(signum)
        self.finished, self.total = finished, total


def _init_worker() -> None:
    """Worker initialiser: one torch thread per process (the processes are the parallelism),
    and a process group of its own, which its children (``SubprocVecEnv`` workers, a
    forkserver) join, so that :func:`_stop_workers` ends them all, and a Ctrl-C at the
    terminal reaches only the benchmark's own process, which decides."""
    torch.set_num_threads(1)
    if hasattr(os, "setpgid"):
        os.setpgid(0, 0)


def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """Cancel the cells not started and kill every worker with its process group."""
    executor.shutdown(wait=False, cancel_futures=True)
    for process in multiprocessing.active_children():
        if process.pid is None:
            continue
        try:  # a worker leads its own group (_init_worker), unless it has not got there yet
            if hasattr(os, "killpg") and os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        except ProcessLookupError:
            pass
    for process in multiprocessing.active_children():
        process.join(timeout=10)


def _summary_line(record: Mapping[str, Any]) -> str:
    test = record["metrics"]["test"]
    parts = []
    for m in AGGREGATE_METRICS:
        value = test.get(m)
        parts.append(f"{m} {'n/a' if value is None else f'{value:.3f}'}")
    return ", ".join(parts)


@dataclass
class BenchmarkResult:
    """What a benchmark produced."""

    out: Path
    """The output folder."""
    cells: list[dict[str, Any]]
    """The records of the finished cells (``done.json`` contents), in grid order."""
    failures: dict[str, str]
    """Failed cell name -> error message."""
    aggregate: Aggregate | None
    """The statistics (``None`` when no cell finished)."""
    seconds: float
    """Wall time of this invocation."""


#: What a benchmark folder holds: an earlier benchmark's folder (also from versions before
#: the marker file) may be continued.
BENCHMARK_ENTRIES = frozenset(
    {"runs", "results.md", "results.csv", "curves.png", "intervals.png", "profiles.png", MARKER}
)


def _check_out(out: Path) -> Path:
    """``--out`` follows the output rule (:mod:`safety_rlhf.data.output_paths`): a new or
    empty folder, or an earlier benchmark's; never a link, a file, or inside the package.
    It is marked as a benchmark folder once its cells are checked, before any runs."""
    ours = out.is_dir() and not out.is_symlink() and set(os.listdir(out)) <= BENCHMARK_ENTRIES
    return check_output_dir(out, "benchmark", overwrite=ours)


def _run_parallel(
    pending: list[tuple[Cell, dict[str, Any]]],
    workers: int,
    argv: list[str],
    report: Callable[[str, dict[str, Any]], None],
) -> None:
    """Run the pending cells in ``workers`` processes; on any exception (SIGINT and SIGTERM
    included) every worker and its children are killed before it propagates."""
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )
    try:
        futures: dict[Future[dict[str, Any]], str] = {
            executor.submit(run_cell, cell, record_extra, argv): cell.name
            for cell, record_extra in pending
        }
        for future in as_completed(futures):
            name = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # a worker died (BrokenProcessPool) or pickling
                record = {"cell": name, "error": f"{type(exc).__name__}: {exc}"}
            report(name, record)
    except BaseException:
        _stop_workers(executor)
        raise
    executor.shutdown()


def run_benchmark(
    cfg: BenchmarkConfig,
    argv: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> BenchmarkResult:
    """Run every grid cell that is not finished with the same key, then aggregate and
    write the result files.

    :param cfg: the benchmark.
    :param argv: the command line (without the program name) recorded in ``results.md``
        and in every run's ``command.txt``; ``None``: ``sys.argv[1:]``.
    :param log: where the progress lines go.
    :raises ValueError: for an unknown algorithm, a bad setting, or a finished cell in
        ``OUT`` made with other settings of the command (another benchmark's cell), all
        checked, with every cell's hyperparameters resolved, before anything runs. A
        finished cell of the same settings whose result would differ now (other YAML
        values, other code or library versions) is run again.
    """
    start = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    validate(cfg)
    out = _check_out(Path(cfg.out))
    cells = grid_cells(cfg)
    code = software()
    extra = {"commit": code_provenance()}

    done: dict[str, dict[str, Any]] = {}
    pending: list[tuple[Cell, dict[str, Any]]] = []
    reruns: list[str] = []
    foreign: dict[str, list[str]] = {}
    for cell in cells:
        key = cell_key(cell.train, code)
        record = load_done(Path(cell.train.log_dir))
        if record is not None and record.get("key") == key:
            done[cell.name] = record
            continue
        if record is not None:
            old = record.get("key")
            if not isinstance(old, dict) or old.get("train") != key["train"]:
                # another benchmark's cell (other command settings): not ours to replace
                foreign[cell.name] = differences(old, key) if isinstance(old, dict) else []
                continue
            changed = differences(old, key)
            shown = ", ".join(changed[:4]) + (
                f" and {len(changed) - 4} more" if changed[4:] else ""
            )
            reruns.append(f"rerun {cell.name}: its result would differ now ({shown})")
        pending.append((cell, {**extra, "key": key}))
    if foreign:
        diffs = sorted({d for found in foreign.values() for d in found if d.startswith("train.")})
        what = f" ({', '.join(d.removeprefix('train.') for d in diffs)})" if diffs else ""
        raise ValueError(
            f"{out}: finished cell(s) {', '.join(foreign)} were made with other settings{what}; "
            "use another --out or delete them"
        )
    atomic_write_text(out / MARKER, json.dumps({"command": "benchmark"}) + "\n")
    for name, record in done.items():
        log(f"skip {name}: already done ({_summary_line(record)})")
    for line in reruns:
        log(line)

    failures: dict[str, str] = {}
    total, count = len(pending), 0

    def report(name: str, record: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        if "error" in record:
            failures[name] = record["error"]
            log(f"[{count}/{total}] {name}: FAILED: {record['error']}")
        else:
            done[name] = record
            log(f"[{count}/{total}] {name}: {record['seconds']:.0f} s, {_summary_line(record)}")

    jobs = cfg.jobs or cpu_count()
    if pending and cfg.backend == "ray":
        where = f"the Ray cluster at {cfg.address}" if cfg.address else "a local Ray instance"
        log(f"running {total} cell(s) on {where} into {out}/runs")
    elif pending:
        log(f"running {total} cell(s) with {min(jobs, total)} process(es) into {out}/runs")
    try:
        if pending and cfg.backend == "ray":
            cpus = cfg.jobs or cpu_count()
            run_cells_on_ray(pending, argv, report, cfg.address, cfg.cpus_per_run, cpus)
        elif pending and jobs <= 1:
            for cell, record_extra in pending:
                report(cell.name, run_cell(cell, record_extra, argv))
        elif pending:
            _run_parallel(pending, min(jobs, total), argv, report)
    except Interrupted as exc:
        raise BenchmarkInterrupted(exc.signum, len(done), len(cells)) from None

    records = [done[cell.name] for cell in cells if cell.name in done]
    agg = None
    if records:
        agg = aggregate(records, reps=cfg.reps)
        write_outputs(
            out, records, agg, command=shlex.join(["safety-rlhf", *argv]), failures=failures
        )
    return BenchmarkResult(
        out=out,
        cells=records,
        failures=failures,
        aggregate=agg,
        seconds=time.perf_counter() - start,
    )
