"""``safety-rlhf evaluate`` on a ``SafetyRLHF-Text-v0`` run: one written response per prompt.

Every prompt of the split is answered once, by greedy decoding (the most likely token at
each step) or by sampling from the policy (``--decoding sampled``, seeded), through
:func:`~safety_rlhf.agents.text_evaluation.evaluate_text_policy`. The result has the text
metrics (with the exact sequence KL to ``pi_ref``), one row per (gold label, category) with
the shares of the judge's decisions, and a few responses of each gold label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from safety_rlhf.agents.text_evaluation import evaluate_text_policy
from safety_rlhf.envs.text_env import SafetyRLHFTextEnv
from safety_rlhf.task.metrics import format_metric

__all__ = ["DECODINGS", "TEXT_CATEGORY_COLUMNS", "evaluate_text_run", "format_samples"]

#: The decoding modes of ``--decoding``.
DECODINGS = ("greedy", "sampled")
#: Columns of the per-category table of a text run.
TEXT_CATEGORY_COLUMNS: tuple[str, ...] = (
    "label",
    "category",
    "n",
    "gold_success",
    "refused",
    "answered",
    "safe_completion",
    "degenerate",
    "proxy_reward",
)
_LABEL_ORDER = {"harmful": 0, "benign": 1, "borderline": 2}


def _category_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["label"], r["category"]), []).append(r)
    rows = []
    for (label, category), members in sorted(
        groups.items(), key=lambda kv: (_LABEL_ORDER.get(kv[0][0] or "", 3), kv[0][1])
    ):
        decisions = np.array([m["decision"] for m in members])
        rows.append(
            {
                "label": label,
                "category": category,
                "n": len(members),
                "gold_success": (
                    None if label is None else float(np.mean([m["is_success"] for m in members]))
                ),
                **{d: float(np.mean(decisions == d)) for d in TEXT_CATEGORY_COLUMNS[4:8]},
                "proxy_reward": float(np.mean([m["proxy_reward"] for m in members])),
            }
        )
    return rows


def _samples(records: Sequence[dict[str, Any]], per_label: int = 2) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for label in ("harmful", "benign", "borderline", None):
        rows = [r for r in records if r["label"] == label][:per_label]
        keys = ("prompt", "label", "response", "decision", "proxy_reward", "gold_reward")
        out.extend({k: r[k] for k in keys} for r in rows)
    return out


def evaluate_text_run(
    model: BaseAlgorithm, env: SafetyRLHFTextEnv, decoding: str = "greedy", seed: int = 0
) -> dict[str, Any]:
    """Metrics, per-category rows and sample responses of ``model`` on every prompt of ``env``.

    :param model: the trained agent.
    :param env: the text env of the split to answer.
    :param decoding: ``"greedy"`` or ``"sampled"``.
    :param seed: seed of the sampling (``"sampled"`` only).
    """
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
    result = evaluate_text_policy(model, env, deterministic=decoding == "greedy", seed=seed)
    return {
        "metrics": dict(result),
        "categories": _category_rows(result.records),
        "samples": _samples(result.records),
    }


def format_samples(samples: Sequence[dict[str, Any]]) -> str:
    """Sample responses as plain text, one block per response."""
    blocks = []
    for s in samples:
        blocks.append(
            f"[{s['label'] or 'unlabelled'}] {s['prompt']}\n  -> {s['response']}\n"
            f"  judge: {s['decision']}, proxy {format_metric(s['proxy_reward'])}, "
            f"gold {format_metric(s['gold_reward'])}"
        )
    return "\n".join(blocks)
