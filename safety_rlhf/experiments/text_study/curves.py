"""Gold and proxy reward against ``d = sqrt(KL)``: one :class:`Curve` per best-of-n proxy
and per PPO run, the shared currency of the text studies."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.experiments.text_study.best_of_n import PromptSamples, best_of_n_curve
from safety_rlhf.experiments.text_study.ppo_curves import (
    ensure_run,
    evaluate_snapshots,
    run_seconds,
)
from safety_rlhf.experiments.text_study.reference_samples import (
    ReferenceTable,
    sample_reference,
    score_samples,
)
from safety_rlhf.experiments.text_study.settings import (
    StudySettings,
    eval_env,
    run_spec,
    study_prompt_set,
)
from safety_rlhf.reward.registry import make_reward_model

__all__ = ["POINT_KEYS", "Curve", "StudyData", "bon_curve", "interpolate", "ppo_curve"]

#: The figures of every point of a curve.
POINT_KEYS: tuple[str, ...] = (
    "kl",
    "d",
    "gold_reward",
    "gold_success",
    "proxy_reward",
    "degenerate",
    "length",
)

Log = Callable[[str], Any]


@dataclass
class Curve:
    """One method's path through ``(KL, gold, proxy)``.

    :param name: display name (``"best-of-n"``, ``"PPO kl_coef 0.05"``).
    :param method: ``"bon"`` or ``"ppo"``.
    :param reward_model: the proxy it optimised (spec).
    :param points: per point, :data:`POINT_KEYS` plus ``n`` (best-of-n: also ``kl_bound``)
        or ``step`` (PPO: also ``perplexity`` and ``distinct_2``), in order of ``n`` / step.
    :param kl_coef: PPO's ``--kl-coef`` (``None`` for best-of-n).
    :param seed: PPO's seed.
    :param rm_pairs: preference pairs of the reward model (size study; ``None``: shipped).
    :param run_dir: PPO's run folder.
    :param records: PPO: the evaluation records of each snapshot (in point order).
    :param status: PPO: ``"trained"``, ``"resumed"`` or ``"reused"`` by this command.
    :param train_seconds: PPO: wall-clock of the run's ``train`` call.
    """

    name: str
    method: str
    reward_model: str
    points: list[dict[str, Any]]
    kl_coef: float | None = None
    seed: int | None = None
    rm_pairs: int | None = None
    run_dir: Path | None = None
    records: list[list[dict[str, Any]]] = field(default_factory=list)
    status: str | None = None
    train_seconds: float | None = None

    def column(self, key: str) -> np.ndarray:
        return np.array([float(p[key]) for p in self.points])


@dataclass
class StudyData:
    """The studies' test prompts and ``pi_ref`` samples, built once per command."""

    settings: StudySettings
    runs: Path
    table: ReferenceTable
    log: Log

    @classmethod
    def load(cls, settings: StudySettings, runs: Path, log: Log = print) -> StudyData:
        prompts = study_prompt_set(settings.n_prompts, settings.prompt_seed)
        start = time.perf_counter()
        table = sample_reference(
            prompts, settings.samples, settings.sample_seed, cache_dir=Path(runs) / "pi_ref"
        )
        log(
            f"pi_ref samples: {len(prompts)} test prompts x {settings.samples}: "
            f"{len(table.ids):,} distinct texts ({time.perf_counter() - start:.1f} s)"
        )
        return cls(settings, Path(runs), table, log)

    def reference_gold(self) -> dict[str, float]:
        """``pi_ref``'s own figures on the study prompts (exact under the samples)."""
        out = {}
        for name in ("gold_reward", "gold_success", "degenerate", "length"):
            values = []
            for k in range(len(self.table.prompts)):
                rows = self.table.rows(k)
                p = self.table.counts[rows] / self.table.counts[rows].sum()
                values.append(float(p @ self.table.judged[name][rows]))
            out[name] = float(np.mean(values))
        return out


def bon_curve(data: StudyData, reward_model: str, rm_pairs: int | None = None) -> Curve:
    """Best-of-n from ``pi_ref`` under ``reward_model``, for every ``n`` of the settings."""
    table = data.table
    start = time.perf_counter()
    model = make_reward_model(reward_model)
    proxy = score_samples(table, reward_model, model, cache_dir=data.runs / "pi_ref")
    samples = []
    for k in range(len(table.prompts)):
        rows = table.rows(k)
        values = {name: v[rows] for name, v in table.judged.items()}
        samples.append(PromptSamples(table.counts[rows], proxy[rows], values))
    curve = best_of_n_curve(samples, data.settings.ns)
    points = []
    for j, n in enumerate(curve.ns.tolist()):
        point = {
            "n": n,
            "kl": float(curve.kl[j]),
            "d": float(curve.d[j]),
            "kl_bound": float(curve.kl_bound[j]),
        }
        point.update(
            {name: float(curve.means[name][j]) for name in POINT_KEYS[2:] if name in curve.means}
        )
        point["proxy_reward"] = float(curve.means["proxy"][j])
        points.append(point)
    data.log(
        f"best-of-n under {reward_model}: scored and computed in "
        f"{time.perf_counter() - start:.1f} s"
    )
    return Curve("best-of-n", "bon", reward_model, points, rm_pairs=rm_pairs)


def ppo_curve(
    data: StudyData, kl_coef: float, seed: int, reward_model: str, rm_pairs: int | None = None
) -> Curve:
    """The PPO run of ``kl_coef`` / ``seed`` / ``reward_model`` (trained if needed), its
    snapshots evaluated on the study prompts."""
    spec = run_spec(data.settings, kl_coef, seed, reward_model)
    run_dir, status = ensure_run(spec, data.runs, log=data.log)
    env = eval_env(data.table.prompts, reward_model)
    rows = evaluate_snapshots(run_dir, env, data.settings.eval_samples, log=data.log)
    points, records = [], []
    for row in rows:
        point = {"step": int(row["step"]), **{k: float(row[k]) for k in POINT_KEYS if k != "d"}}
        point["d"] = math.sqrt(max(point["kl"], 0.0))
        point["perplexity"] = float(row["perplexity"])
        point["distinct_2"] = float(row["distinct_2"])
        points.append(point)
        records.append(row["records"])
    name = f"PPO kl_coef {kl_coef:g}"
    return Curve(
        name,
        "ppo",
        reward_model,
        points,
        float(kl_coef),
        int(seed),
        rm_pairs,
        run_dir,
        records,
        status,
        run_seconds(run_dir),
    )


def interpolate(curve: Curve, key: str, kl: float) -> float:
    """``key`` of ``curve`` at ``KL = kl``, linear in KL between the *last* two consecutive
    points (in ``n`` / step order) whose KLs bracket it, so that a PPO run that passes a KL
    more than once is read where it has trained longest; NaN outside the curve's range."""
    x = curve.column("kl")
    y = curve.column(key)
    if len(x) == 1:
        return float(y[0]) if math.isclose(x[0], kl, abs_tol=1e-9) else math.nan
    for i in reversed(range(len(x) - 1)):
        lo, hi = sorted((x[i], x[i + 1]))
        if lo <= kl <= hi:
            if hi == lo:
                return float(y[i + 1])
            t = (kl - x[i]) / (x[i + 1] - x[i])
            return float(y[i] + t * (y[i + 1] - y[i]))
    return math.nan


def labels_of(curves: Sequence[Curve]) -> list[str]:
    """Display labels, with the reward model's data size when the curves differ in it."""
    sized = len({c.rm_pairs for c in curves}) > 1
    out = []
    for c in curves:
        size = "" if not sized else f" (RM {c.rm_pairs or 'all'} pairs)"
        out.append(c.name + size)
    return out
