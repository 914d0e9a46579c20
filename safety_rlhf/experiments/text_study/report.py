"""Writing the text studies' results: CSV of curve points, Markdown tables, the output folder.

matplotlib is imported where a figure is drawn (running the studies does not need it).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from safety_rlhf.data.atomic_files import atomic_write_bytes, atomic_write_text
from safety_rlhf.data.output_paths import MARKER, check_output_dir
from safety_rlhf.experiments.text_study.curves import Curve

__all__ = [
    "check_out",
    "command_line",
    "curves_csv",
    "fmt",
    "mark_out",
    "markdown_table",
    "prompt_mix",
    "runs_table",
    "save_figure",
    "wall_clock_lines",
]

#: What a study's output folder may hold (so a rerun may rewrite it).
ENTRIES = frozenset({"runs", "results.md", "results.csv", "fits.csv", MARKER})


def check_out(out: str | os.PathLike[str], command: str) -> Path:
    """``--out`` under the package's output rule: new, empty, or this study's earlier output."""
    path = Path(out)
    ours = (
        path.is_dir()
        and not path.is_symlink()
        and all(name in ENTRIES or name.endswith(".png") for name in os.listdir(path))
    )
    return check_output_dir(path, command, overwrite=ours)


def mark_out(out: Path, command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / MARKER, json.dumps({"command": command}) + "\n")


def command_line(argv: Sequence[str] | None) -> str:
    """The command as typed (``safety-rlhf ...``)."""
    return shlex.join(["safety-rlhf", *(sys.argv[1:] if argv is None else argv)])


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table (``—`` for NaN / None)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "inf"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3) -> str:
    """A GitHub Markdown table; numbers right-aligned."""
    lines = ["| " + " | ".join(header) + " |"]
    numeric = [all(isinstance(r[i], int | float) for r in rows) for i in range(len(header))]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for row in rows:
        cells = [fmt(v, digits).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curves_csv(curves: Sequence[Curve], extra: Sequence[str] = ()) -> str:
    """One row per point of every curve."""
    keys = [
        "curve",
        "method",
        "reward_model",
        "rm_pairs",
        "kl_coef",
        "seed",
        "n",
        "step",
        "kl",
        "kl_bound",
        "d",
        "gold_reward",
        "gold_success",
        "proxy_reward",
        "degenerate",
        "length",
        "perplexity",
        "distinct_2",
        *extra,
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for c in curves:
        for p in c.points:
            row = {
                "curve": c.name,
                "method": c.method,
                "reward_model": c.reward_model,
                "rm_pairs": "all" if c.rm_pairs is None else c.rm_pairs,
                "kl_coef": "" if c.kl_coef is None else f"{c.kl_coef:g}",
                "seed": "" if c.seed is None else c.seed,
            }
            row.update({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in p.items()})
            writer.writerow(row)
    return buf.getvalue()


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure as PNG atomically, and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def prompt_mix(prompts: Any) -> str:
    """``"300 test prompts (75 harmful, 201 benign: 45 look-alikes, 78 twins; 24
    borderline)"``: what a study's prompts are."""
    labels = list(prompts.labels)
    benign = [c for lab, c in zip(labels, prompts.categories, strict=True) if lab == "benign"]
    return (
        f"{len(labels)} test prompts ({labels.count('harmful')} harmful, {len(benign)} benign: "
        f"{benign.count('lookalike')} look-alikes, {benign.count('twin')} twins; "
        f"{labels.count('borderline')} borderline)"
    )


def settings_lines(settings: Mapping[str, Any]) -> list[str]:
    return [f"- `{k}`: {json.dumps(v)}" for k, v in settings.items()]


def runs_table(curves: Sequence[Curve]) -> str:
    """The PPO runs a study read: folder, what this command did with it, its train time."""
    rows = [
        [f"`{c.run_dir}`", c.status or "—", c.train_seconds] for c in curves if c.method == "ppo"
    ]
    return markdown_table(["run", "this command", "train s"], rows, digits=0)


def wall_clock_lines(seconds: float, curves: Sequence[Curve], command: str) -> list[str]:
    """The "how it was made" lines: wall-clock, the runs, the command."""
    return [
        f"Wall-clock of this invocation: {seconds:.0f} s. Runs and caches already in the runs "
        "folder are reused, not redone; each run's own train time (fitting to `pi_ref`, PPO, "
        "the final evaluations of `safety-rlhf train`) is below.",
        "",
        runs_table(curves),
        "",
        "```bash",
        command,
        "```",
        "",
    ]
