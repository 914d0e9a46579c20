"""Preference pairs: the :class:`PreferenceSet`, the shipped files, and loaders for users' own.

A reward model is trained on *preferences*: for a prompt, which of two responses a person
liked better. The shipped pairs (``preferences_train.jsonl.gz``, from the simulated
annotator of :mod:`safety_rlhf.data.simulated_annotator`, and ``preferences_test.jsonl.gz``,
gold pairs of the test split) are gzipped JSONL next to this module, and so are the pairs of
free text sampled from the text env's reference language model
(``text_preferences_train.jsonl.gz`` and ``text_preferences_test.jsonl.gz``, from
:mod:`safety_rlhf.data.text_preferences`).

:func:`load_preferences` reads JSONL or CSV files with ``prompt`` / ``chosen`` /
``rejected`` columns (names configurable) and Anthropic HH-RLHF-style files, where
``chosen`` and ``rejected`` are whole transcripts that differ only in the final
assistant turn. Malformed rows raise :class:`PreferenceFileError` naming file and line.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safety_rlhf.data.atomic_files import atomic_write_bytes, stable_gzip
from safety_rlhf.data.prompts import PromptFileError
from safety_rlhf.data.readers import check_text, format_suffix, iter_csv, iter_jsonl

__all__ = [
    "DEFAULT_TEST_PATH",
    "DEFAULT_TEXT_TEST_PATH",
    "DEFAULT_TEXT_TRAIN_PATH",
    "DEFAULT_TRAIN_PATH",
    "FORMATS",
    "HH_ASSISTANT",
    "HH_HUMAN",
    "RECORD_KEYS",
    "SHIPPED_SPLITS",
    "PreferenceFileError",
    "PreferenceSet",
    "load_preferences",
    "load_shipped_preferences",
    "serialize_preferences",
    "split_hh_transcript",
    "write_preferences",
]

#: Shipped training pairs (simulated annotator on the corpus's train split).
DEFAULT_TRAIN_PATH = Path(__file__).with_name("preferences_train.jsonl.gz")
#: Shipped evaluation pairs (gold preferences on the corpus's test split).
DEFAULT_TEST_PATH = Path(__file__).with_name("preferences_test.jsonl.gz")
#: Shipped training pairs of sampled free text (simulated annotator, train split).
DEFAULT_TEXT_TRAIN_PATH = Path(__file__).with_name("text_preferences_train.jsonl.gz")
#: Shipped evaluation pairs of sampled free text (the gold judge, test split).
DEFAULT_TEXT_TEST_PATH = Path(__file__).with_name("text_preferences_test.jsonl.gz")
#: The shipped preference files by name (:func:`load_shipped_preferences`).
SHIPPED_SPLITS: dict[str, Path] = {
    "train": DEFAULT_TRAIN_PATH,
    "test": DEFAULT_TEST_PATH,
    "text-train": DEFAULT_TEXT_TRAIN_PATH,
    "text-test": DEFAULT_TEXT_TEST_PATH,
}
#: Values of ``format`` accepted by :func:`load_preferences`.
FORMATS = ("auto", "jsonl", "csv", "hh-rlhf")
#: Keys of a preference record, in the order they are written.
RECORD_KEYS = (
    "id",
    "prompt",
    "chosen",
    "rejected",
    "chosen_strategy",
    "rejected_strategy",
    "label",
    "category",
    "flipped",
)

#: The separator before an assistant turn in HH-RLHF transcripts.
HH_ASSISTANT = "\n\nAssistant:"
#: The separator before a human turn in HH-RLHF transcripts.
HH_HUMAN = "\n\nHuman:"


class PreferenceFileError(PromptFileError):
    """A preference file is missing, malformed, or has a row we cannot use."""


@dataclass(frozen=True)
class PreferenceSet:
    """Preference pairs as parallel lists of equal length: ``chosen[i]`` beat ``rejected[i]``.

    :param prompts: the prompt of each pair (for HH-RLHF files, the transcript up to the
        final assistant turn).
    :param chosen: the preferred response of each pair.
    :param rejected: the other response of each pair.
    :param source: where the pairs came from (shown in errors), default ``"<memory>"``.
    :raises ValueError: if the lists differ in length.
    :raises PreferenceFileError: if there are no pairs.
    """

    prompts: list[str]
    chosen: list[str]
    rejected: list[str]
    source: str = "<memory>"

    def __post_init__(self) -> None:
        n = len(self.prompts)
        for name in ("chosen", "rejected"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"PreferenceSet: {name} has {len(getattr(self, name))} items, not {n}"
                )
        if n == 0:
            raise PreferenceFileError(f"{self.source}: no preference pairs")

    def __len__(self) -> int:
        return len(self.prompts)

    @classmethod
    def from_records(
        cls, records: Sequence[dict[str, Any]], source: str = "<memory>"
    ) -> PreferenceSet:
        """Build a set from records of :func:`simulate_preferences` / :func:`gold_preferences`.

        :param records: dicts with ``prompt``, ``chosen`` and ``rejected`` keys.
        :param source: where the records came from, default ``"<memory>"``.
        """
        return cls(
            [r["prompt"] for r in records],
            [r["chosen"] for r in records],
            [r["rejected"] for r in records],
            source=source,
        )

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the pairs' content (prompts, chosen, rejected, in order).

        ``source`` is not part of it: the same pairs read from two places hash the same.
        Checkpoints store it as the hash of their training data.
        """
        digest = hashlib.sha256()
        for triple in zip(self.prompts, self.chosen, self.rejected, strict=True):
            digest.update(json.dumps(triple, ensure_ascii=False).encode("utf-8") + b"\n")
        return digest.hexdigest()


def serialize_preferences(records: Sequence[dict[str, Any]]) -> bytes:
    """Records as JSONL bytes (one object per line, keys in their own order, UTF-8, ``\\n``
    newlines): what :func:`write_preferences` writes, before any gzip."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def write_preferences(path: str | os.PathLike[str], records: Sequence[dict[str, Any]]) -> Path:
    """Atomically write records as JSONL (:func:`serialize_preferences`), gzipped
    byte-stably (:func:`~safety_rlhf.data.atomic_files.stable_gzip`) when ``path`` ends in
    ``.gz``.

    :param path: the file to write; its folder is created if needed.
    :param records: preference records, written with keys in their own order.
    :return: the path written.
    """
    data = serialize_preferences(records)
    if Path(path).suffix.lower() != ".gz":
        return atomic_write_bytes(path, data)
    return atomic_write_bytes(path, stable_gzip(data))


def _text(row: dict[str, Any], column: str, where: str) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PreferenceFileError(f"{where}: missing or empty {column!r} column")
    if not isinstance(value, str):
        raise PreferenceFileError(
            f"{where}: {column!r} column must be a string, got {type(value).__name__}"
        )
    return check_text(value, where, f"the {column!r}", PreferenceFileError)


def split_hh_transcript(
    transcript: str, column: str = "chosen", where: str = ""
) -> tuple[str, str]:
    """Split an HH-RLHF transcript into (prompt, response) at its final assistant turn.

    The prompt is everything before the final ``"\\n\\nAssistant:"`` (earlier turns
    included), the response everything after it; both stripped.

    :param transcript: ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` text.
    :param column: column name used in error messages, default ``"chosen"``.
    :param where: ``"file:line"`` prefix for error messages, default ``""``.
    :raises PreferenceFileError: if there is no assistant turn, or the prompt or the
        response is empty.
    """
    prefix = f"{where}: " if where else ""
    cut = transcript.rfind(HH_ASSISTANT)
    if cut < 0:
        raise PreferenceFileError(f"{prefix}{column!r} transcript has no {HH_ASSISTANT!r} turn")
    prompt = transcript[:cut].strip()
    response = transcript[cut + len(HH_ASSISTANT) :].strip()
    if not prompt:
        raise PreferenceFileError(
            f"{prefix}{column!r} transcript has nothing before its final turn"
        )
    if not response:
        raise PreferenceFileError(f"{prefix}{column!r} transcript has an empty final response")
    return prompt, response


def _looks_hh(
    row: dict[str, Any], prompt_column: str, chosen_column: str, rejected_column: str
) -> bool:
    if prompt_column in row:
        return False
    return any(
        isinstance(row.get(c), str) and HH_HUMAN in row[c] for c in (chosen_column, rejected_column)
    )


def load_preferences(
    path: str | os.PathLike[str],
    prompt_column: str = "prompt",
    chosen_column: str = "chosen",
    rejected_column: str = "rejected",
    format: str = "auto",
) -> PreferenceSet:
    """Load preference pairs from a JSONL, CSV or HH-RLHF file; errors name file and line.

    :param path: the file; ``.jsonl`` / ``.ndjson`` (one JSON object per line) or ``.csv``
        (header row), optionally gzipped (``.jsonl.gz``).
    :param prompt_column: name of the prompt column, default ``"prompt"`` (unused for
        HH-RLHF, where the prompt is part of the transcripts).
    :param chosen_column: name of the preferred-response column, default ``"chosen"``.
    :param rejected_column: name of the other response's column, default ``"rejected"``.
    :param format: one of :data:`FORMATS`, default ``"auto"``: the extension picks JSONL or
        CSV, and a file whose first row has no prompt column but whose chosen / rejected
        text contains ``"\\n\\nHuman:"`` is read as HH-RLHF. ``"hh-rlhf"``: each row holds
        two whole transcripts; the prompt is the shared text before the final
        ``"\\n\\nAssistant:"``, the responses what follows it (read as CSV if the file
        ends in ``.csv``, else as JSONL).
    :raises PreferenceFileError: ``"{path}: preference file not found"``, or
        ``"{path}:{line}: ..."`` naming the column for bad JSON, a missing or empty
        column, an HH transcript without an assistant turn, HH transcripts with different
        prompts, a CSV row with more fields than the header, or chosen == rejected.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown preference file format {format!r}; expected one of {FORMATS}")
    path = Path(path)
    if not path.is_file():
        raise PreferenceFileError(f"{path}: preference file not found")
    suffix = format_suffix(path)
    if format == "jsonl" or (format in ("auto", "hh-rlhf") and suffix in (".jsonl", ".ndjson")):
        rows = iter_jsonl(path, PreferenceFileError)
    elif format == "csv" or suffix == ".csv":
        rows = iter_csv(path, PreferenceFileError)
    elif format == "hh-rlhf":
        rows = iter_jsonl(path, PreferenceFileError)
    else:
        raise PreferenceFileError(
            f"{path}: unsupported preference file type {suffix!r}; use .jsonl, .ndjson or "
            ".csv, or pass format="
        )

    hh = format == "hh-rlhf"
    prompts: list[str] = []
    chosen: list[str] = []
    rejected: list[str] = []
    for line, row in rows:
        where = f"{path}:{line}"
        if format == "auto" and not prompts:
            hh = _looks_hh(row, prompt_column, chosen_column, rejected_column)
        if hh:
            c_prompt, c = split_hh_transcript(
                _text(row, chosen_column, where), chosen_column, where
            )
            r_prompt, r = split_hh_transcript(
                _text(row, rejected_column, where), rejected_column, where
            )
            if c_prompt != r_prompt:
                raise PreferenceFileError(
                    f"{where}: the {chosen_column!r} and {rejected_column!r} transcripts differ "
                    f"before their final {HH_ASSISTANT!r} turn (they must share the prompt)"
                )
            prompt = c_prompt
        else:
            prompt = _text(row, prompt_column, where)
            c = _text(row, chosen_column, where)
            r = _text(row, rejected_column, where)
        if c == r:
            raise PreferenceFileError(
                f"{where}: {chosen_column!r} and {rejected_column!r} are the same response"
            )
        prompts.append(prompt)
        chosen.append(c)
        rejected.append(r)
    if not prompts:
        raise PreferenceFileError(f"{path}: no preference pairs")
    return PreferenceSet(prompts, chosen, rejected, source=str(path))


def load_shipped_preferences(split: str = "train") -> PreferenceSet:
    """Load shipped pairs: ``"train"`` (simulated annotator) or ``"test"`` (gold) of the
    rendered strategies, ``"text-train"`` or ``"text-test"`` of sampled free text.

    :param split: a key of :data:`SHIPPED_SPLITS`, default ``"train"``.
    """
    if split not in SHIPPED_SPLITS:
        raise ValueError(
            f"unknown split {split!r}; the shipped preferences have {tuple(SHIPPED_SPLITS)}"
        )
    return load_preferences(SHIPPED_SPLITS[split])
