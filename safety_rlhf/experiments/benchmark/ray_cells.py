"""Benchmark cells as Ray tasks (``safety-rlhf benchmark --backend ray``).

Each pending cell is one Ray task requesting ``--cpus-per-run`` CPUs. The task trains the
cell into a temporary folder on whichever node runs it and **returns the cell's files to
the driver** (run folder: TensorBoard events, model, config, metrics; and the cell's
``done.json`` record or ``error.txt``); the driver writes them under ``OUT/runs/<cell>/``.
So no file system needs to be shared between nodes for the results (the run's
``config.yaml`` names the worker's temporary folder as its ``log_dir``; ``train --resume``
and ``evaluate`` use the folder the run is in), and a cell's folder
on the driver is written only by the driver, the run folder first (into a temporary name,
then renamed) and ``done.json`` last, exactly as the local backend leaves it. What the
workers must see is the package (installed at the driver's version) and any file a
cell's settings name (``--config`` YAMLs, prompt files, reward-model checkpoints): the
same absolute path on every node; a local Ray instance's workers share the driver's
folder and working directory.

A cell is deterministic given its settings (its seed, and ``torch_threads`` threads, 1 by
default, whichever backend runs it), so the Ray backend writes the same ``results.csv``
values and the same tables as the local one.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safety_rlhf.data.atomic_files import atomic_write_bytes
from safety_rlhf.experiments.benchmark.cell_run import remove_unfinished_runs, run_cell, run_prefix
from safety_rlhf.experiments.benchmark.grid import DONE_FILE, ERROR_FILE, Cell
from safety_rlhf.experiments.ray_backend import ray_session, run_ray_tasks

__all__ = ["pack_folder", "run_cells_on_ray", "unpack_folder"]

#: The most bytes a worker may return for one cell (a run folder is a few MB).
MAX_CELL_BYTES = 2**30


def pack_folder(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` as ``{relative POSIX path: content}`` (links and
    other special files are left out)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


def _checked_parts(relative: str) -> tuple[str, ...]:
    parts = tuple(relative.split("/"))
    if not relative or relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"a worker returned the unsafe file path {relative!r}")
    return parts


def unpack_folder(files: dict[str, bytes], dest: Path) -> None:
    """Write :func:`pack_folder`'s ``files`` into ``dest``, which must not exist: into a
    temporary sibling first, renamed to ``dest`` once complete.

    :raises ValueError: for a path that is absolute or climbs out (``..``), or more than
        :data:`MAX_CELL_BYTES` in all.
    """
    if sum(len(data) for data in files.values()) > MAX_CELL_BYTES:
        raise ValueError(f"a worker returned more than {MAX_CELL_BYTES:,} bytes for {dest.name}")
    parts = {name: _checked_parts(name) for name in files}
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        for name, data in files.items():
            target = tmp.joinpath(*parts[name])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's folder is private (0700); a run folder is not
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _run_cell_on_worker(
    cell: Cell, record_extra: dict[str, Any], argv: list[str]
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The Ray task: train ``cell`` in a temporary folder, return its record and files."""
    with tempfile.TemporaryDirectory(prefix="safety-rlhf-cell-") as tmp:
        cell_dir = Path(tmp) / cell.name
        train = dataclasses.replace(cell.train, log_dir=str(cell_dir))
        record = run_cell(dataclasses.replace(cell, train=train), record_extra, argv)
        return record, pack_folder(cell_dir)


def _store(cell: Cell, record: dict[str, Any], files: dict[str, bytes]) -> None:
    """Write a finished cell's files into its folder, as :func:`run_cell` leaves it locally:
    the run folders of earlier unfinished attempts removed, the new run folder, then
    ``done.json`` (or ``error.txt`` for a failed cell)."""
    cell_dir = Path(cell.train.log_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    remove_unfinished_runs(cell_dir, run_prefix(cell))
    marker = ERROR_FILE if "error" in record else DONE_FILE
    run = record.get("run")
    if isinstance(run, str) and run:
        prefix = f"{run}/"
        run_files = {k.removeprefix(prefix): v for k, v in files.items() if k.startswith(prefix)}
        _checked_parts(run)
        if (cell_dir / run).exists():  # a folder of the same second: not ours to replace
            raise ValueError(f"{cell_dir / run} exists already")
        unpack_folder(run_files, cell_dir / run)
    if marker in files:
        atomic_write_bytes(cell_dir / marker, files[marker])
    if marker == DONE_FILE:
        (cell_dir / ERROR_FILE).unlink(missing_ok=True)


def run_cells_on_ray(
    pending: list[tuple[Cell, dict[str, Any]]],
    argv: list[str],
    report: Callable[[str, dict[str, Any]], None],
    address: str | None,
    cpus_per_run: float,
    num_cpus: int | None,
) -> None:
    """Run the pending cells as Ray tasks (see the module docstring) and ``report`` each.

    :param pending: (cell, record extra) pairs, as the local backend gets them.
    :param address: the cluster to join; ``None`` starts a local Ray instance with
        ``num_cpus`` CPUs.
    :param cpus_per_run: the CPUs each cell requests.
    """
    with ray_session(address, num_cpus) as ray:

        def on_result(i: int, value: tuple[dict[str, Any], dict[str, bytes]]) -> None:
            cell = pending[i][0]
            record, files = value
            try:
                _store(cell, record, files)
            except (OSError, ValueError) as exc:
                record = {"cell": cell.name, "error": f"{type(exc).__name__}: {exc}"}
            report(cell.name, record)

        def on_error(i: int, exc: BaseException) -> None:
            cell = pending[i][0]
            report(cell.name, {"cell": cell.name, "error": f"{type(exc).__name__}: {exc}"})

        calls = [(cell, extra, argv) for cell, extra in pending]
        run_ray_tasks(ray, _run_cell_on_worker, calls, cpus_per_run, on_result, on_error)
