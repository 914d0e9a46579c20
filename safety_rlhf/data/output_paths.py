"""Where a command may write: one rule for every command of the package.

* **Never into the installed package.** The package's own files (the shipped corpus,
  preference pairs, checkpoints) are regenerated only by the developer scripts
  (``python -m safety_rlhf.data.generate``, ``python -m safety_rlhf.data.simulated_annotator``),
  never by a ``safety-rlhf`` command.
* **Never through a symbolic link, never over something that is not a regular file.** An
  output file is a new path or an existing regular file; a link, a FIFO, a device or a
  folder in its place is refused (``--out /dev/stdout`` would replace the system's link).
* **Never over a folder the command did not make.** An output folder is new, empty, or a
  previous output of the same command (it holds the :data:`MARKER` file naming that
  command); anything else needs ``overwrite=True`` (the ``--overwrite`` flag), and a link
  is refused even then.
* **Nothing half-written.** Files go to a temporary name and are renamed
  (:mod:`safety_rlhf.data.atomic_files`); a folder is filled under a temporary sibling
  name and swapped into place by :func:`write_output_dir`.

Every refusal is an :class:`OutputPathError` whose message names the argument and the path.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import safety_rlhf
from safety_rlhf.data.atomic_files import atomic_write_text

__all__ = [
    "MARKER",
    "PACKAGE_DIR",
    "OutputPathError",
    "check_output_dir",
    "check_output_file",
    "check_output_root",
    "write_output_dir",
]

#: The installed package's folder: no command writes below it.
PACKAGE_DIR = Path(safety_rlhf.__file__).resolve().parent
#: File that marks a folder as the output of a command (JSON: ``{"command": ...}``).
MARKER = ".safety-rlhf-output.json"


class OutputPathError(ValueError):
    """A command was asked to write where it must not."""


def _check_outside_package(path: Path, what: str) -> None:
    resolved = path.resolve()
    if resolved == PACKAGE_DIR or PACKAGE_DIR in resolved.parents:
        raise OutputPathError(
            f"{what} {path}: inside the installed package ({PACKAGE_DIR}); commands never "
            "write there (choose a path outside it)"
        )


def check_output_file(path: str | os.PathLike[str], what: str = "--out") -> Path:
    """``path`` as a :class:`~pathlib.Path` if a command may write the file there: a new
    path or an existing regular file, not a link, outside the package.

    :param path: the output file.
    :param what: the argument that named it, for the error message (default ``"--out"``).
    :raises OutputPathError: naming ``what`` and ``path``.
    """
    p = Path(path)
    if p.is_symlink():
        raise OutputPathError(f"{what} {p}: is a symbolic link; refusing to write through it")
    if p.exists() and not p.is_file():
        kind = "a folder" if p.is_dir() else "not a regular file (a FIFO, socket or device)"
        raise OutputPathError(f"{what} {p}: {kind}; refusing to replace it")
    _check_outside_package(p, what)
    return p


def check_output_root(path: str | os.PathLike[str], what: str = "--log-dir") -> Path:
    """``path`` as a :class:`~pathlib.Path` if a command may make new folders in it (run
    folders): a folder or a new path, not a link, outside the package. Nothing in it is
    overwritten: each run gets a new folder of its own.

    :raises OutputPathError: naming ``what`` and ``path``.
    """
    p = Path(path)
    if p.is_symlink():
        raise OutputPathError(f"{what} {p}: is a symbolic link; refusing to write through it")
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{what} {p}: exists and is not a folder")
    _check_outside_package(p, what)
    return p


def _marker_command(folder: Path) -> str | None:
    """The command named by ``folder``'s marker file, or ``None``."""
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    command = data.get("command") if isinstance(data, dict) else None
    return command if isinstance(command, str) else None


def check_output_dir(
    path: str | os.PathLike[str], command: str, overwrite: bool = False, what: str = "--out"
) -> Path:
    """``path`` as a :class:`~pathlib.Path` if ``command`` may (re)write the folder: new,
    empty, or an earlier output of ``command``; with ``overwrite``, any real folder. Never a
    link, a file, or a folder inside the package.

    :param path: the output folder.
    :param command: the writing command, e.g. ``"reward-model train"``.
    :param overwrite: allow replacing a non-empty folder of other origin (default False).
    :param what: the argument that named it, for the error message (default ``"--out"``).
    :raises OutputPathError: naming ``what`` and ``path``.
    """
    p = Path(path)
    if p.is_symlink():
        raise OutputPathError(f"{what} {p}: is a symbolic link; refusing to write through it")
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{what} {p}: exists and is not a folder; refusing to replace it")
    _check_outside_package(p, what)
    if p.is_dir() and any(p.iterdir()) and not overwrite and _marker_command(p) != command:
        raise OutputPathError(
            f"{what} {p}: a non-empty folder that is not an output of '{command}'; "
            "choose a new folder, or pass --overwrite to replace it"
        )
    return p


def write_output_dir(
    path: str | os.PathLike[str],
    command: str,
    fill: Callable[[Path], object],
    overwrite: bool = False,
    what: str = "--out",
) -> Path:
    """Write a whole output folder: :func:`check_output_dir`, then ``fill(tmp)`` a
    temporary sibling folder, mark it as ``command``'s output and swap it into place. If
    ``fill`` fails, the old folder (if any) is untouched and the temporary one removed.

    :returns: ``Path(path)``.
    """
    p = check_output_dir(path, command, overwrite=overwrite, what=what)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp"))
    try:
        fill(tmp)
        atomic_write_text(tmp / MARKER, json.dumps({"command": command}) + "\n")
        os.chmod(tmp, 0o777 & ~_umask())
        if p.exists():
            old = Path(tempfile.mkdtemp(dir=p.parent, prefix=f".{p.name}.", suffix=".old"))
            os.replace(p, old / p.name)
            os.replace(tmp, p)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, p)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
