"""Files written atomically: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import yaml

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_writer",
    "is_up_to_date",
    "stable_gzip",
    "write_json",
    "write_yaml",
]


@contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary file to stream ``path``'s new content into; renamed into place on success.

    The file is a temporary one in the same folder, closed and renamed over ``path`` when
    the ``with`` block ends without an exception (``os.replace`` is atomic on POSIX and
    Windows); an exception or a kill of the process leaves the old file intact (an
    exception also deletes the temporary file). The new file gets the usual permissions
    (0644 less the umask), not ``mkstemp``'s private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename
    (:func:`atomic_writer`): an interrupted write leaves the old file intact."""
    with atomic_writer(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text with ``\\n`` newlines."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_yaml(path: str | os.PathLike[str], data: Any) -> Path:
    """Atomically write ``data`` as YAML (``yaml.safe_dump``, keys in insertion order)."""
    return atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Atomically write ``data`` as indented JSON."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def is_up_to_date(path: str | os.PathLike[str], expected: bytes, rebuild: str) -> bool:
    """Whether the generated file ``path`` holds exactly ``expected`` (the ``--check`` of the
    developer scripts that regenerate shipped files); says so on stdout, or on stderr with
    how to ``rebuild`` it.
    """
    p = Path(path)
    if p.is_file() and p.read_bytes() == expected:
        print(f"{p} is up to date")
        return True
    print(f"{p} is out of date; {rebuild}", file=sys.stderr)
    return False


def stable_gzip(data: bytes) -> bytes:
    """``data`` gzipped byte-stably: no timestamp and no file name in the header, level 9,
    so a generator's ``--check`` can compare the shipped file byte for byte."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()
