"""The benchmark's result files: ``results.csv``, ``results.md`` and the figures.

Every row and table says which code produced it: ``results.csv`` has the git commit of
each cell (``-dirty`` when the checkout had uncommitted changes; ``source:<digest>``
outside a git checkout) and ``results.md`` lists the commits with their cells.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.experiments.benchmark.plots import (
    _colors,
    plot_curves,
    plot_intervals,
    plot_profiles,
    read_curves,
)
from safety_rlhf.experiments.benchmark.statistics import (
    AGGREGATE_METRICS,
    Aggregate,
    GroupStats,
    cost_label,
    group_key,
)
from safety_rlhf.task.metrics import METRIC_NAMES

__all__ = ["iqm_table", "results_csv", "results_markdown", "write_outputs"]


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def results_csv(cells: Sequence[Mapping[str, Any]]) -> str:
    """The ``results.csv`` text: one row per cell, final test then train metrics.

    Columns: ``algo, kl_coef, seed, timesteps, seconds, cost_limit, cost_model, commit,
    test_<metric>..., train_<metric>...`` (every metric of :mod:`safety_rlhf.task.metrics`;
    empty where unavailable; ``cost_limit`` and ``cost_model`` empty for unconstrained
    cells).
    """
    header = ["algo", "kl_coef", "seed", "timesteps", "seconds", "cost_limit", "cost_model"]
    header += ["commit"]
    header += [f"test_{m}" for m in METRIC_NAMES] + [f"train_{m}" for m in METRIC_NAMES]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for r in cells:
        _, _, limit, model = group_key(r)
        row: list[Any] = [r["algo"], f"{float(r['kl_coef']):g}", r["seed"], r.get("timesteps")]
        row.append(f"{float(r.get('seconds', float('nan'))):.1f}")
        row += ["" if limit is None else f"{limit:g}", model or "", r.get("commit") or ""]
        for split in ("test", "train"):
            values = r["metrics"].get(split, {})
            row += ["" if values.get(m) is None else repr(float(values[m])) for m in METRIC_NAMES]
        writer.writerow(row)
    return buf.getvalue()


def _axes(agg: Aggregate) -> tuple[list[str], Any]:
    """The table's leading columns and a function giving a group's cells for them."""
    constrained = any(g.cost_limit is not None for g in agg.groups)
    names = ["algo", "kl_coef"] + (["cost"] if constrained else [])

    def cells(g: GroupStats) -> list[str]:
        out = [g.algo, f"{g.kl_coef:g}"]
        return out + ([cost_label(g.cost_limit, g.cost_model)] if constrained else [])

    return names, cells


def iqm_table(agg: Aggregate) -> str:
    """A Markdown table: one row per group, ``IQM [95% CI]`` of each aggregated metric
    (a ``cost`` column when any group has a cost limit)."""
    names, axes = _axes(agg)
    lines = [
        "| " + " | ".join(names) + " | seeds | " + " | ".join(AGGREGATE_METRICS) + " |",
        "|---" + "|---:" * (len(names) - 1) + "|---:|" + "---|" * len(AGGREGATE_METRICS),
    ]
    for g in agg.groups:
        cells = [
            f"{_fmt(s.iqm)} [{_fmt(s.ci_low)}, {_fmt(s.ci_high)}]"
            for s in (g.metrics[m] for m in AGGREGATE_METRICS)
        ]
        lead = " | ".join(axes(g))
        lines.append(f"| {lead} | {len(g.seeds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _commits(cells: Sequence[Mapping[str, Any]]) -> list[str]:
    by_commit: dict[str, list[str]] = {}
    for r in cells:
        by_commit.setdefault(
            str(r.get("commit") or "unknown (made before commits were recorded)"), []
        ).append(str(r["cell"]))
    return [f"- `{commit}`: {len(names)} cell(s)" for commit, names in by_commit.items()]


def results_markdown(
    agg: Aggregate,
    command: str,
    failures: Mapping[str, str] | None = None,
    cells: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The ``results.md`` text: IQM [95% CI] and mean ± std tables, the commits that
    produced the cells (when ``cells`` are given), and the command line."""
    names, axes = _axes(agg)
    lines = [
        "# Benchmark results",
        "",
        "Final greedy-policy metrics on the test split. Per group: the interquartile mean "
        "(IQM) over seeds with its 95% stratified-bootstrap confidence interval "
        f"(rliable, {agg.reps} resamples).",
        "",
        iqm_table(agg),
        "",
        "Mean ± standard deviation over seeds:",
        "",
        "| " + " | ".join(names) + " | " + " | ".join(AGGREGATE_METRICS) + " |",
        "|---" + "|---:" * (len(names) - 1) + "|" + "---|" * len(AGGREGATE_METRICS),
    ]
    for g in agg.groups:
        values = [
            f"{_fmt(s.mean)} ± {_fmt(s.std)}" for s in (g.metrics[m] for m in AGGREGATE_METRICS)
        ]
        lines.append("| " + " | ".join(axes(g)) + " | " + " | ".join(values) + " |")
    if failures:
        lines += ["", "Failed cells (not in the tables):", ""]
        lines += [f"- `{name}`: {error}" for name, error in failures.items()]
    if cells:
        lines += ["", "Code that produced the cells (git commit; per cell in `results.csv`):", ""]
        lines += _commits(cells)
    lines += [
        "",
        "Per-run rows: `results.csv`. Figures: `curves.png` (learning curves), "
        "`intervals.png` (IQM and CI), `profiles.png` (gold-success performance profiles).",
        "",
        "Command:",
        "",
        "```bash",
        command,
        "```",
        "",
    ]
    return "\n".join(lines)


def write_outputs(
    out: str | os.PathLike[str],
    cells: Sequence[Mapping[str, Any]],
    agg: Aggregate,
    command: str,
    failures: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write ``results.csv``, ``results.md`` and the three figures into ``out`` (atomically).

    Learning curves come from the TensorBoard events of each cell's run folder
    (``out/runs/<cell>/<record["run"]>``); a record without ``run`` has no curve.

    :return: the written paths.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        atomic_write_text(out / "results.csv", results_csv(cells)),
        atomic_write_text(out / "results.md", results_markdown(agg, command, failures, cells)),
    ]
    labels = [g.label for g in agg.groups]
    colors = _colors(labels)
    label_of = {(g.algo, g.kl_coef, g.cost_limit, g.cost_model): g.label for g in agg.groups}
    group_curves: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = {
        label: {} for label in labels
    }
    for record in cells:
        if not record.get("run"):
            continue
        run_dir = out / "runs" / str(record["cell"]) / str(record["run"])
        if not run_dir.is_dir():
            continue
        label = label_of[group_key(record)]
        for tag, curve in read_curves(run_dir).items():
            group_curves[label].setdefault(tag, []).append(curve)
    plot_curves(out / "curves.png", group_curves, colors)
    plot_intervals(out / "intervals.png", agg, colors)
    plot_profiles(out / "profiles.png", agg, colors)
    return [*paths, out / "curves.png", out / "intervals.png", out / "profiles.png"]
