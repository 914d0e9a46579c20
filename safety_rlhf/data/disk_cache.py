"""The on-disk cache of computed arrays (text embeddings, env tables): checked, not trusted.

Entries are ``.npz`` files under :func:`cache_dir` (``$SAFETY_RLHF_CACHE`` or
``~/.cache/safety_rlhf``), one sub-folder per kind (``minilm``, ``tables``), named by a
SHA-256 key of everything they depend on. The cache is a speed-up only, so every failure
of it is a miss, never an error:

* **Reads are checked.** :func:`load_arrays` treats an entry that is truncated, corrupt,
  not an ``.npz`` of plain arrays (``allow_pickle=False``), of the wrong shape or dtype
  (the caller's ``validate``) or holding a NaN or infinity where the caller needs finite
  values as a miss: the file is deleted, one warning per process says so, and the caller
  recomputes.
* **Writes are atomic** (temporary name, then rename). Temporary files that a killed
  writer left behind are removed by the next write once they are an hour old.
* **The cache is bounded**: after a write, the oldest entries are deleted until the cache
  holds at most ``$SAFETY_RLHF_CACHE_MAX_MB`` megabytes (default 2,048).
* ``SAFETY_RLHF_CACHE=off`` turns it off; ``safety-rlhf cache clear`` (or deleting the
  folder) empties it, always safely.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_bytes

__all__ = [
    "DEFAULT_MAX_MB",
    "cache_dir",
    "cache_enabled",
    "cache_size",
    "clear_cache",
    "load_arrays",
    "save_arrays",
]

#: The cache's size bound in megabytes when ``$SAFETY_RLHF_CACHE_MAX_MB`` is not set.
DEFAULT_MAX_MB = 2048
#: Temporary files older than this many seconds are a killed writer's leftovers.
STALE_TMP_SECONDS = 3600.0
_OFF = ("off", "0", "none", "false", "no")
_warned: set[str] = set()


def cache_enabled() -> bool:
    """Whether anything is cached on disk: ``SAFETY_RLHF_CACHE=off`` turns it off."""
    return os.environ.get("SAFETY_RLHF_CACHE", "").strip().lower() not in _OFF


def cache_dir() -> Path:
    """Where arrays are cached: ``$SAFETY_RLHF_CACHE`` or ``~/.cache/safety_rlhf``."""
    root = os.environ.get("SAFETY_RLHF_CACHE", "").strip()
    return Path(root) if root else Path.home() / ".cache" / "safety_rlhf"


def _max_bytes() -> int:
    text = os.environ.get("SAFETY_RLHF_CACHE_MAX_MB", "")
    try:
        megabytes = float(text) if text.strip() else DEFAULT_MAX_MB
    except ValueError:
        megabytes = DEFAULT_MAX_MB
    return int(max(megabytes, 0.0) * 1024 * 1024)


def _miss(path: Path, why: str) -> None:
    """Delete a bad entry and warn (once per process and kind of cache)."""
    with contextlib.suppress(OSError):
        path.unlink()
    kind = path.parent.name
    if kind not in _warned:
        _warned.add(kind)
        warnings.warn(
            f"safety_rlhf cache: ignored and deleted a bad entry {path} ({why}); recomputing",
            RuntimeWarning,
            stacklevel=3,
        )


def load_arrays(
    path: Path,
    validate: Callable[[Mapping[str, np.ndarray]], bool] | None = None,
    finite: Iterable[str] | None = None,
) -> dict[str, np.ndarray] | None:
    """The arrays of the cache entry ``path``, or ``None`` (a miss).

    :param path: the entry (an ``.npz`` file).
    :param validate: checks the arrays' names, shapes and dtypes; ``False`` is a miss.
    :param finite: names of float arrays that must hold no NaN or infinity (default: every
        float array).
    """
    if not cache_enabled() or path.is_symlink() or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        _miss(path, f"unreadable: {type(exc).__name__}")
        return None
    if validate is not None and not validate(arrays):
        _miss(path, "wrong arrays, shapes or dtypes")
        return None
    names = list(arrays) if finite is None else list(finite)
    for name in names:
        array = arrays.get(name)
        if array is None:
            _miss(path, f"no array {name!r}")
            return None
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            _miss(path, f"non-finite values in {name!r}")
            return None
    return arrays


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write a cache entry atomically, then tidy the cache (stale temporaries, size bound).
    A cache that cannot be written (read-only folder, full disk) only costs speed."""
    if not cache_enabled():
        return
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    with contextlib.suppress(OSError):
        atomic_write_bytes(path, buffer.getvalue())
    with contextlib.suppress(OSError):
        _tidy(cache_dir())


#: Names of the files the cache writes: ``<kind>/<sha256>.npz`` (``.npy`` from earlier
#: versions) and their temporaries ``<kind>/.<sha256>.npz.<random>.tmp``. Nothing else in
#: the folder is ever deleted, whatever ``$SAFETY_RLHF_CACHE`` points at.
_ENTRY = re.compile(r"^(\.)?[0-9a-f]{64}\.np[yz](?(1)\.[^/]+\.tmp)$")


def _entries(root: Path) -> list[Path]:
    if not root.is_dir() or root.is_symlink():
        return []
    return [
        p
        for kind in root.iterdir()
        if kind.is_dir() and not kind.is_symlink()
        for p in kind.iterdir()
        if _ENTRY.match(p.name) and p.is_file() and not p.is_symlink()
    ]


def _tidy(root: Path) -> None:
    now = time.time()
    live: list[tuple[float, int, Path]] = []
    for path in _entries(root):
        try:
            stat = path.stat()
        except OSError:
            continue
        if path.name.endswith(".tmp"):
            if now - stat.st_mtime > STALE_TMP_SECONDS:
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        live.append((stat.st_mtime, stat.st_size, path))
    total, limit = sum(size for _, size, _ in live), _max_bytes()
    for _, size, path in sorted(live):  # oldest first
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size


def cache_size(root: Path | None = None) -> tuple[int, int]:
    """``(files, bytes)`` in the cache folder."""
    paths = _entries(cache_dir() if root is None else root)
    return len(paths), sum(p.stat().st_size for p in paths)


def clear_cache(root: Path | None = None) -> tuple[int, int]:
    """Delete every cache entry (``.npz`` and temporaries); return ``(files, bytes)``
    deleted. Only files the cache writes are touched: anything else in the folder stays."""
    files = freed = 0
    for path in _entries(cache_dir() if root is None else root):
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            path.unlink()
            files, freed = files + 1, freed + size
    return files, freed
