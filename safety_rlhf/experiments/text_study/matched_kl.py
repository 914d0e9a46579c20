"""``safety-rlhf text-study matched-kl``: who wins at the same KL from ``pi_ref``.

Test gold success (and gold reward) of ``pi_ref`` sampled alone (KL 0), best-of-n from
``pi_ref`` under the proxy and PPO with the KL penalty, each read off its curve at common
values of ``KL(pi || pi_ref)`` (:func:`~safety_rlhf.experiments.text_study.curves.
interpolate`: linear in KL between the first two consecutive points, in ``n`` / training
order, whose KLs bracket the value; no extrapolation). The KL values are the multiples of
:data:`KL_STEP` nats that best-of-n and at least one PPO curve both reach. PPO without the
penalty is shown for reference. The curves are the over-optimisation study's (same runs and
samples when the commands share ``--runs``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.experiments.text_study.curves import (
    Curve,
    StudyData,
    bon_curve,
    interpolate,
    ppo_curve,
)
from safety_rlhf.experiments.text_study.report import (
    check_out,
    command_line,
    curves_csv,
    mark_out,
    markdown_table,
    prompt_mix,
    save_figure,
    settings_lines,
    wall_clock_lines,
)
from safety_rlhf.experiments.text_study.settings import StudySettings

__all__ = ["COMMAND", "KL_STEP", "kl_targets", "matched_rows", "run_matched_kl"]

COMMAND = "text-study matched-kl"
PLOT = "matched_kl.png"
#: Spacing of the common KL values (nats).
KL_STEP = 0.5


def _range(c: Curve) -> tuple[float, float]:
    kl = c.column("kl")
    return float(kl.min()), float(kl.max())


def kl_targets(bon: Curve, ppo: Sequence[Curve], step: float = KL_STEP) -> list[tuple[float, str]]:
    """The KL values compared, each with a note: the multiples of ``step`` inside the KL
    range of ``bon`` and of at least one of ``ppo``, and the final KL of every ``ppo`` run
    that ``bon`` reaches (where that run ends), in increasing KL."""
    lo, hi = _range(bon)
    out = []
    for k in range(1, int(hi / step) + 1):
        kl = k * step
        if kl >= lo and any(a <= kl <= b for a, b in map(_range, ppo)):
            out.append((kl, ""))
    for c in ppo:
        end = float(c.points[-1]["kl"])
        if lo <= end <= hi:
            out.append((end, f"{c.name}: end of training"))
    return sorted(out)


def matched_rows(
    curves: Sequence[Curve], targets: Sequence[tuple[float, str]], key: str, reference: float
) -> list[list[Any]]:
    """One row per target KL (and KL 0 for ``pi_ref``): ``key`` of every curve there."""
    rows: list[list[Any]] = [
        [0.0, reference, *(interpolate(c, key, 0.0) for c in curves), "pi_ref"]
    ]
    rows += [
        [kl, math.nan, *(interpolate(c, key, kl) for c in curves), note] for kl, note in targets
    ]
    return rows


def run_matched_kl(
    out: str | Path,
    settings: StudySettings,
    runs: str | Path | None = None,
    argv: Sequence[str] | None = None,
    log: Any = print,
    started: float | None = None,
) -> dict[str, Any]:
    """Run the study (arguments as for
    :func:`~safety_rlhf.experiments.text_study.overoptimisation.run_overoptimisation`) and
    write ``results.csv``, ``results.md`` and ``matched_kl.png``."""
    start = time.perf_counter() if started is None else started
    out = check_out(out, COMMAND)
    runs_dir = Path(runs) if runs is not None else out / "runs"
    mark_out(out, COMMAND)
    data = StudyData.load(settings, runs_dir, log)
    ref = data.reference_gold()
    rm = settings.reward_model
    bon = bon_curve(data, rm)
    penalised = [ppo_curve(data, kl, 0, rm) for kl in settings.kl_coefs if kl > 0]
    unpenalised = [ppo_curve(data, kl, 0, rm) for kl in settings.kl_coefs if kl == 0]
    curves = [bon, *penalised, *unpenalised]
    targets = kl_targets(bon, penalised or unpenalised)
    seconds = time.perf_counter() - start
    atomic_write_text(out / "results.csv", curves_csv(curves))
    _plot(out / PLOT, curves, ref, targets)
    md = _markdown(settings, data, ref, curves, targets, seconds, command_line(argv))
    atomic_write_text(out / "results.md", md)
    log(f"results: {out}/results.md, results.csv, {PLOT} ({seconds:.0f} s)")
    return {"curves": curves, "targets": targets, "reference": ref, "seconds": seconds}


def _best_rows(curves: Sequence[Curve]) -> list[list[Any]]:
    rows = []
    for c in curves:
        success = c.column("gold_success")
        j = int(np.argmax(success))
        lo, hi = _range(c)
        where = f"n = {c.points[j]['n']}" if c.method == "bon" else f"step {c.points[j]['step']:,}"
        rows.append(
            [c.name, lo, hi, success[j], c.points[j]["kl"], where, c.points[j]["gold_reward"]]
        )
    return rows


def _markdown(
    settings: StudySettings,
    data: StudyData,
    ref: dict[str, float],
    curves: Sequence[Curve],
    targets: Sequence[tuple[float, str]],
    seconds: float,
    command: str,
) -> str:
    s = settings
    names = [c.name for c in curves]
    lines = [
        "# Who wins at the same KL: `pi_ref`, best-of-n and PPO (`SafetyRLHF-Text-v0`)",
        "",
        f"Proxy `{s.reward_model}`; {prompt_mix(data.table.prompts)}, seed "
        f"{s.prompt_seed}. `pi_ref` sampled alone is KL 0 (exact under its {s.samples} "
        "samples per prompt); best-of-n is computed exactly from those samples; PPO "
        f"({s.timesteps:,} steps, seed 0) is read at its snapshots ({s.eval_samples} sampled "
        "responses per prompt each). Each curve is interpolated linearly in KL between the "
        "two consecutive points (in n / training order) that last bracket the KL (a PPO run "
        "that passes a KL twice is read where it trained longest); `—`: the curve does not "
        "reach that KL (PPO starts at the KL of the policy fitted to `pi_ref`, not at 0). "
        "The rows are multiples of 0.5 nats that best-of-n and a penalised PPO run both "
        "reach, and the KL at which each PPO run ends.",
        "",
        f"![gold success against KL]({PLOT})",
        "",
        "## Gold success at matched KL",
        "",
        markdown_table(
            ["KL (nats)", "pi_ref", *names, "note"],
            matched_rows(curves, targets, "gold_success", ref["gold_success"]),
        ),
        "",
        "## Gold reward at matched KL",
        "",
        markdown_table(
            ["KL (nats)", "pi_ref", *names, "note"],
            matched_rows(curves, targets, "gold_reward", ref["gold_reward"]),
        ),
        "",
        "## Each curve's KL range and best point",
        "",
        markdown_table(
            ["curve", "KL min", "KL max", "best success", "at KL", "where", "gold reward there"],
            _best_rows(curves),
        ),
        "",
        "## Settings and command",
        "",
        *settings_lines(s.describe()),
        "",
        *wall_clock_lines(seconds, curves, command),
    ]
    return "\n".join(lines)


def _plot(
    path: Path,
    curves: Sequence[Curve],
    ref: dict[str, float],
    targets: Sequence[tuple[float, str]],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.get_cmap("tab10")
    for ax, key, title in (
        (axes[0], "gold_success", "gold success"),
        (axes[1], "gold_reward", "gold reward"),
    ):
        ax.axhline(ref[key], color="black", lw=1, ls=":", label="pi_ref (KL 0)")
        for i, c in enumerate(curves):
            style = "o-" if c.method == "bon" else "s-"
            ax.plot(c.column("kl"), c.column(key), style, ms=3, color=colors(i), label=c.name)
        for kl, _ in targets:
            ax.axvline(kl, color="grey", lw=0.5, alpha=0.5)
        ax.set_xlabel("KL(pi || pi_ref), nats")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)
