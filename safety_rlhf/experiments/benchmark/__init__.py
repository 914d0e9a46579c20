"""``safety-rlhf benchmark``: a grid of training runs with rliable statistics.

The grid is (algorithm, KL coefficient, cost limit, cost model, seed)
(:mod:`~safety_rlhf.experiments.benchmark.grid`); every cell is one training run in
``OUT/runs/<cell>/``, run in parallel processes, reused on a re-run only when everything
that determines its result is unchanged (:mod:`~safety_rlhf.experiments.benchmark.runner`).
Per group, the final test-split ``gold_success``, ``proxy_reward`` and ``over_refusal`` are
aggregated over seeds with rliable (:mod:`~safety_rlhf.experiments.benchmark.statistics`).
``OUT`` receives ``results.csv`` (one row per cell, with the commit that produced it),
``results.md`` (the IQM table, the commits and the command line)
(:mod:`~safety_rlhf.experiments.benchmark.report`), ``curves.png`` (test gold success and
proxy reward against environment steps, mean over seeds with a min-max band),
``intervals.png`` and ``profiles.png`` (:mod:`~safety_rlhf.experiments.benchmark.plots`).
The command line is :mod:`~safety_rlhf.experiments.benchmark.cli`.
"""

from __future__ import annotations

from safety_rlhf.experiments.benchmark.cli import add_benchmark_parser
from safety_rlhf.experiments.benchmark.grid import (
    DONE_FILE,
    ERROR_FILE,
    BenchmarkConfig,
    Cell,
    cell_key,
    cell_name,
    grid_cells,
)
from safety_rlhf.experiments.benchmark.plots import CURVE_TAGS, read_curves
from safety_rlhf.experiments.benchmark.report import (
    iqm_table,
    results_csv,
    results_markdown,
    write_outputs,
)
from safety_rlhf.experiments.benchmark.runner import BenchmarkResult, run_benchmark
from safety_rlhf.experiments.benchmark.statistics import (
    AGGREGATE_METRICS,
    Aggregate,
    GroupStats,
    MetricStats,
    aggregate,
)

__all__ = [
    "AGGREGATE_METRICS",
    "CURVE_TAGS",
    "DONE_FILE",
    "ERROR_FILE",
    "Aggregate",
    "BenchmarkConfig",
    "BenchmarkResult",
    "Cell",
    "GroupStats",
    "MetricStats",
    "add_benchmark_parser",
    "aggregate",
    "cell_key",
    "cell_name",
    "grid_cells",
    "iqm_table",
    "read_curves",
    "results_csv",
    "results_markdown",
    "run_benchmark",
    "write_outputs",
]
