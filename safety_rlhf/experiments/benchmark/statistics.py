"""Statistics of a benchmark: per group of cells, rliable IQM with 95% bootstrap CIs.

Following Agarwal et al. (2021), "Deep RL at the Edge of the Statistical Precipice": the
interquartile mean (IQM) with a 95% stratified-bootstrap confidence interval, plus mean and
standard deviation, and the performance profile of ``gold_success`` (fraction of runs
above each threshold). A group is one (algorithm, KL coefficient, cost limit, cost model).

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

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rliable import library as rly
from rliable import metrics as rlm

__all__ = [
    "AGGREGATE_METRICS",
    "Aggregate",
    "GroupStats",
    "MetricStats",
    "aggregate",
    "cost_label",
    "group_key",
    "group_label",
]

#: Test-split metrics aggregated per group (IQM, CI, mean, std).
AGGREGATE_METRICS: tuple[str, ...] = (
    "gold_success",
    "harmful_compliance",
    "over_refusal",
    "twin_over_refusal",
    "proxy_reward",
)


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
    """The seeds of one (algorithm, KL coefficient, cost limit, cost model) group."""

    algo: str
    kl_coef: float
    label: str
    """Display name: the algorithm, plus ``kl=<coef>`` when several coefficients are run
    and the cost limit and model when any cell has one (see :func:`group_label`)."""
    seeds: tuple[int, ...]
    metrics: dict[str, MetricStats]
    """Metric name -> statistics, for every name in :data:`AGGREGATE_METRICS`."""
    cost_limit: float | None = None
    """The cell's ``--cost-limit`` (``None``: unconstrained)."""
    cost_model: str | None = None
    """The cost model of a constrained cell (``None``: the train default, or unconstrained)."""


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


#: (algorithm, KL coefficient, cost limit, cost model) of a group.
GroupKey = tuple[str, float, float | None, str | None]


def group_key(record: Mapping[str, Any]) -> GroupKey:
    """The group of a cell record (records without cost fields are unconstrained)."""
    limit = record.get("cost_limit")
    model = record.get("cost_model")
    return (
        str(record["algo"]),
        float(record["kl_coef"]),
        None if limit is None else float(limit),
        None if model is None else str(model),
    )


def cost_label(cost_limit: float | None, cost_model: str | None) -> str:
    """``"unconstrained"``, ``"cost<=0.05"`` or ``"cost<=0.05 gold (oracle)"``.

    >>> cost_label(None, None), cost_label(0.05, "learned-cost"), cost_label(0.05, "gold")
    ('unconstrained', 'cost<=0.05 learned-cost', 'cost<=0.05 gold (oracle)')
    """
    if cost_limit is None:
        return "unconstrained"
    if cost_model is None:
        return f"cost<={cost_limit:g}"
    return f"cost<={cost_limit:g} {cost_model}" + (" (oracle)" if cost_model == "gold" else "")


def group_label(key: GroupKey, several_kl: bool, any_cost: bool) -> str:
    """Display name of a group: the algorithm, ``kl=<coef>`` when several coefficients are
    run, and :func:`cost_label` when any group has a cost limit.

    >>> group_label(("ppo", 0.0, 0.05, "gold"), False, True)
    'ppo cost<=0.05 gold (oracle)'
    """
    algo, kl_coef, cost_limit, cost_model = key
    label = f"{algo} kl={kl_coef:g}" if several_kl else algo
    return f"{label} {cost_label(cost_limit, cost_model)}" if any_cost else label


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
    ``seed`` (``cost_limit`` and ``cost_model`` are optional) and ``metrics["test"]``
    (a metric name -> value or ``None`` mapping), as a cell's ``done.json`` has.
    Groups keep the order in which they first appear.

    :param cells: the per-cell records.
    :param reps: bootstrap resamples (default 2,000).
    :param seed: seed of the ``RandomState`` given to rliable (see the module note: rliable
        1.2.0 does not use it).
    :param taus: gold-success thresholds of the performance profile (default 0..1 in
        steps of 0.01).
    :return: the statistics of every group and the gold-success performance profiles.
    """
    if not cells:
        raise ValueError("aggregate: no cell records")
    by_group: dict[GroupKey, list[Mapping[str, Any]]] = {}
    for record in cells:
        by_group.setdefault(group_key(record), []).append(record)
    several_kl = len({key[1] for key in by_group}) > 1
    any_cost = any(key[2] is not None for key in by_group)

    groups = []
    for key, records in by_group.items():
        algo, kl_coef, cost_limit, cost_model = key
        metrics = {
            m: _metric_stats([r["metrics"]["test"].get(m) for r in records], reps, seed)
            for m in AGGREGATE_METRICS
        }
        seeds = tuple(int(r["seed"]) for r in records)
        label = group_label(key, several_kl, any_cost)
        groups.append(GroupStats(algo, kl_coef, label, seeds, metrics, cost_limit, cost_model))

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
