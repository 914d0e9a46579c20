"""The tables and summary lines that ``reproduce behavior-controlled`` prints and saves."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from safety_rlhf.experiments.reproduce.one_parameter import PUBLISHED
from safety_rlhf.task.metrics import format_metric

__all__ = [
    "EPOCH_COLUMNS",
    "METHOD_COLUMNS",
    "corpus_summary",
    "format_epoch_table",
    "format_method_table",
    "results_markdown",
    "toy_agents_summary",
    "toy_summary",
]

#: Columns of the per-epoch table of part (a), as printed.
EPOCH_COLUMNS: tuple[str, ...] = ("epoch", "safe", "safety", "reward_sum", "p")
#: Columns of the method tables of parts (b) and (c), as printed.
METHOD_COLUMNS: tuple[str, ...] = (
    "method",
    "safety_score",
    "gold_success",
    "harmful_refusal",
    "over_refusal",
    "benign_help",
)


def format_epoch_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The per-epoch rows of :func:`toy_one_parameter_training` as a plain-text table."""
    header = f"{'epoch':>5}  {'safe':>4}  {'safety':>6}  {'reward_sum':>10}  {'p':>5}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['epoch']:>5}  {r['safe']:>4}  {r['safety']:>6.2f}  "
            f"{r['reward_sum']:>+10.0f}  {r['p']:>5.2f}"
        )
    return "\n".join(lines)


def toy_summary(
    rows: Sequence[Mapping[str, Any]], at_one: Sequence[float], at_zero: Sequence[float], p0: float
) -> dict[str, Any]:
    safety = [r["safety"] for r in rows]
    first_safety_one = next((r["epoch"] for r in rows if r["safety"] == 1.0), None)
    first_p_one = next((r["epoch"] for r in rows if r["p"] == 1.0), None)
    converged = None
    for k in range(len(rows)):
        if all(s == 1.0 for s in safety[k:]):
            converged = rows[k]["epoch"]
            break
    # The README counts epochs from 0: its "epoch 7" is the 8th epoch, ours 8.
    published_epoch = PUBLISHED["convergence_epoch"] + 1
    reproduced = converged == published_epoch and p0 == PUBLISHED["initial_safety"]
    by_published = at_one[published_epoch - 1] if len(at_one) >= published_epoch else None
    final_p = rows[-1]["p"] if rows else p0
    verdict = "reproduced" if reproduced else "NOT reproduced"
    where = (
        f"first reaches 1.0 at epoch {first_safety_one}"
        if first_safety_one is not None
        else "never reaches 1.0"
    )
    text = (
        f"(a) {verdict}: published safety 0.25 -> 1.0 converging at epoch 7 (counted from 0, "
        f"our epoch 8); here p goes {p0:.2f} -> {final_p:.2f} and the sampled safety {where}"
        + (f" and stays 1.0 from epoch {converged}" if converged is not None else "")
        + f". Exactly, from p0 = {p0:.2f}: P(p = 1.0 after {len(rows)} epochs) = "
        f"{at_one[-1]:.3f}"
        + (f", by our epoch 8 {by_published:.3f}" if by_published is not None else "")
        + f"; P(p stuck at 0.0) = {at_zero[-1]:.3f} (0 is absorbing: an UNSAFE response is "
        "always sampled and always punished)."
    )
    return {
        "first_epoch_safety_1": first_safety_one,
        "first_epoch_p_1": first_p_one,
        "converged_epoch": converged,
        "final_p": final_p,
        "final_safety": safety[-1] if safety else None,
        "reproduced": reproduced,
        "summary": text,
    }


def format_method_table(methods: Mapping[str, Mapping[str, Any]]) -> str:
    """Methods as rows, :data:`METHOD_COLUMNS` as columns (``n/a`` when unavailable)."""
    width = max([len("method")] + [len(m) for m in methods])
    header = f"{'method':<{width}}  " + "  ".join(f"{c:>15}" for c in METHOD_COLUMNS[1:])
    lines = [header, "-" * len(header)]
    for name, row in methods.items():
        cells = "  ".join(f"{format_metric(row.get(c)):>15}" for c in METHOD_COLUMNS[1:])
        lines.append(f"{name:<{width}}  {cells}")
    return "\n".join(lines)


def toy_agents_summary(methods: Mapping[str, Mapping[str, Any]]) -> str:
    parts = [
        f"{name} safety score {row['safety_score']:.2f} / gold_success {row['gold_success']:.2f}"
        for name, row in methods.items()
    ]
    return (
        "(b) " + "; ".join(parts) + ". The published objective is the refusal share: refusing "
        "all four prompts scores safety 1.0 while handling the two benign ones wrongly "
        "(gold_success 0.50), and a policy that cannot see the prompt has expected "
        "gold_success 0.50 whatever its p."
    )


def corpus_summary(methods: Mapping[str, Mapping[str, Any]]) -> str:
    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    by_safety = max(methods, key=lambda m: methods[m]["safety_score"])
    by_gold = max(methods, key=lambda m: methods[m]["gold_success"] or 0.0)
    one = methods["one-parameter"]
    return (
        f"(c) highest safety score: {by_safety} ({fmt(methods[by_safety]['safety_score'])}, "
        f"gold_success {fmt(methods[by_safety]['gold_success'])}); highest gold_success: "
        f"{by_gold} ({fmt(methods[by_gold]['gold_success'])}). The one-parameter policy refuses "
        f"harmful and benign prompts alike (harmful_refusal {fmt(one['harmful_refusal'])} = "
        f"over_refusal {fmt(one['over_refusal'])}): the safety score does not measure safety "
        "on a corpus with benign prompts; gold_success does."
    )


def results_markdown(results: Mapping[str, Any]) -> str:
    """``results.md``: the three tables and summaries."""

    def table(methods: Mapping[str, Mapping[str, Any]]) -> list[str]:
        lines = ["| " + " | ".join(METHOD_COLUMNS) + " |", "|---" * len(METHOD_COLUMNS) + "|"]
        for name, row in methods.items():
            cells = [format_metric(row.get(c)) for c in METHOD_COLUMNS[1:]]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return lines

    cfg = results["config"]
    toy = results["toy"]
    out = [
        "# behavior-controlled RLHF, reproduced",
        "",
        f"Config: `{json.dumps(cfg)}`",
        "",
        "## (a) one-parameter policy on the four published prompts",
        "",
        "| " + " | ".join(EPOCH_COLUMNS) + " |",
        "|---" * len(EPOCH_COLUMNS) + "|",
    ]
    for r in toy["epochs"]:
        out.append(
            f"| {r['epoch']} | {r['safe']} | {r['safety']:.2f} | {r['reward_sum']:+.0f} | "
            f"{r['p']:.2f} |"
        )
    out += ["", toy["summary"], "", "## (b) PPO / TRPO on the four prompts", ""]
    out += table(results["toy_agents"]["methods"])
    out += ["", results["toy_agents"]["summary"], "", "## (c) full corpus, gold reward", ""]
    out += table(results["corpus"]["methods"])
    out += ["", results["corpus"]["summary"], ""]
    return "\n".join(out)
