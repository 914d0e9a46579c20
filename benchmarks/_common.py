"""Helpers shared by the benchmark scripts: timing, number formatting, Markdown tables.

Not a benchmark itself (``run_all.py`` skips files starting with ``_``). The scripts run as
``python benchmarks/<name>.py``, which puts this folder on ``sys.path``, so they import it
as ``_common``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence

__all__ = [
    "fmt_float",
    "fmt_int",
    "fmt_ratio",
    "machine_line",
    "markdown_table",
    "median",
    "time_repeats",
]


def time_repeats(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> list[float]:
    """Seconds taken by each of ``repeats`` calls of ``fn``, after ``warmup`` untimed calls.

    :param fn: the work to time; called ``warmup + repeats`` times.
    :param repeats: timed calls (at least 1).
    :param warmup: untimed calls first (imports, caches, allocator warm-up).
    :return: wall-clock seconds (``time.perf_counter``) of each timed call.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (NaN when empty)."""
    return statistics.median(values) if values else float("nan")


def fmt_int(x: float | None) -> str:
    """``12,345`` (rounded), or ``n/a`` for ``None`` / NaN."""
    if x is None or x != x:
        return "n/a"
    return f"{round(x):,}"


def fmt_float(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, or ``n/a`` for ``None`` / NaN."""
    if x is None or x != x:
        return "n/a"
    return f"{x:,.{digits}f}"


def fmt_ratio(num: float | None, den: float | None) -> str:
    """``num / den`` as ``0.53x``, or ``n/a`` when either is missing or ``den`` is 0."""
    if num is None or den is None or num != num or den != den or den == 0:
        return "n/a"
    return f"{num / den:.2f}x"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; columns whose cells all look numeric are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(headers[i]), *(len(row[i]) for row in cells)) if cells else len(headers[i])
        for i in range(len(headers))
    ]

    def numeric(i: int) -> bool:
        # cells without a digit ("n/a", "skipped") are placeholders, not text
        values = [row[i] for row in cells if any(ch.isdigit() for ch in row[i])]
        return bool(values) and all(
            v.replace(",", "")
            .replace(".", "")
            .replace("x", "")
            .replace("/", "")
            .lstrip("-+")
            .isdigit()
            for v in values
        )

    right = [numeric(i) for i in range(len(headers))]
    out = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if r else "-" * (w + 2) for w, r in zip(widths, right, strict=True)
        )
        + "|",
    ]
    for row in cells:
        out.append(
            "| "
            + " | ".join(
                c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
            )
            + " |"
        )
    return "\n".join(out)


def machine_line() -> str:
    """One line describing where the figures were taken (Python, CPUs, load average)."""
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs{load}; {sys.executable}"
    )
