"""``safety-rlhf text-study overoptimisation``: gold and proxy reward against
``d = sqrt(KL)`` for best-of-n from ``pi_ref`` and for PPO, the forms of Gao et al. (2022)
fitted to the gold curves, and how the gold peak moves with the reward model's data."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.experiments.text_study.curves import Curve, StudyData, bon_curve, ppo_curve
from safety_rlhf.experiments.text_study.fits import Fit, assess, fit_form, predict
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
from safety_rlhf.experiments.text_study.rm_sizes import heldout_accuracy
from safety_rlhf.experiments.text_study.settings import StudySettings

__all__ = ["COMMAND", "CurveFit", "curve_fits", "fits_table", "run_overoptimisation"]

COMMAND = "text-study overoptimisation"
PLOT = "overoptimisation.png"


def _label(c: Curve) -> str:
    size = "" if c.rm_pairs is None else f", RM {c.rm_pairs:,} pairs"
    return f"{c.name}{size}"


@dataclass(frozen=True)
class CurveFit:
    """One fit of a form to one curve's gold gain.

    :param label: the curve.
    :param variant: ``"form"`` (the method's form through the origin, as Gao et al.),
        ``"intercept"`` (the same with a free constant) or ``"other form"`` (the other
        method's form, through the origin).
    :param fit: the fit.
    :param d_best: ``d`` of the curve's best measured point.
    :param gain_best: its gold gain.
    """

    label: str
    variant: str
    fit: Fit
    d_best: float
    gain_best: float


def curve_fits(curve: Curve, gold0: float, variant: str = "form") -> CurveFit | None:
    """Fit a form to ``curve``'s gold reward minus ``gold0`` (``pi_ref``'s, at ``d = 0``):
    best-of-n's form to best-of-n and the RL form to PPO (``variant="form"`` or
    ``"intercept"``), or the other one (``"other form"``); ``None`` if too few points."""
    own = "bon" if curve.method == "bon" else "rl"
    form = ("rl" if own == "bon" else "bon") if variant == "other form" else own
    d = curve.column("d")
    gain = curve.column("gold_reward") - gold0
    best = int(np.argmax(gain))
    try:
        fit = fit_form(form, d, gain, intercept=variant == "intercept")
    except ValueError:
        return None
    return CurveFit(_label(curve), variant, fit, float(d[best]), float(gain[best]))


def _fits(curves: Sequence[Curve], gold0: float, variant: str) -> list[CurveFit]:
    found = (curve_fits(c, gold0, variant) for c in curves)
    return [f for f in found if f is not None]


def fits_table(fits: Sequence[CurveFit]) -> str:
    """The fits as a Markdown table, with a verdict per row."""
    with_c = any(f.variant == "intercept" for f in fits)
    rows = []
    for cf in fits:
        f = cf.fit
        r2: Any = f.r2 if not f.r2 < -10 else "< -10"
        row = [cf.label, f.form, f.alpha, f.beta, *([f.intercept] if with_c else []), r2,
               f.d_peak, f.r_peak, cf.d_best, cf.gain_best, f"{f.d_min:.2f}-{f.d_max:.2f}",
               assess(f)]  # fmt: skip
        rows.append(row)
    header = ["curve", "form", "alpha", "beta", *(["c"] if with_c else []), "R^2", "d* (fit)",
              "gain at d*", "d of best point", "best gain", "d range", "verdict"]  # fmt: skip
    return markdown_table(header, rows)


def run_overoptimisation(
    out: str | Path,
    settings: StudySettings,
    runs: str | Path | None = None,
    rm_sizes: Mapping[int, str] | None = None,
    argv: Sequence[str] | None = None,
    log: Any = print,
    started: float | None = None,
) -> dict[str, Any]:
    """Run the study and write ``results.csv``, ``fits.csv``, ``results.md`` and
    ``overoptimisation.png`` into ``out``.

    :param out: the output folder (new, empty, or this study's earlier output).
    :param settings: budgets and grids.
    :param runs: runs and caches (default ``out/runs``); shared runs are reused.
    :param rm_sizes: preference pairs -> reward-model spec of the size study (``None`` /
        empty: no size study).
    :param argv: the command line, for results.md.
    :param started: ``time.perf_counter()`` when the command started (default: now).
    :return: ``{"curves", "fits", "reference", "seconds"}``.
    """
    start = time.perf_counter() if started is None else started
    out = check_out(out, COMMAND)
    runs_dir = Path(runs) if runs is not None else out / "runs"
    mark_out(out, COMMAND)
    data = StudyData.load(settings, runs_dir, log)
    ref = data.reference_gold()
    rm = settings.reward_model
    curves = [bon_curve(data, rm)]
    curves += [ppo_curve(data, kl, 0, rm) for kl in settings.kl_coefs]
    sized: list[Curve] = []
    for pairs, spec in sorted((rm_sizes or {}).items()):
        sized.append(bon_curve(data, spec, rm_pairs=pairs))
        sized.append(ppo_curve(data, 0.0, 0, spec, rm_pairs=pairs))
    gold0 = ref["gold_reward"]
    fits = _fits(curves + sized, gold0, "form")
    ppo = [c for c in curves + sized if c.method == "ppo"]
    extra = _fits(ppo, gold0, "intercept") + _fits(curves, gold0, "other form")
    seconds = time.perf_counter() - start
    atomic_write_text(out / "results.csv", curves_csv(curves + sized))
    atomic_write_text(out / "fits.csv", _fits_csv(fits + extra))
    _plot(out / PLOT, curves, sized, ref["gold_reward"], fits)
    md = _markdown(settings, data, ref, curves, sized, fits, extra, seconds, command_line(argv))
    atomic_write_text(out / "results.md", md)
    log(f"results: {out}/results.md, results.csv, fits.csv, {PLOT} ({seconds:.0f} s)")
    return {"curves": curves + sized, "fits": fits, "reference": ref, "seconds": seconds}


def _fits_csv(fits: Sequence[CurveFit]) -> str:
    keys = ["alpha", "beta", "intercept", "r2", "d_peak", "r_peak", "d_min", "d_max"]
    lines = [",".join(["curve", "variant", "form", *keys, "points", "d_best", "gain_best"])]
    for cf in fits:
        values = [f"{getattr(cf.fit, k):.6g}" for k in keys]
        lines.append(",".join([cf.label, cf.variant, cf.fit.form, *values, str(cf.fit.points),
                               f"{cf.d_best:.6g}", f"{cf.gain_best:.6g}"]))  # fmt: skip
    return "\n".join(lines) + "\n"


def _bon_rows(c: Curve) -> list[list[Any]]:
    return [
        [
            p["n"],
            p["kl_bound"],
            p["kl"],
            p["d"],
            p["gold_reward"],
            p["gold_success"],
            p["proxy_reward"],
            p["degenerate"],
        ]
        for p in c.points
    ]


def _ppo_rows(c: Curve) -> list[list[Any]]:
    return [
        [
            p["step"],
            p["kl"],
            p["d"],
            p["gold_reward"],
            p["gold_success"],
            p["proxy_reward"],
            p["degenerate"],
            p["length"],
            p["perplexity"],
            p["distinct_2"],
        ]
        for p in c.points
    ]


def _size_rows(curves: Sequence[Curve], fits: Sequence[CurveFit], gold0: float) -> list[list[Any]]:
    """Per reward model (fewest pairs first, the study's own proxy last as "all") and
    method: the fitted and the measured gold peak."""
    by_label = {f.label: f for f in fits if f.variant == "form"}
    order = sorted(curves, key=lambda c: (c.rm_pairs is None, c.rm_pairs or 0, c.method))
    rows = []
    for c in order:
        cf = by_label.get(_label(c))
        pairs = "all" if c.rm_pairs is None else f"{c.rm_pairs:,}"
        rows.append([
            pairs, heldout_accuracy(c.reward_model),
            "best-of-n" if c.method == "bon" else "PPO kl_coef 0",
            math.nan if cf is None else cf.fit.d_peak,
            math.nan if cf is None else cf.d_best,
            math.nan if cf is None else cf.gain_best + gold0,
            c.points[-1]["d"], c.points[-1]["gold_reward"],
        ])  # fmt: skip
    return rows


def _markdown(
    settings: StudySettings,
    data: StudyData,
    ref: Mapping[str, float],
    curves: Sequence[Curve],
    sized: Sequence[Curve],
    fits: Sequence[CurveFit],
    extra: Sequence[CurveFit],
    seconds: float,
    command: str,
) -> str:
    s = settings
    lines = [
        "# Reward over-optimisation in `SafetyRLHF-Text-v0` (after Gao et al. 2022)",
        "",
        f"Proxy reward: `{s.reward_model}`. Gold: the exact judge's gold reward. "
        f"`d = sqrt(KL(pi || pi_ref))`, KL in nats summed over the response's tokens, mean "
        f"over prompts. {prompt_mix(data.table.prompts)}, drawn from the test split with "
        f"seed {s.prompt_seed} (`study_prompts`).",
        "",
        f"- **Best-of-n**: {s.samples} responses sampled from `pi_ref` per prompt (seed "
        f"{s.sample_seed}; {len(data.table.ids):,} distinct texts); best-of-n computed "
        "exactly under their empirical distribution (ties in the proxy broken uniformly at "
        "random), KL measured against it, next to the bound `log n - (n-1)/n`.",
        f"- **PPO**: the text env's PPO defaults from the policy fitted to `pi_ref`, "
        f"{s.timesteps:,} steps, seed 0, one run per `kl_coef`; {s.snapshots} snapshots "
        "(step 0 = the fitted start, then geometrically spaced steps), each answering every "
        f"prompt {s.eval_samples} times by sampling; KL is the exact sequence KL of those "
        "responses.",
        f"- **pi_ref itself** (d = 0): gold reward {ref['gold_reward']:.3f}, gold success "
        f"{ref['gold_success']:.3f}, degenerate {ref['degenerate']:.3f}; the gains below are "
        "gold reward minus this.",
        "",
        f"![gold and proxy against d]({PLOT})",
        "",
        "## Fits",
        "",
        "`R_bon(d) = d (alpha - beta d)` for best-of-n, `R_RL(d) = d (alpha - beta log d)` for "
        "PPO, least squares on the points with d > 0 of gold gain against d. `d*` is the "
        "fitted form's peak; the best point is the measured one.",
        "",
        fits_table(fits),
        "",
        "PPO does not start at `pi_ref` but at the policy fitted to it, some nats away (its "
        "step-0 KL), so its curve has no points near d = 0 and the forms above are pinned "
        "to the origin far from its data. The same form with a free constant, "
        "`c + d (alpha - beta log d)` (same peak formula):",
        "",
        fits_table([f for f in extra if f.variant == "intercept"]),
        "",
        "Each method's curve under the other method's form (through the origin):",
        "",
        fits_table([f for f in extra if f.variant == "other form"]),
        "",
    ]
    if sized:
        lines += [
            "## Reward-model size",
            "",
            "Text reward models trained with the settings and seed of the proxy on the "
            "shipped strategy pairs plus the first N text preference pairs "
            "(`train_text_reward_model`; 'all' is the proxy itself), with their accuracy on "
            "the shipped held-out text pairs; best-of-n and PPO (kl_coef 0) against each "
            "(Gao et al.: better reward models over-optimise later, i.e. larger d* and "
            "higher peak gold). Gold is always the judge's.",
            "",
            markdown_table(
                [
                    "RM text pairs",
                    "RM held-out text accuracy",
                    "method",
                    "d* (fit)",
                    "d of best point",
                    "best gold",
                    "final d",
                    "final gold",
                ],
                _size_rows(
                    [*sized, *(c for c in curves if c.method == "bon" or c.kl_coef == 0)],
                    fits,
                    ref["gold_reward"],
                ),
            ),
            "",
        ]
    for c in curves:
        lines += [f"## {c.name}", ""]
        if c.method == "bon":
            header = ["n", "KL bound", "KL", "d", "gold", "success", "proxy", "degenerate"]
            lines.append(markdown_table(header, _bon_rows(c)))
        else:
            header = [
                "step",
                "KL",
                "d",
                "gold",
                "success",
                "proxy",
                "degenerate",
                "length",
                "perplexity",
                "distinct-2",
            ]
            lines.append(markdown_table(header, _ppo_rows(c)))
            lines += ["", f"Run folder: `{c.run_dir}`."]
        lines.append("")
    lines += [
        "## Settings and command",
        "",
        *settings_lines(s.describe()),
        "",
        *wall_clock_lines(seconds, [*curves, *sized], command),
    ]
    return "\n".join(lines)


def _plot(
    path: Path,
    curves: Sequence[Curve],
    sized: Sequence[Curve],
    gold0: float,
    fits: Sequence[CurveFit],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fit_of = {f.label: f.fit for f in fits if f.variant == "form"}
    panels = 4 if sized else 3
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2))
    colors = plt.get_cmap("tab10")
    for i, c in enumerate(curves):
        d = c.column("d")
        style = "o-" if c.method == "bon" else "s-"
        axes[0].plot(d, c.column("gold_reward") - gold0, style, color=colors(i), ms=3, label=c.name)
        f = fit_of.get(_label(c))
        if f is not None:
            grid = np.linspace(0.0, max(d.max(), 1e-3), 100)
            axes[0].plot(grid, predict(f.form, f.alpha, f.beta, grid), "--", color=colors(i), lw=1)
        proxy = c.column("proxy_reward")
        axes[1].plot(
            d,
            proxy - curves[0].points[0]["proxy_reward"],
            style,
            color=colors(i),
            ms=3,
            label=c.name,
        )
        axes[2].plot(d, c.column("gold_success"), style, color=colors(i), ms=3, label=c.name)
    axes[0].set_title("gold reward gain (dashed: fitted form)")
    axes[1].set_title("proxy reward gain")
    axes[2].set_title("gold success")
    if sized:
        for i, c in enumerate(sized):
            style = "o-" if c.method == "bon" else "s--"
            axes[3].plot(
                c.column("d"),
                c.column("gold_reward") - gold0,
                style,
                ms=3,
                color=colors(i // 2),
                label=_label(c),
            )
        axes[3].set_title("gold gain by reward-model pairs")
    for ax in axes:
        ax.set_xlabel("d = sqrt(KL(pi || pi_ref))")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)
