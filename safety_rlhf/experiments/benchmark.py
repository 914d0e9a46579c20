"""``safety-rlhf benchmark``: a grid of training runs with rliable statistics.

The grid is (algorithm, KL coefficient, seed). Every cell is one :func:`train` run in its
own folder ``OUT/runs/<algo>__kl<coef>__seed<seed>/`` (TensorBoard events, model, config),
run in parallel worker processes (``spawn``, one torch thread each). A cell that finished
gets a ``done.json`` marker holding its final metrics, written atomically last, so an
interrupted benchmark resumes where it stopped: finished cells are skipped. A failing cell
is reported (its traceback goes to ``error.txt`` in its folder) and the others go on.

Per (algorithm, KL coefficient) group, the final test-split ``gold_success``,
``proxy_reward`` and ``over_refusal`` are aggregated over seeds as recommended by Agarwal
et al. (2021), "Deep RL at the Edge of the Statistical Precipice": the interquartile mean
(IQM) with a 95% stratified-bootstrap confidence interval, plus mean and standard deviation,
and the performance profile of ``gold_success`` (fraction of runs above each threshold).
``OUT`` receives ``results.csv`` (one row per cell), ``results.md`` (the IQM table and the
command line), ``curves.png`` (test gold success and proxy reward against environment
steps, mean over seeds with a min-max band), ``intervals.png`` and ``profiles.png``.

.. note::

    Bootstrap reproducibility: ``rliable.library.get_interval_estimates`` accepts a
    ``random_state``, and it is passed, but rliable 1.2.0's ``StratifiedBootstrap`` draws
    its resamples from the *global* ``np.random`` generator regardless, and
    ``create_performance_profile`` takes no generator at all. The global generator is never
    seeded here; instead the rliable calls run inside a context that saves and restores
    ``np.random``'s state, so the benchmark leaves the caller's random stream untouched.
    The confidence bounds therefore vary between re-aggregations by Monte-Carlo error
    (small at the default 2,000 resamples); the point estimates (IQM, mean, std) are exact.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import multiprocessing
import os
import shlex
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_bytes, atomic_write_text, write_json
from safety_rlhf.task.metrics import METRIC_NAMES

if TYPE_CHECKING:
    from safety_rlhf.experiments.train import TrainConfig

__all__ = [
    "AGGREGATE_METRICS",
    "Aggregate",
    "BenchmarkConfig",
    "BenchmarkResult",
    "GroupStats",
    "MetricStats",
    "add_benchmark_parser",
    "aggregate",
    "cell_name",
    "iqm_table",
    "read_curves",
    "results_csv",
    "results_markdown",
    "run_benchmark",
    "write_outputs",
]

#: Test-split metrics aggregated per group (IQM, CI, mean, std).
AGGREGATE_METRICS: tuple[str, ...] = ("gold_success", "proxy_reward", "over_refusal")

#: TensorBoard scalars drawn in ``curves.png``.
CURVE_TAGS: tuple[str, ...] = ("safety/test/gold_success", "safety/test/proxy_reward")

DONE_FILE = "done.json"
ERROR_FILE = "error.txt"


# ------------------------------------------------------------------------------ the grid


@dataclass
class BenchmarkConfig:
    """What to run. Every field except ``env_kwargs`` has a command-line flag."""

    algos: list[str] = field(default_factory=lambda: ["ppo", "trpo", "a2c", "dqn"])
    """SB3 algorithm names (see ``safety_rlhf.agents.ALGORITHMS``)."""
    seeds: int = 5
    """Seeds per (algorithm, KL coefficient): ``0 .. seeds - 1``."""
    timesteps: int | None = None
    """Environment steps per run; ``None`` takes ``n_timesteps`` from each algorithm's YAML."""
    reward_model: str | None = None
    """Reward-model spec; ``None`` keeps the environment's default."""
    env: str = "SafetyRLHF-v0"
    """Registered env id."""
    kl_coefs: list[float] = field(default_factory=lambda: [0.0])
    """KL penalties to the reference policy (one group per algorithm and coefficient)."""
    jobs: int | None = None
    """Worker processes; ``None``: the number of CPUs; 1: run the cells in this process."""
    out: str = "experiments/results/benchmark"
    """Folder that receives ``runs/`` and the result files."""
    eval_freq: int | None = None
    """Test evaluation period in steps; ``None``: ``timesteps // 20`` (or 10,000)."""
    reps: int = 2000
    """Bootstrap resamples of the confidence intervals and performance profiles."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for ``gym.make`` (e.g. ``obs_dim``)."""

    def resolved_eval_freq(self) -> int:
        """The evaluation period: ``eval_freq``, or a twentieth of ``timesteps``."""
        if self.eval_freq is not None:
            return int(self.eval_freq)
        if self.timesteps is not None:
            return max(int(self.timesteps) // 20, 1)
        return 10_000

    def settings(self) -> dict[str, Any]:
        """The settings a finished cell must share to be reused on a re-run."""
        return {
            "env": self.env,
            "reward_model": self.reward_model,
            "timesteps": self.timesteps,
            "eval_freq": self.resolved_eval_freq(),
            "env_kwargs": dict(self.env_kwargs),
        }


def cell_name(algo: str, kl_coef: float, seed: int) -> str:
    """The folder name of a grid cell, e.g. ``ppo__kl0.01__seed3``.

    >>> cell_name("ppo", 0.0, 0), cell_name("a2c", 0.01, 4)
    ('ppo__kl0__seed0', 'a2c__kl0.01__seed4')
    """
    return f"{algo}__kl{kl_coef:g}__seed{seed}"


def _grid(cfg: BenchmarkConfig) -> list[tuple[str, TrainConfig]]:
    from safety_rlhf.experiments.train import TrainConfig

    runs = Path(cfg.out) / "runs"
    cells = []
    for algo in cfg.algos:
        for kl_coef in cfg.kl_coefs:
            for seed in range(cfg.seeds):
                name = cell_name(algo, kl_coef, seed)
                cells.append(
                    (
                        name,
                        TrainConfig(
                            algo=algo,
                            env=cfg.env,
                            reward_model=cfg.reward_model,
                            timesteps=cfg.timesteps,
                            seed=seed,
                            kl_coef=float(kl_coef),
                            log_dir=str(runs / name),
                            progress_bar=False,
                            eval_freq=cfg.resolved_eval_freq(),
                            env_kwargs=dict(cfg.env_kwargs),
                        ),
                    )
                )
    return cells


# ------------------------------------------------------------------------------ the runs


def _init_worker() -> None:
    """Worker initialiser: one torch thread per process (the processes are the parallelism)."""
    import torch

    torch.set_num_threads(1)


def _run_cell(
    name: str, tcfg: TrainConfig, settings: dict[str, Any], argv: list[str]
) -> dict[str, Any]:
    """Train one cell and write its ``done.json``; a failure is returned, not raised.

    :return: the cell record (what ``done.json`` holds), or ``{"cell": name, "error": ...}``.
    """
    from safety_rlhf.experiments import train as train_module

    cell_dir = Path(tcfg.log_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    try:
        run, _ = train_module.resolve(tcfg)
        result = train_module.train(tcfg, argv=argv)
    except Exception as exc:
        atomic_write_text(cell_dir / ERROR_FILE, traceback.format_exc())
        return {"cell": name, "error": f"{type(exc).__name__}: {exc}"}
    run_dir = Path(result.run_dir)
    record = {
        "cell": name,
        "algo": tcfg.algo,
        "kl_coef": tcfg.kl_coef,
        "seed": tcfg.seed,
        "timesteps": int(run["n_timesteps"]),
        "seconds": float(result.seconds),
        "run": run_dir.name if run_dir.parent == cell_dir else str(run_dir),
        "settings": settings,
        "metrics": result.metrics,
    }
    (cell_dir / ERROR_FILE).unlink(missing_ok=True)
    write_json(cell_dir / DONE_FILE, record)
    return record


def _load_done(cell_dir: Path) -> dict[str, Any] | None:
    path = cell_dir / DONE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: unreadable marker ({exc}); delete it to re-run the cell"
        ) from exc


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


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


def run_benchmark(
    cfg: BenchmarkConfig,
    argv: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> BenchmarkResult:
    """Run (or resume) every grid cell, then aggregate and write the result files.

    :param cfg: the benchmark.
    :param argv: the command line (without the program name) recorded in ``results.md``
        and in every run's ``command.txt``; ``None``: ``sys.argv[1:]``.
    :param log: where the progress lines go.
    :raises ValueError: for an unknown algorithm, a bad setting, or a finished cell of the
        same ``OUT`` made with other settings (checked before anything runs).
    """
    start = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    _validate(cfg)
    out = Path(cfg.out)
    settings = cfg.settings()
    grid = _grid(cfg)

    done: dict[str, dict[str, Any]] = {}
    pending: list[tuple[str, TrainConfig]] = []
    stale = []
    for name, tcfg in grid:
        record = _load_done(Path(tcfg.log_dir))
        if record is None:
            pending.append((name, tcfg))
        elif record.get("settings") != settings:
            stale.append(name)
        else:
            done[name] = record
    if stale:
        raise ValueError(
            f"{out}: finished cell(s) {', '.join(stale)} were made with other settings "
            f"than {settings}; use another --out or delete them"
        )
    for name in done:
        log(f"skip {name}: already done ({_summary_line(done[name])})")

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

    jobs = cfg.jobs or _cpu_count()
    if pending:
        log(f"running {total} cell(s) with {min(jobs, total)} process(es) into {out}/runs")
    if pending and jobs <= 1:
        for name, tcfg in pending:
            report(name, _run_cell(name, tcfg, settings, argv))
    elif pending:
        executor = ProcessPoolExecutor(
            max_workers=min(jobs, total),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )
        try:
            futures: dict[Future[dict[str, Any]], str] = {
                executor.submit(_run_cell, name, tcfg, settings, argv): name
                for name, tcfg in pending
            }
            for future in as_completed(futures):
                name = futures[future]
                try:
                    record = future.result()
                except Exception as exc:  # a worker died (BrokenProcessPool) or pickling
                    record = {"cell": name, "error": f"{type(exc).__name__}: {exc}"}
                report(name, record)
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown()

    cells = [done[name] for name, _ in grid if name in done]
    agg = None
    if cells:
        agg = aggregate(cells, reps=cfg.reps)
        write_outputs(
            out,
            cells,
            agg,
            command=shlex.join(["safety-rlhf", *argv]),
            failures=failures,
        )
    return BenchmarkResult(
        out=out,
        cells=cells,
        failures=failures,
        aggregate=agg,
        seconds=time.perf_counter() - start,
    )


def _validate(cfg: BenchmarkConfig) -> None:
    from safety_rlhf.agents.algorithms import ALGORITHMS, get_algorithm
    from safety_rlhf.agents.kl_penalty import check_kl_coef

    if not cfg.algos:
        raise ValueError("no algorithm given")
    unknown = [a for a in cfg.algos if a not in ALGORITHMS]
    if unknown:
        raise ValueError(f"unknown algorithm(s) {unknown}; choose from {', '.join(ALGORITHMS)}")
    if cfg.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {cfg.seeds}")
    if not cfg.kl_coefs or any(not math.isfinite(b) or b < 0 for b in cfg.kl_coefs):
        raise ValueError(f"KL coefficients must be finite numbers >= 0, got {cfg.kl_coefs}")
    for algo in cfg.algos:  # before any cell runs: off-policy algorithms refuse kl_coef > 0
        check_kl_coef(max(cfg.kl_coefs), get_algorithm(algo))
    if cfg.timesteps is not None and cfg.timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {cfg.timesteps}")
    if cfg.reps < 1:
        raise ValueError(f"reps must be >= 1, got {cfg.reps}")
    if len(set(cfg.algos)) != len(cfg.algos) or len(set(cfg.kl_coefs)) != len(cfg.kl_coefs):
        raise ValueError("algorithms and KL coefficients must not repeat")


# ---------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class MetricStats:
    """One metric of one group, over its seeds (``nan`` where no seed has a value)."""

    iqm: float
    """Interquartile mean (25% trimmed mean), ``rliable.metrics.aggregate_iqm``."""
    ci_low: float
    """Lower bound of the 95% stratified-bootstrap confidence interval of the IQM."""
    ci_high: float
    """Upper bound of that interval."""
    mean: float
    """Mean over seeds."""
    std: float
    """Sample standard deviation over seeds (``ddof=1``; 0 for a single seed)."""
    n: int
    """Seeds with a value."""


@dataclass(frozen=True)
class GroupStats:
    """The seeds of one (algorithm, KL coefficient) group."""

    algo: str
    kl_coef: float
    label: str
    """Display name: the algorithm, plus ``kl=<coef>`` when several coefficients are run."""
    seeds: tuple[int, ...]
    metrics: dict[str, MetricStats]
    """Metric name -> statistics, for every name in :data:`AGGREGATE_METRICS`."""


@dataclass
class Aggregate:
    """The benchmark's statistics, as :func:`aggregate` returns them."""

    groups: list[GroupStats]
    taus: np.ndarray
    """Gold-success thresholds of the performance profiles."""
    profiles: dict[str, np.ndarray]
    """Group label -> fraction of runs with test gold success above each threshold."""
    profile_cis: dict[str, np.ndarray]
    """Group label -> ``(2, len(taus))`` 95% bootstrap bounds of the profile."""
    reps: int
    """Bootstrap resamples used."""


@contextlib.contextmanager
def _preserved_global_np_random() -> Iterator[None]:
    """Run a block that draws from the global ``np.random``, then restore its state."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def _iqm_interval(scores: np.ndarray, reps: int, seed: int) -> tuple[float, float, float]:
    """IQM and 95% stratified-bootstrap CI of ``(n_runs,)`` scores via rliable."""
    from rliable import library as rly
    from rliable import metrics as rlm

    matrix = np.asarray(scores, dtype=np.float64).reshape(-1, 1)  # (runs, tasks=1)
    with _preserved_global_np_random(), warnings.catch_warnings():
        # arch deprecates random_state, which rliable 1.2.0 passes on (and then ignores)
        warnings.filterwarnings("ignore", message=".*random_state", category=FutureWarning)
        point, interval = rly.get_interval_estimates(
            {"g": matrix},
            lambda x: np.array([rlm.aggregate_iqm(x)]),
            reps=reps,
            confidence_interval_size=0.95,
            random_state=np.random.RandomState(seed),
        )
    return float(point["g"][0]), float(interval["g"][0, 0]), float(interval["g"][1, 0])


def _metric_stats(values: Sequence[float | None], reps: int, seed: int) -> MetricStats:
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        nan = float("nan")
        return MetricStats(iqm=nan, ci_low=nan, ci_high=nan, mean=nan, std=nan, n=0)
    iqm, low, high = _iqm_interval(arr, reps, seed)
    std = float(np.std(arr, ddof=1)) if len(arr) > 1 else 0.0
    return MetricStats(
        iqm=iqm, ci_low=low, ci_high=high, mean=float(arr.mean()), std=std, n=len(arr)
    )


def _score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of runs scoring above each threshold: rliable's default profile, vectorised.

    ``create_performance_profile`` without ``custom_profile_func`` computes the same with
    ``np.vectorize`` (one Python call per threshold and resample, ~20x slower).
    """
    return np.mean(np.asarray(scores)[..., None] > np.asarray(taus), axis=(0, 1))


def aggregate(
    cells: Sequence[Mapping[str, Any]],
    reps: int = 2000,
    seed: int = 0,
    taus: Sequence[float] | np.ndarray | None = None,
) -> Aggregate:
    """Aggregate per-cell results over seeds, per (algorithm, KL coefficient) group.

    A pure function of the records (no files): each record needs ``algo``, ``kl_coef``,
    ``seed`` and ``metrics["test"]`` (a metric name -> value or ``None`` mapping), as a
    cell's ``done.json`` has. Groups keep the order in which they first appear.

    :param cells: the per-cell records.
    :param reps: bootstrap resamples (default 2,000).
    :param seed: seed of the ``RandomState`` given to rliable (see the module note: rliable
        1.2.0 does not use it).
    :param taus: gold-success thresholds of the performance profile (default 0..1 in
        steps of 0.01).
    :return: the statistics of every group and the gold-success performance profiles.
    """
    from rliable import library as rly

    if not cells:
        raise ValueError("aggregate: no cell records")
    by_group: dict[tuple[str, float], list[Mapping[str, Any]]] = {}
    for record in cells:
        key = (str(record["algo"]), float(record["kl_coef"]))
        by_group.setdefault(key, []).append(record)
    several_kl = len({kl for _, kl in by_group}) > 1

    groups = []
    for (algo, kl_coef), records in by_group.items():
        label = f"{algo} kl={kl_coef:g}" if several_kl else algo
        metrics = {
            m: _metric_stats([r["metrics"]["test"].get(m) for r in records], reps, seed)
            for m in AGGREGATE_METRICS
        }
        seeds = tuple(int(r["seed"]) for r in records)
        groups.append(GroupStats(algo, kl_coef, label, seeds, metrics))

    tau_arr = np.linspace(0.0, 1.0, 101) if taus is None else np.asarray(taus, dtype=np.float64)
    scores = {}
    for g, records in zip(groups, by_group.values(), strict=True):
        gold = [r["metrics"]["test"].get("gold_success") for r in records]
        values = np.array([v for v in gold if v is not None], dtype=np.float64)
        if len(values):
            scores[g.label] = values.reshape(-1, 1)
    profiles: dict[str, np.ndarray] = {}
    profile_cis: dict[str, np.ndarray] = {}
    if scores:
        with _preserved_global_np_random():
            profiles, profile_cis = rly.create_performance_profile(
                scores, tau_arr, custom_profile_func=_score_distribution, reps=reps
            )
    return Aggregate(
        groups=groups,
        taus=tau_arr,
        profiles={k: np.asarray(v) for k, v in profiles.items()},
        profile_cis={k: np.asarray(v) for k, v in profile_cis.items()},
        reps=reps,
    )


# --------------------------------------------------------------------------------- files


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def results_csv(cells: Sequence[Mapping[str, Any]]) -> str:
    """The ``results.csv`` text: one row per cell, final test then train metrics.

    Columns: ``algo, kl_coef, seed, timesteps, seconds, test_<metric>..., train_<metric>...``
    (every metric of :mod:`safety_rlhf.task.metrics`; empty where unavailable).
    """
    header = ["algo", "kl_coef", "seed", "timesteps", "seconds"]
    header += [f"test_{m}" for m in METRIC_NAMES] + [f"train_{m}" for m in METRIC_NAMES]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for r in cells:
        row: list[Any] = [r["algo"], f"{float(r['kl_coef']):g}", r["seed"], r.get("timesteps")]
        row.append(f"{float(r.get('seconds', float('nan'))):.1f}")
        for split in ("test", "train"):
            values = r["metrics"].get(split, {})
            row += ["" if values.get(m) is None else repr(float(values[m])) for m in METRIC_NAMES]
        writer.writerow(row)
    return buf.getvalue()


def iqm_table(agg: Aggregate) -> str:
    """A Markdown table: one row per group, ``IQM [95% CI]`` of each aggregated metric."""
    lines = [
        "| algo | kl_coef | seeds | " + " | ".join(AGGREGATE_METRICS) + " |",
        "|---|---:|---:|" + "---|" * len(AGGREGATE_METRICS),
    ]
    for g in agg.groups:
        cells = [
            f"{_fmt(s.iqm)} [{_fmt(s.ci_low)}, {_fmt(s.ci_high)}]"
            for s in (g.metrics[m] for m in AGGREGATE_METRICS)
        ]
        lines.append(f"| {g.algo} | {g.kl_coef:g} | {len(g.seeds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_markdown(
    agg: Aggregate, command: str, failures: Mapping[str, str] | None = None
) -> str:
    """The ``results.md`` text: IQM [95% CI] and mean ± std tables, and the command line."""
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
        "| algo | kl_coef | " + " | ".join(AGGREGATE_METRICS) + " |",
        "|---|---:|" + "---|" * len(AGGREGATE_METRICS),
    ]
    for g in agg.groups:
        cells = [
            f"{_fmt(s.mean)} ± {_fmt(s.std)}" for s in (g.metrics[m] for m in AGGREGATE_METRICS)
        ]
        lines.append(f"| {g.algo} | {g.kl_coef:g} | " + " | ".join(cells) + " |")
    if failures:
        lines += ["", "Failed cells (not in the tables):", ""]
        lines += [f"- `{name}`: {error}" for name, error in failures.items()]
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


def _group_band(
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
            steps, mean, low, high = _group_band(runs)
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
        atomic_write_text(out / "results.md", results_markdown(agg, command, failures)),
    ]
    labels = [g.label for g in agg.groups]
    colors = _colors(labels)
    label_of = {(g.algo, g.kl_coef): g.label for g in agg.groups}
    group_curves: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = {
        label: {} for label in labels
    }
    for record in cells:
        if not record.get("run"):
            continue
        run_dir = out / "runs" / str(record["cell"]) / str(record["run"])
        if not run_dir.is_dir():
            continue
        label = label_of[(str(record["algo"]), float(record["kl_coef"]))]
        for tag, curve in read_curves(run_dir).items():
            group_curves[label].setdefault(tag, []).append(curve)
    plot_curves(out / "curves.png", group_curves, colors)
    plot_intervals(out / "intervals.png", agg, colors)
    plot_profiles(out / "profiles.png", agg, colors)
    return [*paths, out / "curves.png", out / "intervals.png", out / "profiles.png"]


# ------------------------------------------------------------------------------- the CLI


def _names(text: str) -> list[str]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _floats(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers like 0,0.01,0.1, got {text!r}"
        ) from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers >= 0, got {text!r}")
    return values


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return value


def add_benchmark_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``benchmark`` subcommand to ``sub``."""
    d = BenchmarkConfig()
    p = sub.add_parser(
        "benchmark",
        help="train a grid of algorithms x KL coefficients x seeds and report rliable stats",
        description="Train every (algorithm, KL coefficient, seed) cell in parallel processes "
        "(each with its own TensorBoard log under OUT/runs/; finished cells are skipped on a "
        "re-run), then aggregate the final test-split gold_success, proxy_reward and "
        "over_refusal over seeds: IQM with 95% stratified-bootstrap CIs (rliable), mean, "
        "std, gold-success performance profiles. Writes results.csv, results.md, curves.png, "
        "intervals.png and profiles.png into OUT.",
    )
    p.add_argument(
        "--algos",
        type=_names,
        default=d.algos,
        help=f"comma-separated SB3 algorithms (default: {','.join(d.algos)})",
    )
    p.add_argument(
        "--seeds", type=_positive, default=d.seeds, help=f"seeds 0..N-1 (default: {d.seeds})"
    )
    p.add_argument(
        "--timesteps",
        type=_positive,
        default=d.timesteps,
        help="training steps per run (default: n_timesteps of each hyperparameter YAML)",
    )
    p.add_argument(
        "--reward-model",
        default=d.reward_model,
        help="reward-model spec: rule, gold, learned, NAME:ARG, ... (default: the env's)",
    )
    p.add_argument("--env", default=d.env, help=f"env id (default: {d.env})")
    p.add_argument(
        "--kl-coefs",
        type=_floats,
        default=d.kl_coefs,
        help="comma-separated KL penalties to the reference policy, e.g. 0,0.01,0.1,0.5 "
        "(default: 0)",
    )
    p.add_argument(
        "--jobs", type=_positive, default=d.jobs, help="worker processes (default: CPU count)"
    )
    p.add_argument("--out", default=d.out, help=f"output folder (default: {d.out})")
    p.add_argument(
        "--eval-freq",
        type=_positive,
        default=d.eval_freq,
        help="test evaluation every N steps, for the learning curves "
        "(default: timesteps/20, or 10000)",
    )
    p.add_argument(
        "--reps",
        type=_positive,
        default=d.reps,
        help=f"bootstrap resamples (default: {d.reps})",
    )
    p.set_defaults(func=_run_benchmark_cli)


def _run_benchmark_cli(args: argparse.Namespace) -> int:
    cfg = BenchmarkConfig(
        algos=args.algos,
        seeds=args.seeds,
        timesteps=args.timesteps,
        reward_model=args.reward_model,
        env=args.env,
        kl_coefs=args.kl_coefs,
        jobs=args.jobs,
        out=args.out,
        eval_freq=args.eval_freq,
        reps=args.reps,
    )
    argv = getattr(args, "argv", None)
    try:
        result = run_benchmark(cfg, argv=argv)
    except (ValueError, OSError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"safety-rlhf benchmark: error: {exc}", file=sys.stderr)
        return 2
    if result.aggregate is not None:
        print(f"\nIQM [95% CI] over seeds, test split:\n\n{iqm_table(result.aggregate)}\n")
        print(
            f"results: {result.out}/results.md, results.csv, curves.png, intervals.png, "
            f"profiles.png  ({result.seconds:.0f} s)"
        )
        print(f"tensorboard --logdir {result.out / 'runs'}")
    if result.failures:
        print(f"\n{len(result.failures)} cell(s) failed:", file=sys.stderr)
        for name, error in result.failures.items():
            print(
                f"  {name}: {error} (see {result.out / 'runs' / name / ERROR_FILE})",
                file=sys.stderr,
            )
        return 1
    return 0
