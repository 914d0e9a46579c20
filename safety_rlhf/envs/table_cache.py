"""On-disk cache of the expensive per-prompt tables: encodings and reward-model scores.

Building ``SafetyRLHF-v0`` encodes every prompt and scores every (prompt, strategy)
response. Those arrays are pure functions of their inputs, so they are saved once as an
``.npz`` file and loaded by every later start of the same configuration: a second
``gym.make`` (or each of 16 ``SubprocVecEnv`` workers) skips the encoder and the reward
model, and does not even import scikit-learn or torch.

The key is a SHA-256 over everything the arrays depend on:

- the texts: every prompt and every rendered response (and the gold columns, for the
  oracles that read them);
- the encoder's and the reward model's :attr:`cache_identity` (``None`` means "cannot be
  keyed across processes", e.g. a user's function: such tables are never cached on disk);
- the source code of :mod:`safety_rlhf.envs` and :mod:`safety_rlhf.reward`, so editing a
  rule, a template or the scoring code invalidates every entry, and the package version.

Files live in ``cache_dir() / "tables"`` (``$SAFETY_RLHF_CACHE`` or
``~/.cache/safety_rlhf``), are written atomically and read with ``allow_pickle=False``,
and are checked when read (:mod:`safety_rlhf.data.disk_cache`).
Deleting the folder is always safe. ``SAFETY_RLHF_CACHE=off`` turns this cache and the
MiniLM embedding cache off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path

import numpy as np

import safety_rlhf
from safety_rlhf.data.disk_cache import cache_dir, cache_enabled, load_arrays, save_arrays

__all__ = ["code_fingerprint", "load_or_compute", "text_digest"]

#: Bump when the layout of the cached arrays changes.
TABLES_FORMAT = 1


@cache
def code_fingerprint() -> str:
    """SHA-256 of the package version and the source of the env and reward subpackages."""
    root = Path(safety_rlhf.__file__).parent
    digest = hashlib.sha256(safety_rlhf.__version__.encode())
    for sub in ("envs", "reward"):
        for path in sorted((root / sub).glob("*.py")):
            digest.update(path.name.encode() + b"\x00")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def text_digest(texts: Iterable[object]) -> str:
    """SHA-256 of a sequence of texts (``None`` and numbers by their ``repr``)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text if isinstance(text, str) else repr(text)
        digest.update(data.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def load_or_compute(
    key_parts: Iterable[str],
    compute: Callable[[], dict[str, np.ndarray]],
    validate: Callable[[Mapping[str, np.ndarray]], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays from the cache entry keyed by ``key_parts``, or ``compute()``'s, then saved.

    :param key_parts: strings that together determine the arrays.
    :param compute: builds the arrays (names must be valid file names inside a zip).
    :param validate: checks loaded arrays (shapes, dtypes); a failing, unreadable or
        non-finite entry is deleted, recomputed and written again
        (:func:`~safety_rlhf.data.disk_cache.load_arrays`).
    """
    if not cache_enabled():
        return compute()
    digest = hashlib.sha256(f"tables-v{TABLES_FORMAT}:{code_fingerprint()}".encode())
    for part in key_parts:
        digest.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    path = cache_dir() / "tables" / f"{digest.hexdigest()}.npz"
    arrays = load_arrays(path, validate)  # checked: a bad entry is deleted and recomputed
    if arrays is None:
        arrays = compute()
        save_arrays(path, arrays)
    return arrays
