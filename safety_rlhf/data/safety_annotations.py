"""Safety annotations: a simulated annotator says whether each response is harmful.

Safe RLHF trains its cost model on human *safety* labels, separate from the helpfulness
preferences. This module simulates them for the shipped corpus: for every prompt of the
``train`` split (never ``test`` or ``jailbreak``), each of the six rendered responses is
labelled ``harmful`` (True / False) by an annotator with the flaws of
:class:`SafetyAnnotatorConfig`, in this order:

* its truth is the gold cost (:func:`~safety_rlhf.task.gold_tables.cost_table`): a response is
  harmful when it complies (with or without a caveat) with a harmful prompt;
* **over-flagging** (``overflag``): an answer (comply, comply with a caveat) to a benign
  *look-alike* prompt (category ``lookalike``: "How do I kill a Python process?") is
  flagged harmful with this probability, as annotators react to alarming topic words;
* **under-flagging** (``underflag``): a caveated compliance with a harmful prompt ("One
  caution first: please be careful...") is passed as harmless with this probability, as
  a warning makes operational help look responsible;
* **label noise** (``flip_rate``): the resulting answer is flipped with this probability,
  for every record (misclicks, careless work).

So, with ``o``, ``u``, ``f`` the three rates, ``P(harmful)`` is ``1 - f`` for a plain
compliance with a harmful prompt, ``(1 - u)(1 - f) + u f`` for a caveated one,
``o (1 - f) + (1 - o) f`` for an answer to a look-alike and ``f`` for every other record.
Each record says which bias fired (``biased``) and whether it was flipped (``flipped``),
so the rates can be measured. Every record draws exactly two numbers, in prompt order then
:class:`~safety_rlhf.task.strategies.Strategy` order, from one
``numpy.random.default_rng(seed)``: a seed gives the same records every time.

:func:`make_safety_annotations` writes the shipped file ``safety_train.jsonl.gz`` (gzip
JSONL, byte-stable, written atomically); ``python -m safety_rlhf.data.safety_annotations``
regenerates it and ``--check`` verifies it byte for byte.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_bytes, is_up_to_date, stable_gzip
from safety_rlhf.data.prompts import PromptSet, load_corpus
from safety_rlhf.task.gold_tables import cost_table
from safety_rlhf.task.strategies import ANSWERED, Strategy, render_responses

__all__ = [
    "DEFAULT_PATH",
    "LOOKALIKE_CATEGORY",
    "RECORD_KEYS",
    "SHIPPED_SAFETY_ANNOTATOR",
    "SafetyAnnotations",
    "SafetyAnnotatorConfig",
    "load_safety_annotations",
    "make_safety_annotations",
    "serialize_annotations",
    "simulate_safety_annotations",
]

#: The shipped annotations (simulated annotator on the corpus's train split).
DEFAULT_PATH = Path(__file__).with_name("safety_train.jsonl.gz")
#: Category of the benign prompts that only look dangerous (over-flagged).
LOOKALIKE_CATEGORY = "lookalike"
#: Keys of an annotation record, in the order they are written.
RECORD_KEYS = (
    "id",
    "prompt",
    "response",
    "strategy",
    "label",
    "category",
    "gold_harmful",
    "harmful",
    "biased",
    "flipped",
)


@dataclass(frozen=True)
class SafetyAnnotatorConfig:
    """The simulated safety annotator (see the module docstring for the order of effects).

    :param flip_rate: probability that an answer is flipped (label noise), in [0, 1],
        default 0.1.
    :param overflag: probability that an answer to a benign look-alike prompt is flagged
        harmful, in [0, 1], default 0.3.
    :param underflag: probability that a caveated compliance with a harmful prompt is
        passed as harmless, in [0, 1], default 0.3.
    :param seed: seed of ``numpy.random.default_rng``, default 0.
    """

    flip_rate: float = 0.1
    overflag: float = 0.3
    underflag: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("flip_rate", "overflag", "underflag"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SafetyAnnotatorConfig: {name} must be in [0, 1], got {value}")


#: The annotator behind the shipped file: the defaults.
SHIPPED_SAFETY_ANNOTATOR = SafetyAnnotatorConfig()


def simulate_safety_annotations(
    prompt_set: PromptSet, config: SafetyAnnotatorConfig = SHIPPED_SAFETY_ANNOTATOR
) -> list[dict[str, Any]]:
    """One record per (prompt, strategy) of ``prompt_set``, labelled by the annotator.

    :param prompt_set: labelled prompts (the gold label is the annotator's truth).
    :param config: the annotator, default :data:`SHIPPED_SAFETY_ANNOTATOR`.
    :return: dicts with keys :data:`RECORD_KEYS`; ``id`` is ``"{prompt_id}-{strategy}"``,
        ``gold_harmful`` the truth, ``harmful`` the annotator's answer, ``biased`` whether
        over- or under-flagging changed it, ``flipped`` whether noise then reversed it.
    :raises ValueError: if a prompt has no gold label.
    """
    for pid, label in zip(prompt_set.ids, prompt_set.labels, strict=True):
        if label is None:
            raise ValueError(
                f"{prompt_set.source}: prompt {pid!r} has no gold label; "
                "safety annotations need labelled prompts"
            )
    truth = cost_table(prompt_set.labels) > 0.5
    rng = np.random.default_rng(config.seed)
    records: list[dict[str, Any]] = []
    for i, prompt in enumerate(prompt_set.prompts):
        texts = render_responses(prompt)
        lookalike = prompt_set.categories[i] == LOOKALIKE_CATEGORY
        for s in Strategy:
            bias_draw, flip_draw = rng.random(2)
            gold = bool(truth[i, s])
            biased = False
            if gold and s == Strategy.COMPLY_WITH_CAVEAT:
                biased = bool(bias_draw < config.underflag)
            elif not gold and lookalike and s in ANSWERED:
                biased = bool(bias_draw < config.overflag)
            flipped = bool(flip_draw < config.flip_rate)
            records.append(
                {
                    "id": f"{prompt_set.ids[i]}-{s.slug}",
                    "prompt": prompt,
                    "response": texts[s],
                    "strategy": s.slug,
                    "label": prompt_set.labels[i],
                    "category": prompt_set.categories[i],
                    "gold_harmful": gold,
                    "harmful": gold ^ biased ^ flipped,
                    "biased": biased,
                    "flipped": flipped,
                }
            )
    return records


def serialize_annotations(records: Sequence[dict[str, Any]]) -> bytes:
    """Records as gzipped JSONL, byte-stable (no timestamp or file name in the header)."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return stable_gzip(text.encode("utf-8"))


def make_safety_annotations(
    path: str | os.PathLike[str] = DEFAULT_PATH,
    config: SafetyAnnotatorConfig = SHIPPED_SAFETY_ANNOTATOR,
) -> Path:
    """Atomically write the annotations of the corpus's ``train`` split to ``path``.

    :param path: the ``.jsonl.gz`` file, default :data:`DEFAULT_PATH` (the shipped one).
    :param config: the annotator, default :data:`SHIPPED_SAFETY_ANNOTATOR`.
    """
    records = simulate_safety_annotations(load_corpus("train"), config)
    return atomic_write_bytes(path, serialize_annotations(records))


@dataclass(frozen=True)
class SafetyAnnotations:
    """Annotated (prompt, response) pairs as parallel lists; ``harmful`` is the label a
    cost model learns from (the other record fields stay in :attr:`records`)."""

    prompts: list[str]
    responses: list[str]
    harmful: np.ndarray
    records: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.prompts)


def load_safety_annotations(path: str | os.PathLike[str] = DEFAULT_PATH) -> SafetyAnnotations:
    """Read an annotation file written by :func:`make_safety_annotations`.

    :raises ValueError: ``"{path}:{line}: ..."`` for a record that is not a JSON object
        with string ``prompt`` / ``response`` and a boolean ``harmful``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: safety annotation file not found")
    records = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: invalid JSON: {exc.msg}") from exc
            if not (
                isinstance(record, dict)
                and isinstance(record.get("prompt"), str)
                and isinstance(record.get("response"), str)
                and isinstance(record.get("harmful"), bool)
            ):
                raise ValueError(
                    f"{path}:{line_no}: needs string 'prompt' and 'response' and a boolean "
                    "'harmful'"
                )
            records.append(record)
    if not records:
        raise ValueError(f"{path}: no safety annotations")
    return SafetyAnnotations(
        prompts=[r["prompt"] for r in records],
        responses=[r["response"] for r in records],
        harmful=np.array([r["harmful"] for r in records], dtype=bool),
        records=records,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m safety_rlhf.data.safety_annotations [--check] [--path FILE]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="annotation file")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    if args.check:
        expected = serialize_annotations(simulate_safety_annotations(load_corpus("train")))
        rebuild = "run python -m safety_rlhf.data.safety_annotations"
        return 0 if is_up_to_date(args.path, expected, rebuild) else 1
    path = make_safety_annotations(args.path)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
