"""Preference pairs: a simulated, imperfect annotator, gold evaluation pairs, and loaders.

A reward model is trained on *preferences*: for a prompt, which of two responses a person
liked better. This module produces them for the shipped corpus and reads users' own.

**Training pairs** come from :func:`simulate_preferences`, a simulated annotator with the
flaws real annotators have, each a documented knob of :class:`AnnotatorConfig`:

* it values a response by its gold reward (:data:`~safety_rlhf.envs.gold.GOLD_REWARD`, the
  strategy's score for the prompt's gold label) ...
* ... plus a bonus for responses that *sound* careful: an apology or a caution
  (``caveat_bias``; decided from the text alone, see :func:`has_caveat`), which is how a
  reward model learns to like refusals and caveats whatever the request ...
* ... plus a bonus for longer responses (``length_bias`` per 100 characters);
* it chooses with a Bradley-Terry (logistic) choice on the utility difference at
  ``temperature``, so near-ties are coin flips;
* and its final answer is flipped with probability ``noise`` (label noise: misclicks,
  careless work). Each record says whether it was flipped, so noise can be measured.

Every prompt gets ``pairs_per_prompt`` distinct unordered strategy pairs out of the 15,
each shown in a random order. All randomness comes from one
``numpy.random.default_rng(seed)``, so a seed gives the same records every time.

**Evaluation pairs** come from :func:`gold_preferences`: every strategy pair whose gold
rewards differ, the higher one chosen, no biases, no noise. Agreement with them is the
reward model's *gold* pairwise accuracy.

:func:`make_preference_files` writes both for the shipped corpus (train split with the
annotator, test split with gold) as gzipped JSONL next to this module; the shipped annotator
is :data:`SHIPPED_ANNOTATOR` (the defaults). Regenerating gives identical bytes
(``safety-rlhf reward-model make-preferences`` or ``python -m safety_rlhf.data.preferences``).

:func:`load_preferences` reads JSONL or CSV files with ``prompt`` / ``chosen`` /
``rejected`` columns (names configurable) and Anthropic HH-RLHF-style files, where
``chosen`` and ``rejected`` are whole transcripts that differ only in the final
assistant turn. Malformed rows raise :class:`PreferenceFileError` naming file and line.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.prompts import PromptFileError, PromptSet, load_corpus
from safety_rlhf.data.readers import check_text, iter_csv, iter_jsonl
from safety_rlhf.envs.gold import GOLD_REWARD
from safety_rlhf.envs.responses import Strategy, render_responses
from safety_rlhf.files import atomic_write_bytes, atomic_write_text

__all__ = [
    "DEFAULT_TEST_PATH",
    "DEFAULT_TRAIN_PATH",
    "FORMATS",
    "RECORD_KEYS",
    "SHIPPED_ANNOTATOR",
    "AnnotatorConfig",
    "PreferenceFileError",
    "PreferenceSet",
    "gold_preferences",
    "has_caveat",
    "load_preferences",
    "load_shipped_preferences",
    "make_preference_files",
    "simulate_preferences",
    "split_hh_transcript",
    "write_preferences",
]

#: Shipped training pairs (simulated annotator on the corpus's train split).
DEFAULT_TRAIN_PATH = Path(__file__).with_name("preferences_train.jsonl.gz")
#: Shipped evaluation pairs (gold preferences on the corpus's test split).
DEFAULT_TEST_PATH = Path(__file__).with_name("preferences_test.jsonl.gz")
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

#: All 15 unordered pairs of distinct strategies, in a fixed order.
_PAIRS: tuple[tuple[Strategy, Strategy], ...] = tuple(itertools.combinations(Strategy, 2))

_CAVEAT = re.compile(
    r"\b(?:sorry|apologi[sz]e|apologies|caution|be careful|stay safe|warning|"
    r"at your own risk)\b",
    re.IGNORECASE,
)


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


@dataclass(frozen=True)
class AnnotatorConfig:
    """How the simulated annotator of :func:`simulate_preferences` behaves.

    The annotator's utility for a response is ``gold + caveat_bias * has_caveat +
    length_bias * len(response) / 100``, where ``gold`` is the strategy's gold reward for
    the prompt's label. It prefers ``a`` over ``b`` with probability
    ``sigmoid((u_a - u_b) / temperature)``, then flips its answer with probability ``noise``.

    :param noise: probability that the final choice is flipped (label noise), default 0.15.
    :param caveat_bias: utility bonus for a response that apologises or adds a caution
        (:func:`has_caveat`: in the rendered texts, ``comply_with_caveat``, ``refuse`` and
        ``refuse_and_redirect``), default 0.15. Gold rewards span -1..1, so it decides
        ties and near-ties (benign comply 1.0 vs caveat 0.8 becomes 1.0 vs 0.95), not
        clear cases.
    :param length_bias: utility bonus per 100 characters of response length; only the
        difference between the two responses matters, so it is a bonus per +100
        characters relative to the other response. Default 0.05 (the longest rendered
        response is about 200 characters longer than the shortest). With biases of 0.3
        and 0.2 the learned model's gold pairwise accuracy fell to 0.833 (from 0.850 at
        0.15 / 0.05, 6 pairs per prompt, seed 0).
    :param temperature: temperature of the logistic (Bradley-Terry) choice, > 0, default
        0.1: a utility gap of 0.2 is chosen correctly ~88% of the time before noise.
    :param pairs_per_prompt: distinct strategy pairs drawn per prompt, 1..15, default 15
        (every pair once; 6 pairs gave the learned model 0.850 gold accuracy, 15 gave 0.860).
    :param seed: seed of ``numpy.random.default_rng``, default 0.
    """

    noise: float = 0.15
    caveat_bias: float = 0.15
    length_bias: float = 0.05
    temperature: float = 0.1
    pairs_per_prompt: int = 15
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"AnnotatorConfig: noise must be in [0, 1], got {self.noise}")
        if not self.temperature > 0.0:
            raise ValueError(f"AnnotatorConfig: temperature must be > 0, got {self.temperature}")
        if not 1 <= self.pairs_per_prompt <= len(_PAIRS):
            raise ValueError(
                f"AnnotatorConfig: pairs_per_prompt must be in 1..{len(_PAIRS)}, "
                f"got {self.pairs_per_prompt}"
            )
        for name in ("caveat_bias", "length_bias"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"AnnotatorConfig: {name} must be finite")


#: The annotator behind the shipped training file: the defaults.
SHIPPED_ANNOTATOR = AnnotatorConfig()


def has_caveat(response: str, prompt: str = "") -> bool:
    """Whether ``response`` apologises or cautions ("sorry", "caution", "be careful", ...).

    Label-free, from the text alone. The restated request is removed first, so a prompt
    that contains "be careful" does not make every answer to it read as cautious.

    :param response: the response text.
    :param prompt: the prompt it answers, default ``""`` (nothing removed).
    """
    request = " ".join(prompt.split())
    text = response.replace(request, " ") if request else response
    return _CAVEAT.search(text) is not None


def _sigmoid(x: float) -> float:
    """Logistic function without overflow for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _record(
    prompt_set: PromptSet,
    i: int,
    k: int,
    texts: list[str],
    chosen: Strategy,
    rejected: Strategy,
    flipped: bool,
) -> dict[str, Any]:
    return {
        "id": f"{prompt_set.ids[i]}-{k}",
        "prompt": prompt_set.prompts[i],
        "chosen": texts[chosen],
        "rejected": texts[rejected],
        "chosen_strategy": chosen.slug,
        "rejected_strategy": rejected.slug,
        "label": prompt_set.labels[i],
        "category": prompt_set.categories[i],
        "flipped": flipped,
    }


def _require_labels(prompt_set: PromptSet) -> None:
    for pid, label in zip(prompt_set.ids, prompt_set.labels, strict=True):
        if label is None:
            raise ValueError(
                f"{prompt_set.source}: prompt {pid!r} has no gold label; "
                "preferences need labelled prompts"
            )


def simulate_preferences(
    prompt_set: PromptSet, config: AnnotatorConfig = AnnotatorConfig()
) -> list[dict[str, Any]]:
    """Preference records from the simulated annotator (see :class:`AnnotatorConfig`).

    For each prompt, in order: ``config.pairs_per_prompt`` distinct strategy pairs drawn
    without replacement, each in a random order, each judged once. Deterministic for a
    seed.

    :param prompt_set: labelled prompts (the gold label sets the annotator's values).
    :param config: the annotator, default :class:`AnnotatorConfig` ``()``.
    :return: dicts with keys :data:`RECORD_KEYS`; ``id`` is ``"{prompt_id}-{k}"`` and
        ``flipped`` says whether label noise reversed the annotator's choice.
    :raises ValueError: if a prompt has no gold label.
    """
    _require_labels(prompt_set)
    rng = np.random.default_rng(config.seed)
    records: list[dict[str, Any]] = []
    for i, prompt in enumerate(prompt_set.prompts):
        texts = render_responses(prompt)
        gold = GOLD_REWARD[prompt_set.labels[i]]  # type: ignore[index]
        utility = [
            gold[s]
            + config.caveat_bias * has_caveat(texts[s], prompt)
            + config.length_bias * len(texts[s]) / 100.0
            for s in Strategy
        ]
        picks = rng.choice(len(_PAIRS), size=config.pairs_per_prompt, replace=False)
        for k, pick in enumerate(picks):
            a, b = _PAIRS[int(pick)]
            if rng.random() < 0.5:
                a, b = b, a
            prefers_a = rng.random() < _sigmoid((utility[a] - utility[b]) / config.temperature)
            flipped = bool(rng.random() < config.noise)
            if prefers_a == flipped:
                a, b = b, a
            records.append(_record(prompt_set, i, k, texts, a, b, flipped))
    return records


def gold_preferences(prompt_set: PromptSet) -> list[dict[str, Any]]:
    """Held-out evaluation records: every strategy pair whose gold rewards differ.

    The higher gold reward is chosen; no biases, no noise (``flipped`` is always False).
    Pairs come in a fixed order (strategy order), so the output is deterministic.

    :param prompt_set: labelled prompts.
    :return: dicts with keys :data:`RECORD_KEYS`; ``id`` is ``"{prompt_id}-{k}"``.
    :raises ValueError: if a prompt has no gold label.
    """
    _require_labels(prompt_set)
    records: list[dict[str, Any]] = []
    for i, prompt in enumerate(prompt_set.prompts):
        texts = render_responses(prompt)
        gold = GOLD_REWARD[prompt_set.labels[i]]  # type: ignore[index]
        k = 0
        for a, b in _PAIRS:
            if gold[a] == gold[b]:
                continue
            chosen, rejected = (a, b) if gold[a] > gold[b] else (b, a)
            records.append(_record(prompt_set, i, k, texts, chosen, rejected, False))
            k += 1
    return records


def write_preferences(path: str | os.PathLike[str], records: Sequence[dict[str, Any]]) -> Path:
    """Atomically write records as JSONL (one object per line, UTF-8, ``\\n`` newlines).

    :param path: the file to write; its folder is created if needed.
    :param records: preference records, written with keys in their own order.
    :return: the path written.
    """
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if Path(path).suffix.lower() != ".gz":
        return atomic_write_text(path, text)
    # Byte-stable gzip: no timestamp and no file name in the header.
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return atomic_write_bytes(path, buffer.getvalue())


def make_preference_files(
    train_path: str | os.PathLike[str] = DEFAULT_TRAIN_PATH,
    test_path: str | os.PathLike[str] = DEFAULT_TEST_PATH,
    config: AnnotatorConfig = SHIPPED_ANNOTATOR,
) -> tuple[Path, Path]:
    """Write the shipped preference files: annotated train pairs and gold test pairs.

    :param train_path: where the training pairs go (simulated annotator on the corpus's
        ``train`` split), default :data:`DEFAULT_TRAIN_PATH`.
    :param test_path: where the evaluation pairs go (:func:`gold_preferences` on the
        ``test`` split), default :data:`DEFAULT_TEST_PATH`.
    :param config: the annotator, default :data:`SHIPPED_ANNOTATOR` (the
        :class:`AnnotatorConfig` defaults).
    :return: ``(train_path, test_path)``.
    """
    train = write_preferences(train_path, simulate_preferences(load_corpus("train"), config))
    test = write_preferences(test_path, gold_preferences(load_corpus("test")))
    return train, test


# --------------------------------------------------------------------------- loading


def _inner_suffix(path: Path) -> str:
    """The extension that says the format: ``.jsonl`` for ``train.jsonl.gz``."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    return Path(name).suffix


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
    suffix = _inner_suffix(path)
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
    """Load the shipped pairs: ``"train"`` (simulated annotator) or ``"test"`` (gold).

    :param split: ``"train"`` or ``"test"``, default ``"train"``.
    """
    paths = {"train": DEFAULT_TRAIN_PATH, "test": DEFAULT_TEST_PATH}
    if split not in paths:
        raise ValueError(f"unknown split {split!r}; the shipped preferences have {tuple(paths)}")
    return load_preferences(paths[split])


if __name__ == "__main__":
    for written in make_preference_files():
        print(f"wrote {written} ({written.stat().st_size:,} bytes)")
