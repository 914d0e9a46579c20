"""The plain-text table of safety metrics that ``train`` and ``evaluate`` print."""

from __future__ import annotations

from safety_rlhf.metrics import METRIC_NAMES, format_metric

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
    for name in METRIC_NAMES:
        cells = "  ".join(f"{format_metric(metrics[s][name]):>7}" for s in splits)
        lines.append(f"{name:<{width}}  {cells}")
    return "\n".join(lines)
