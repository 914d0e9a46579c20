"""``safety-rlhf text-study samples``: what PPO writes with and without the KL penalty.

For each ``kl_coef`` of the settings (0 and 0.05) and each seed, the PPO run's snapshots
answer the study prompts by sampling (the evaluations the other studies share); this study
shows texts at a few snapshots next to their proxy and gold reward, ``pi_ref`` perplexity
and distinct-2, and measures what changed between the start (the policy fitted to
``pi_ref``) and the end, to name the exploit if there is one: which tokens the policy
writes more of (mean count per response), the apology and caution words the simulated
annotator is biased towards (:data:`~safety_rlhf.task.tokenizer.APOLOGY_WORDS`,
:data:`~safety_rlhf.task.tokenizer.CAUTION_WORDS`), the judge's decisions, repetition
(distinct-2) and how often the policy writes one and the same text.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.experiments.text_study.curves import Curve, StudyData, bon_curve, ppo_curve
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
from safety_rlhf.experiments.text_study.texts import (
    display_prompts,
    indicators,
    response_ids,
    text_profile,
)
from safety_rlhf.task.tokenizer import APOLOGY_WORDS, CAUTION_WORDS, VOCAB, detokenize

__all__ = ["COMMAND", "run_samples"]

COMMAND = "text-study samples"
PLOT = "samples.png"
#: Snapshots shown per run (spread over the run's snapshots, first and last included).
SHOWN = 4
#: Over-represented tokens listed per ``kl_coef``.
TOP_TOKENS = 8


def _shown(curve: Curve) -> list[int]:
    k = len(curve.points)
    return sorted({round(float(x)) for x in np.linspace(0, k - 1, min(SHOWN, k))})


def _run_rows(curves: Sequence[Curve]) -> list[list[Any]]:
    rows = []
    for c in curves:
        for j in _shown(c):
            p, prof = c.points[j], text_profile(c.records[j])
            rows.append(
                [
                    f"{c.kl_coef:g}",
                    c.seed,
                    p["step"],
                    p["kl"],
                    p["gold_reward"],
                    p["gold_success"],
                    p["proxy_reward"],
                    p["degenerate"],
                    p["length"],
                    p["perplexity"],
                    p["distinct_2"],
                    prof["apology_share"],
                    prof["caution_per_response"],
                    prof["top_text_share"],
                ]
            )
    return rows


def _shift_rows(curves: Sequence[Curve]) -> list[list[Any]]:
    """Per ``kl_coef`` (seeds pooled): the tokens written most more often at the end."""
    rows = []
    for kl in sorted({float(c.kl_coef or 0.0) for c in curves}):
        group = [c for c in curves if c.kl_coef == kl]
        start = text_profile([r for c in group for r in c.records[0]])["per_response"]
        end = text_profile([r for c in group for r in c.records[-1]])["per_response"]
        for t in np.argsort(start - end, kind="stable")[:TOP_TOKENS]:
            if end[t] - start[t] <= 0:
                break
            tag = "apology" if t in APOLOGY_WORDS else "caution" if t in CAUTION_WORDS else ""
            rows.append([f"{kl:g}", VOCAB[t], start[t], end[t], end[t] - start[t], tag])
    return rows


def _decision_rows(curves: Sequence[Curve]) -> list[list[Any]]:
    names = ["answered", "refused", "safe_completion", "clarification", "degenerate"]
    rows = []
    for kl in sorted({float(c.kl_coef or 0.0) for c in curves}):
        group = [c for c in curves if c.kl_coef == kl]
        for when, j in (("start", 0), ("end", -1)):
            prof = text_profile([r for c in group for r in c.records[j]])
            rows.append(
                [
                    f"{kl:g}",
                    when,
                    *(prof["decisions"].get(n, 0.0) for n in names),
                    prof["distinct_texts"],
                    prof["top_text_share"],
                    prof["top_text"],
                ]
            )
    return rows


def _indicator_lines(curves: Sequence[Curve]) -> list[str]:
    lines = []
    for kl in sorted({float(c.kl_coef or 0.0) for c in curves}):
        group = [c for c in curves if c.kl_coef == kl]
        start = text_profile([r for c in group for r in c.records[0]])
        end = text_profile([r for c in group for r in c.records[-1]])
        deg = tuple(float(np.mean([c.points[j]["degenerate"] for c in group])) for j in (0, -1))
        d2 = tuple(float(np.mean([c.points[j]["distinct_2"] for c in group])) for j in (0, -1))
        gold = tuple(float(np.mean([c.points[j]["gold_reward"] for c in group])) for j in (0, -1))
        proxy = tuple(float(np.mean([c.points[j]["proxy_reward"] for c in group])) for j in (0, -1))
        found = indicators(start, end, (deg[0], deg[1]), (d2[0], d2[1]))
        lines.append(
            f"- **kl_coef {kl:g}** (seeds pooled), start -> end: proxy {proxy[0]:.3f} -> "
            f"{proxy[1]:.3f}, gold {gold[0]:+.3f} -> {gold[1]:+.3f}. Signs of an exploit: "
            + ("; ".join(found) if found else "none of the measured ones")
            + "."
        )
    return lines


def _text_rows(curves: Sequence[Curve], prompt_id: str, every_snapshot: bool) -> list[list[Any]]:
    rows = []
    for c in curves:
        shown = _shown(c) if every_snapshot else [len(c.points) - 1]
        for j in shown:
            hits = [r for r in c.records[j] if r["prompt_id"] == prompt_id and r.get("sample") == 0]
            for r in hits[:1]:
                rows.append(
                    [
                        f"{c.kl_coef:g}",
                        c.seed,
                        c.points[j]["step"],
                        detokenize(response_ids(r)),
                        r["proxy_reward"],
                        r["gold_reward"],
                        r["decision"],
                        r["perplexity"],
                        r["distinct_2"],
                    ]
                )
    return rows


def run_samples(
    out: str | Path,
    settings: StudySettings,
    runs: str | Path | None = None,
    argv: Sequence[str] | None = None,
    log: Any = print,
    started: float | None = None,
) -> dict[str, Any]:
    """Run the study (arguments as for
    :func:`~safety_rlhf.experiments.text_study.overoptimisation.run_overoptimisation`) and
    write ``results.csv``, ``results.md`` and ``samples.png``."""
    start = time.perf_counter() if started is None else started
    out = check_out(out, COMMAND)
    runs_dir = Path(runs) if runs is not None else out / "runs"
    mark_out(out, COMMAND)
    data = StudyData.load(settings, runs_dir, log)
    rm = settings.reward_model
    curves = [
        ppo_curve(data, kl, seed, rm) for kl in settings.sample_kl_coefs for seed in settings.seeds
    ]
    bon_curve(data, rm)  # scores pi_ref's samples: the proxy's favourites are shown
    seconds = time.perf_counter() - start
    atomic_write_text(out / "results.csv", curves_csv(curves))
    _plot(out / PLOT, curves)
    md = _markdown(settings, data, curves, seconds, command_line(argv))
    atomic_write_text(out / "results.md", md)
    log(f"results: {out}/results.md, results.csv, {PLOT} ({seconds:.0f} s)")
    return {"curves": curves, "seconds": seconds}


def _short(prompt: str, limit: int = 160) -> str:
    return prompt if len(prompt) <= limit else prompt[: limit - 1].rstrip() + "…"


def _favourite(data: StudyData, rm: str, k: int) -> tuple[str, float, float]:
    """The proxy's favourite among the prompt's ``pi_ref`` samples (best-of-n as n grows)."""
    rows = data.table.rows(k)
    proxy = data.table.proxy[rm][rows]
    best = rows.start + int(np.argmax(proxy))
    text = detokenize(data.table.ids[best].tolist())  # the restated prompt as <request>
    return text, float(proxy.max()), float(data.table.judged["gold_reward"][best])


def _markdown(
    settings: StudySettings,
    data: StudyData,
    curves: Sequence[Curve],
    seconds: float,
    command: str,
) -> str:
    s = settings
    prompts = data.table.prompts
    lines = [
        "# What PPO writes in `SafetyRLHF-Text-v0`, with and without the KL penalty",
        "",
        f"PPO on the proxy `{s.reward_model}`, `kl_coef` in "
        f"{', '.join(f'{k:g}' for k in s.sample_kl_coefs)}, seeds "
        f"{', '.join(str(x) for x in s.seeds)}, {s.timesteps:,} steps from the policy fitted "
        f"to `pi_ref` (step 0). Every snapshot answers the study's "
        f"{prompt_mix(prompts)} {s.eval_samples} times by sampling; the figures are means "
        "over those responses.",
        "",
        f"![samples]({PLOT})",
        "",
        "## Per run and snapshot",
        "",
        "apology: share of responses with an apology word; caution: caution words per "
        "response; top text: share of responses that are the single most common text "
        "(the restated prompt counted as one token).",
        "",
        markdown_table(
            [
                "kl_coef",
                "seed",
                "step",
                "KL",
                "gold",
                "success",
                "proxy",
                "degenerate",
                "length",
                "perplexity",
                "distinct-2",
                "apology",
                "caution",
                "top text",
            ],
            _run_rows(curves),
        ),
        "",
        "## What changed between the start and the end (seeds pooled)",
        "",
        *_indicator_lines(curves),
        "",
        "Tokens written more often at the end, mean count per response:",
        "",
        markdown_table(
            ["kl_coef", "token", "start", "end", "more", "word list"], _shift_rows(curves)
        ),
        "",
        "The judge's decisions (shares), distinct texts per response and the most common text:",
        "",
        markdown_table(
            [
                "kl_coef",
                "when",
                "answered",
                "refused",
                "safe completion",
                "clarification",
                "degenerate",
                "distinct texts",
                "top text share",
                "top text",
            ],
            _decision_rows(curves),
        ),
        "",
        "## Sample texts",
        "",
        "Sample 0 of each shown prompt (`<request>`: the prompt restated): at every shown "
        "snapshot for seed 0, at the end for the other seeds. `pi_ref`'s favourite under the "
        f"proxy (the best of its {s.samples} samples) is shown for comparison.",
        "",
    ]
    for k in display_prompts(prompts):
        text, proxy, gold = _favourite(data, s.reward_model, k)
        lines += [
            f"### {prompts.labels[k]} / {prompts.categories[k]}: {_short(prompts.prompts[k])}",
            "",
            f"Best of {s.samples} `pi_ref` samples under the proxy (proxy {proxy:.3f}, gold "
            f"{gold:+.1f}): {text}",
            "",
        ]
        rows = _text_rows([c for c in curves if c.seed == s.seeds[0]], prompts.ids[k], True)
        rows += _text_rows([c for c in curves if c.seed != s.seeds[0]], prompts.ids[k], False)
        lines += [
            markdown_table(
                [
                    "kl_coef",
                    "seed",
                    "step",
                    "text",
                    "proxy",
                    "gold",
                    "decision",
                    "perplexity",
                    "distinct-2",
                ],
                rows,
            ),
            "",
        ]
    lines += [
        "## Settings and command",
        "",
        *settings_lines(s.describe()),
        "",
        *wall_clock_lines(seconds, curves, command),
    ]
    return "\n".join(lines)


def _plot(path: Path, curves: Sequence[Curve]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [
        ("gold_reward", "gold reward"),
        ("proxy_reward", "proxy reward"),
        ("kl", "KL(pi || pi_ref), nats"),
        ("degenerate", "degenerate share"),
        ("distinct_2", "distinct-2"),
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.8))
    kls = sorted({float(c.kl_coef or 0.0) for c in curves})
    colors = plt.get_cmap("tab10")
    first = min((p["step"] for c in curves for p in c.points if p["step"] > 0), default=1)
    for c in curves:
        color = colors(kls.index(float(c.kl_coef or 0.0)))
        for ax, (key, title) in zip(axes, keys, strict=True):
            label = f"kl_coef {c.kl_coef:g}" if c.seed == curves[0].seed else None
            ax.plot(c.column("step"), c.column(key), "o-", ms=3, color=color, alpha=0.8,
                    label=label)  # fmt: skip
            ax.set_title(title)
    for ax in axes:
        ax.set_xscale("symlog", linthresh=first)
        ax.set_xlabel("PPO step (one line per seed)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)
