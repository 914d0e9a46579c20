"""Row readers for users' JSONL and CSV files (optionally gzipped), with line numbers.

Both yield ``(line number, row dict)`` and raise the caller's error class with a message
that starts ``"{path}:{line}: "``, so every malformed row is reported where it is, including
bytes that are not UTF-8. :func:`check_text` refuses texts no model should be fed: longer
than :data:`MAX_TEXT_CHARS`, or holding control characters.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "MAX_TEXT_CHARS",
    "check_text",
    "format_suffix",
    "iter_csv",
    "iter_jsonl",
    "open_text",
    "parse_json",
    "read_json",
]

#: Longest prompt or response accepted from a file, in characters (a 1 MB "prompt" is a
#: broken file, and no encoder reads that far: MiniLM stops at 256 tokens).
MAX_TEXT_CHARS = 100_000
# C0 controls but tab, newline and carriage return; DEL; C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Lone UTF-16 surrogates: JSON's "\\ud800" escape decodes to one, which is not valid Unicode
# (it cannot be encoded as UTF-8, so a tokenizer or a cache key would fail on it later).
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str, where: str, what: str, error: type[Exception]) -> str:
    """``text`` unchanged, or ``error`` naming ``where`` (``path:line``) and ``what``.

    :raises error: if ``text`` is longer than :data:`MAX_TEXT_CHARS` or holds a control
        character (tab, newline and carriage return are allowed).
    """
    if len(text) > MAX_TEXT_CHARS:
        raise error(
            f"{where}: {what} has {len(text):,} characters, more than the {MAX_TEXT_CHARS:,} "
            "allowed"
        )
    bad = _CONTROL.search(text)
    if bad is not None:
        raise error(
            f"{where}: {what} holds control character U+{ord(bad.group()):04X} at "
            f"position {bad.start()}"
        )
    bad = _SURROGATE.search(text)
    if bad is not None:
        raise error(
            f"{where}: {what} holds a lone surrogate U+{ord(bad.group()):04X} at position "
            f"{bad.start()} (not valid Unicode)"
        )
    return text


def open_text(path: Path) -> TextIO:
    """Open a UTF-8 text file for reading, decompressing ``.gz`` files. A byte-order mark
    at the start (what spreadsheet programs write) is dropped, so it does not become part
    of the first column's name."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def parse_json(text: str, where: str, error: type[Exception]) -> Any:
    """``json.loads(text)``, every way it can fail reported as one ``error`` line that
    starts with ``where`` (a file, or ``file:line``).

    :raises error: for text that is not JSON, is nested too deeply for the parser, or holds
        a number Python refuses to read (an integer of more than 4,300 digits).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line = f":{exc.lineno}" if ":" not in where else ""
        raise error(f"{where}{line}: invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise error(f"{where}: invalid JSON: nested too deeply") from exc
    except ValueError as exc:
        raise error(f"{where}: invalid JSON: {' '.join(str(exc).split())}") from exc


def read_json(path: str | Path, error: type[Exception]) -> Any:
    """The JSON value in the file ``path`` (UTF-8), read as :func:`parse_json` reads text.

    :raises error: naming ``path``, for a file that cannot be read, is not UTF-8 or is not
        JSON.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from exc
    return parse_json(text, str(path), error)


def iter_jsonl(path: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSONL file.

    :raises error: for a line that is not JSON or not a JSON object.
    """
    for line_no, line in _lines(path, error):
        if not line.strip():
            continue
        row = parse_json(line, f"{path}:{line_no}", error)
        if not isinstance(row, dict):
            raise error(f"{path}:{line_no}: expected a JSON object per line")
        yield line_no, row


def iter_csv(path: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, row)`` for each row of a CSV file with a header row.

    :raises error: for a file without a header, or a row with more fields than the header.
    """
    reader = csv.DictReader(line for _, line in _lines(path, error))
    if reader.fieldnames is None:
        raise error(f"{path}:1: empty CSV file (no header row)")
    for row in reader:
        # reader.line_num is the physical line the row ended on (1 = header).
        if None in row:
            raise error(f"{path}:{reader.line_num}: more fields than the header")
        yield reader.line_num, row


def _lines(path: Path, error: type[Exception]) -> Iterable[tuple[int, str]]:
    """``(line number, line)`` of a text file; bytes that are not UTF-8 raise ``error``
    naming the line they are on."""
    try:
        with open_text(path) as f:
            yield from enumerate(f, start=1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise error(f"{path}: not a readable gzip file ({type(exc).__name__}: {exc})") from exc
    except UnicodeDecodeError as exc:
        # The decoder reads ahead, so find the bad byte's line in the raw bytes.
        gz = path.suffix.lower() == ".gz"
        raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
        try:
            raw.decode("utf-8")
            start = 0  # not reached: the file did not decode
        except UnicodeDecodeError as located:
            start = located.start
        line = raw[:start].count(b"\n") + 1
        raise error(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[start]:02x}); save the file as UTF-8"
        ) from exc


def format_suffix(path: Path) -> str:
    """The extension that says a file's format, lower-case: ``.jsonl`` for
    ``train.jsonl.gz`` (:func:`open_text` decompresses ``.gz``)."""
    name = path.name.lower()
    return Path(name.removesuffix(".gz")).suffix
