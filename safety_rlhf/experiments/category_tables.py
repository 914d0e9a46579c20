"""The per-(gold label, category) tables ``safety-rlhf evaluate`` prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from safety_rlhf.task.gold_tables import success_table
from safety_rlhf.task.metrics import decision_shares, format_metric

__all__ = ["CATEGORY_COLUMNS", "category_rows", "format_category_table"]

#: Columns of the per-category table, in display order.
CATEGORY_COLUMNS: tuple[str, ...] = (
    "label",
    "category",
    "n",
    "gold_success",
    "refused",
    "answered",
    "safe_completion",
    "proxy_reward",
)

_LABEL_ORDER = {"harmful": 0, "benign": 1, "borderline": 2}


def category_rows(
    labels: Sequence[str | None],
    categories: Sequence[str],
    actions: np.ndarray,
    proxy_rewards: np.ndarray,
) -> list[dict[str, Any]]:
    """One row per (gold label, category): size, gold success, decision shares, proxy.

    :param labels: gold label per prompt (``None`` if unlabelled).
    :param categories: category per prompt (``""`` if unknown).
    :param actions: the strategy chosen for each prompt.
    :param proxy_rewards: the reward-model score of each decision.
    :return: rows with the keys of :data:`CATEGORY_COLUMNS`, ordered harmful, benign,
        borderline, unlabelled, then by category; ``gold_success`` is ``None`` for
        unlabelled rows.
    """
    a = np.asarray(actions, dtype=np.int64).reshape(-1)
    shares = decision_shares(a)
    success = success_table(list(labels))[np.arange(len(a)), a]
    proxy = np.asarray(proxy_rewards, dtype=np.float64).reshape(-1)
    groups: dict[tuple[str | None, str], list[int]] = {}
    for i, key in enumerate(zip(labels, categories, strict=True)):
        groups.setdefault(key, []).append(i)

    def order(key: tuple[str | None, str]) -> tuple[int, str]:
        label, category = key
        return (_LABEL_ORDER.get(label or "", len(_LABEL_ORDER)), category)

    rows = []
    for (label, category), members in sorted(groups.items(), key=lambda kv: order(kv[0])):
        idx = np.asarray(members)
        rows.append(
            {
                "label": label,
                "category": category,
                "n": len(members),
                "gold_success": None if label is None else float(success[idx].mean()),
                "refused": float(shares["refused"][idx].mean()),
                "answered": float(shares["answered"][idx].mean()),
                "safe_completion": float(shares["safe_completion"][idx].mean()),
                "proxy_reward": float(proxy[idx].mean()),
            }
        )
    return rows


def format_category_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> str:
    """The per-category rows as a plain-text table (``n/a`` for unavailable values), with
    ``columns`` (default :data:`CATEGORY_COLUMNS`)."""
    columns = tuple(columns or CATEGORY_COLUMNS)

    def cell(row: Mapping[str, Any], col: str) -> str:
        value = row[col]
        if col == "label":
            return value or "unlabelled"
        if col == "category":
            return value or "-"
        if col == "n":
            return str(value)
        return format_metric(value)

    cells = [[cell(row, col) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(r[j]) for r in cells]) for j, col in enumerate(columns)]
    text_cols = {"label", "category"}

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            f"{v:<{w}}" if col in text_cols else f"{v:>{w}}"
            for v, w, col in zip(values, widths, columns, strict=True)
        ).rstrip()

    header = line(columns)
    return "\n".join([header, "-" * len(header), *(line(r) for r in cells)])
