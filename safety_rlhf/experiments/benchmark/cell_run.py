"""One benchmark cell: training it into its folder, and the folder's ``done.json`` record.

Both backends run a cell with :func:`run_cell`: the local one in a worker process, the Ray
one on a worker node (:mod:`~safety_rlhf.experiments.benchmark.ray_cells`).
"""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path
from typing import Any

from safety_rlhf.data.atomic_files import atomic_write_text, write_json
from safety_rlhf.data.readers import read_json
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.benchmark.grid import DONE_FILE, ERROR_FILE, Cell

__all__ = ["load_done", "remove_unfinished_runs", "run_cell", "run_prefix"]


def run_prefix(cell: Cell) -> str:
    """The start of the cell's run folder names (``make_run_dir``'s
    ``<env>__<algo>__<seed>__<time>``)."""
    tcfg = cell.train
    return f"{tcfg.env.split(':', 1)[-1]}__{tcfg.algo}__{tcfg.seed}__"


def remove_unfinished_runs(cell_dir: Path, prefix: str) -> None:
    """Delete the run folders (``<prefix>*``) an interrupted or failed attempt left in a
    cell's folder, but the one its ``done.json`` names (kept until a new result replaces it)."""
    record = load_done(cell_dir)  # readable: run_benchmark read it before
    kept = record.get("run") if record else None
    for path in cell_dir.glob(f"{prefix}*"):
        if path.is_dir() and path.name != kept:
            shutil.rmtree(path)


def run_cell(cell: Cell, record_extra: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    """Train one cell and write its ``done.json``; a failure is returned, not raised.

    :param cell: the cell.
    :param record_extra: stored in the record as is (the key and the commit).
    :param argv: the benchmark's command line, recorded in the run's ``command.txt``.
    :return: the cell record (what ``done.json`` holds), or ``{"cell": name, "error": ...}``.
    """
    tcfg = cell.train
    cell_dir = Path(tcfg.log_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    remove_unfinished_runs(cell_dir, run_prefix(cell))
    try:
        run, _ = train_module.resolve(tcfg)
        result = train_module.train(tcfg, argv=argv)
    except Exception as exc:
        atomic_write_text(cell_dir / ERROR_FILE, traceback.format_exc())
        return {"cell": cell.name, "error": f"{type(exc).__name__}: {exc}"}
    run_dir = Path(result.run_dir)
    record = {
        "cell": cell.name,
        "algo": tcfg.algo,
        "kl_coef": tcfg.kl_coef,
        "cost_limit": cell.cost_limit,
        "cost_model": cell.cost_model,
        "seed": tcfg.seed,
        "timesteps": int(run["n_timesteps"]),
        "seconds": float(result.seconds),
        "run": run_dir.name if run_dir.parent == cell_dir else str(run_dir),
        **record_extra,
        "metrics": result.metrics,
    }
    (cell_dir / ERROR_FILE).unlink(missing_ok=True)
    write_json(cell_dir / DONE_FILE, record)
    return record


def load_done(cell_dir: Path) -> dict[str, Any] | None:
    """The cell's ``done.json`` record, ``None`` if it has none.

    :raises ValueError: for an unreadable record, naming the file.
    """
    path = cell_dir / DONE_FILE
    if not path.is_file():
        return None
    try:
        record = read_json(path, ValueError)
    except ValueError as exc:
        raise ValueError(f"{exc}; delete it to re-run the cell") from exc
    if not isinstance(record, dict):
        raise ValueError(f"{path}: expected a JSON object; delete it to re-run the cell")
    return record
