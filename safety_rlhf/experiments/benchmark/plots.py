"""The benchmark's figures: learning curves from TensorBoard, IQM intervals, profiles.

Plotting libraries (matplotlib, seaborn, rliable's plot utilities, TensorBoard's event
reader) are imported where a figure is drawn, so that running cells does not load them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_bytes
from safety_rlhf.experiments.benchmark.statistics import AGGREGATE_METRICS, Aggregate

__all__ = [
    "CURVE_TAGS",
    "group_band",
    "plot_curves",
    "plot_intervals",
    "plot_profiles",
    "read_curves",
]

#: TensorBoard scalars drawn in ``curves.png``.
CURVE_TAGS: tuple[str, ...] = ("safety/test/gold_success", "safety/test/proxy_reward")


def read_curves(
    run_dir: str | os.PathLike[str], tags: Sequence[str] = CURVE_TAGS
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read scalar curves from a run folder's TensorBoard events (every ``tb_*`` subfolder).

    :return: tag -> (steps, values), sorted by step; tags without events are left out.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = Path(run_dir)
    found: dict[str, dict[int, float]] = {}
    folders = sorted(p for p in run_dir.glob("tb_*") if p.is_dir()) or [run_dir]
    for folder in folders:
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        acc.Reload()
        available = set(acc.Tags().get("scalars", []))
        for tag in tags:
            if tag in available:
                for event in acc.Scalars(tag):
                    found.setdefault(tag, {})[int(event.step)] = float(event.value)
    return {
        tag: (np.array(sorted(points)), np.array([points[s] for s in sorted(points)]))
        for tag, points in found.items()
    }


def group_band(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over seeds on the steps every seed covers (linear interpolation)."""
    lo = max(float(s[0]) for s, _ in curves)
    hi = min(float(s[-1]) for s, _ in curves)
    steps = np.unique(np.concatenate([s for s, _ in curves]))
    steps = steps[(steps >= lo) & (steps <= hi)]
    if not len(steps):
        steps = np.array([hi])
    ys = np.stack([np.interp(steps, s, v) for s, v in curves])
    return steps, ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)


def _colors(labels: Sequence[str]) -> dict[str, Any]:
    import seaborn as sns

    return dict(zip(labels, sns.color_palette("colorblind", n_colors=len(labels)), strict=True))


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


def plot_curves(
    out_path: Path,
    group_curves: Mapping[str, Mapping[str, list[tuple[np.ndarray, np.ndarray]]]],
    colors: Mapping[str, Any],
) -> None:
    """Draw ``curves.png``: one panel per tag in :data:`CURVE_TAGS`, one line per group."""
    _use_agg()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CURVE_TAGS), figsize=(5.5 * len(CURVE_TAGS), 4))
    for ax, tag in zip(np.atleast_1d(axes), CURVE_TAGS, strict=True):
        for label, curves in group_curves.items():
            runs = curves.get(tag, [])
            if not runs:
                continue
            steps, mean, low, high = group_band(runs)
            ax.plot(steps, mean, color=colors[label], label=f"{label} (n={len(runs)})")
            ax.fill_between(steps, low, high, color=colors[label], alpha=0.2, linewidth=0)
        ax.set_title(tag.removeprefix("safety/"))
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.25)
        if not ax.lines:
            ax.text(0.5, 0.5, "no TensorBoard events", ha="center", transform=ax.transAxes)
    first = np.atleast_1d(axes)[0]
    if first.lines:
        first.legend(fontsize="small")
    fig.suptitle("test split: mean over seeds, band = min-max")
    _save(fig, out_path)


def plot_intervals(out_path: Path, agg: Aggregate, colors: Mapping[str, Any]) -> None:
    """Draw ``intervals.png``: IQM (tick) and 95% CI (bar) per group and metric."""
    _use_agg()
    from rliable import plot_utils

    labels = [g.label for g in agg.groups]
    row_height = 0.6
    point = {g.label: np.array([g.metrics[m].iqm for m in AGGREGATE_METRICS]) for g in agg.groups}
    interval = {
        g.label: np.array(
            [
                [g.metrics[m].ci_low for m in AGGREGATE_METRICS],
                [g.metrics[m].ci_high for m in AGGREGATE_METRICS],
            ]
        )
        for g in agg.groups
    }
    fig, _ = plot_utils.plot_interval_estimates(
        point,
        interval,
        metric_names=list(AGGREGATE_METRICS),
        algorithms=labels,
        colors=dict(colors),
        xlabel="IQM over seeds, 95% bootstrap CI (test split)",
        subfigure_width=4.0,
        max_ticks=3,
        wspace=0.3,
        row_height=row_height,
        # the label sits this far below the axes, in figure fractions: keep it ~0.6 inch
        xlabel_y_coordinate=-0.6 / (row_height * len(labels)),
    )
    _save(fig, out_path)


def plot_profiles(out_path: Path, agg: Aggregate, colors: Mapping[str, Any]) -> None:
    """Draw ``profiles.png``: fraction of runs with test gold success above each threshold."""
    _use_agg()
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    fig, ax = plt.subplots(figsize=(7, 4.5))
    if agg.profiles:
        plot_utils.plot_performance_profiles(
            agg.profiles,
            agg.taus,
            performance_profile_cis=agg.profile_cis,
            ax=ax,
            colors={k: colors[k] for k in agg.profiles},
            xlabel=r"test gold success ($\tau$)",
            ylabel=r"fraction of runs with score $> \tau$",
            labelsize="large",
            ticklabelsize="large",
        )
        ax.legend(
            [plt.Line2D([0], [0], color=colors[k], lw=2) for k in agg.profiles],
            list(agg.profiles),
            fontsize="small",
            loc="upper right",
        )
    else:
        ax.text(0.5, 0.5, "no gold_success values", ha="center", transform=ax.transAxes)
    _save(fig, out_path)
