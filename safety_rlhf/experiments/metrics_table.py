"""The plain-text table of safety metrics that ``train`` and ``evaluate`` print."""

from __future__ import annotations

from safety_rlhf.task.metrics import METRIC_NAMES, format_metric

__all__ = ["metrics_table"]


def metrics_table(metrics: dict[str, dict[str, float | None]]) -> str:
    """A plain-text table, one row per metric and one column per split.

    >>> print(metrics_table({"test": {m: 0.5 for m in METRIC_NAMES[:1]} | {
    ...     m: None for m in METRIC_NAMES[1:]}}).splitlines()[2])
    gold_success          0.500
    """
    splits = list(metrics)
    width = max(len(n) for n in METRIC_NAMES)
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{s:>7}" for s in splits)]
    lines.append("-" * len(lines[0]))
    extra = [n for n in metrics[splits[0]] if n not in METRIC_NAMES]  # e.g. proxy_cost
    for name in (*METRIC_NAMES, *extra):
        cells = "  ".join(f"{format_metric(metrics[s].get(name)):>7}" for s in splits)
        lines.append(f"{name:<{width}}  {cells}")
    return "\n".join(lines)
