"""Preference pairs of free text: responses sampled from the text env's ``pi_ref``, judged.

The text env ``SafetyRLHF-Text-v0`` pays a reward model for text a policy writes token by
token; its reward model must therefore score free text, not only the six rendered
strategies. This module makes the pairs it learns from and is measured on, for the
shipped corpus:

**Sampling.** For each prompt, :attr:`TextPreferenceConfig.samples_per_prompt` responses
are sampled from the reference language model
(:meth:`ReferenceLM.default().sample <safety_rlhf.task.reference_lm.ReferenceLM.sample>`, at
most :attr:`~TextPreferenceConfig.max_tokens` tokens) and rendered with
:func:`~safety_rlhf.task.response_grammar.detokenize` (``<request>`` becomes the prompt
restated in quotes). The first ``round((1 - uniform_share) * samples_per_prompt)`` samples
of a prompt use ``pi_ref``'s own strategy prior (``reference_probs``: mostly refusals for
prompts with harm words, answers for the rest), the others a uniform prior over the six
strategies: a policy trained against the reward model explores what ``pi_ref`` rarely
writes (answers to harmful-sounding prompts, refusals of everyday ones), and the reward
model must rank those too. ``pi_ref``'s floor probability puts off-grammar tokens, mixtures
and some degenerate text into the samples.

**Training pairs** (:func:`simulate_text_preferences`, train split only): up to
:attr:`~TextPreferenceConfig.pairs_per_prompt` distinct unordered pairs of *different*
non-empty texts per prompt, drawn without replacement, each shown in a random order and answered by
the simulated annotator of :mod:`safety_rlhf.data.simulated_annotator` (the shipped
:class:`~safety_rlhf.data.simulated_annotator.AnnotatorConfig`: noise, temperature and
biases; its ``pairs_per_prompt`` and ``seed`` are not read). Its notion of right is the
gold judge (:func:`~safety_rlhf.task.text_judge.judge`: the gold reward of the judged
decision, the label row's minimum for degenerate text); its biases are a bonus for a
response containing an apology or caution word of the grammar
(:data:`~safety_rlhf.task.response_grammar.APOLOGY_WORDS`,
:data:`~safety_rlhf.task.response_grammar.CAUTION_WORDS`) and one per 100 characters of
the rendered text; then the logistic choice and label noise
(:func:`~safety_rlhf.data.simulated_annotator.annotator_choice`). The prompts are put in a
random order at the end, each prompt's pairs kept together (which keeps the gzipped file
small: a prompt and its restatements compress against each other), so the first ``N`` pairs
of the file come from a random subset of about ``N / pairs_per_prompt`` prompts: reward
models trained on 1k, 3k or 10k pairs take a prefix.

**Evaluation pairs** (:func:`gold_text_preferences`, test split): sampled the same way,
up to :attr:`~TextPreferenceConfig.test_pairs_per_prompt` pairs per prompt whose gold
rewards differ, the higher one chosen; no bias, no noise, ties dropped.

Records have the keys of :data:`~safety_rlhf.data.preferences.RECORD_KEYS`;
``chosen_strategy`` / ``rejected_strategy`` hold the judge's gold-table column of each text
(its :class:`~safety_rlhf.task.strategies.Strategy` slug, or ``"degenerate"``). All
randomness comes from ``numpy.random.default_rng(seed)`` (one generator per file), so a
seed gives the same records every time. :func:`make_text_preference_files` writes the
shipped files (byte-stable gzip); ``python -m safety_rlhf.data.text_preferences``
regenerates them and ``--check`` compares them byte for byte with a fresh generation.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.atomic_files import is_up_to_date, stable_gzip
from safety_rlhf.data.preferences import (
    DEFAULT_TEXT_TEST_PATH,
    DEFAULT_TEXT_TRAIN_PATH,
    serialize_preferences,
    write_preferences,
)
from safety_rlhf.data.prompts import PromptSet, load_corpus
from safety_rlhf.data.simulated_annotator import (
    SHIPPED_ANNOTATOR,
    AnnotatorConfig,
    annotator_choice,
    annotator_utility,
    preference_record,
    require_labels,
)
from safety_rlhf.task.reference_lm import ReferenceLM
from safety_rlhf.task.reference_policy import reference_probs
from safety_rlhf.task.response_grammar import APOLOGY_WORDS, CAUTION_WORDS, EOS, detokenize
from safety_rlhf.task.strategies import Strategy
from safety_rlhf.task.text_judge import Verdict, judge

__all__ = [
    "CAREFUL_WORDS",
    "DEGENERATE",
    "SHIPPED_TEXT_CONFIG",
    "TextPreferenceConfig",
    "TextSample",
    "annotated_pairs",
    "gold_pairs",
    "gold_text_preferences",
    "make_text_preference_files",
    "sample_responses",
    "simulate_text_preferences",
]

#: Tokens that make a response sound careful to the annotator (its caveat bias).
CAREFUL_WORDS: frozenset[int] = APOLOGY_WORDS | CAUTION_WORDS
#: ``chosen_strategy`` / ``rejected_strategy`` of a text the judge finds degenerate.
DEGENERATE = "degenerate"


@dataclass(frozen=True)
class TextPreferenceConfig:
    """How the text preference pairs are sampled and labelled.

    :param annotator: the simulated annotator of the training pairs (its ``noise``,
        ``caveat_bias``, ``length_bias`` and ``temperature``), default the shipped one.
    :param samples_per_prompt: responses sampled per prompt, default 8.
    :param uniform_share: share of them sampled with a uniform strategy prior instead of
        ``pi_ref``'s, default 0.5.
    :param pairs_per_prompt: most training pairs per prompt, default 8 (of the up to 28
        pairs of 8 different texts).
    :param test_pairs_per_prompt: most evaluation pairs per prompt, default 4.
    :param max_tokens: most tokens per sampled response (the text env's limit), default 48.
    :param seed: seed of ``numpy.random.default_rng``, default 0.
    """

    annotator: AnnotatorConfig = field(default_factory=lambda: SHIPPED_ANNOTATOR)
    samples_per_prompt: int = 8
    uniform_share: float = 0.5
    pairs_per_prompt: int = 8
    test_pairs_per_prompt: int = 4
    max_tokens: int = 48
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples_per_prompt < 2:
            raise ValueError("TextPreferenceConfig: samples_per_prompt must be >= 2")
        if not 0.0 <= self.uniform_share <= 1.0:
            raise ValueError("TextPreferenceConfig: uniform_share must be in [0, 1]")
        for name in ("pairs_per_prompt", "test_pairs_per_prompt", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"TextPreferenceConfig: {name} must be >= 1")


#: The settings behind the shipped files: the defaults.
SHIPPED_TEXT_CONFIG = TextPreferenceConfig()


@dataclass(frozen=True)
class TextSample:
    """One sampled response: its tokens (no ``<eos>``), rendered text and the judge's verdict."""

    ids: tuple[int, ...]
    text: str
    verdict: Verdict

    @classmethod
    def from_ids(
        cls, ids: Sequence[int] | np.ndarray, prompt: str, label: str | None
    ) -> TextSample:
        """The sample of the tokens ``ids`` (anything from the first ``<eos>`` on dropped)
        answering ``prompt``, judged for the gold ``label``."""
        tokens = tuple(int(t) for t in ids)
        tokens = tokens[: tokens.index(EOS)] if EOS in tokens else tokens
        return cls(tokens, detokenize(tokens, prompt), judge(tokens, label))

    @property
    def column(self) -> str:
        """The judge's gold-table column: a strategy slug, or ``"degenerate"``."""
        strategy = self.verdict.strategy
        return DEGENERATE if strategy is None else Strategy(strategy).slug


def sample_responses(
    prompt_set: PromptSet, config: TextPreferenceConfig, rng: np.random.Generator
) -> list[list[TextSample]]:
    """``config.samples_per_prompt`` responses per prompt, sampled in one vectorised call.

    Rows are prompt-major: prompt ``i``'s samples are rows ``i * k .. i * k + k - 1``, the
    first ``round((1 - uniform_share) * k)`` of them with ``pi_ref``'s strategy prior, the
    rest with the uniform one.

    :return: per prompt, its samples in row order (duplicates kept).
    """
    require_labels(prompt_set, "text preferences")
    k = config.samples_per_prompt
    n_ref = round((1.0 - config.uniform_share) * k)
    log_ref = np.log(reference_probs(prompt_set.prompts))
    log_uniform = np.full(len(Strategy), -np.log(len(Strategy)))
    priors = np.repeat(log_ref, k, axis=0)
    priors.reshape(len(prompt_set), k, -1)[:, n_ref:] = log_uniform
    ids, lengths = ReferenceLM.default().sample(priors, rng, max_tokens=config.max_tokens)
    out: list[list[TextSample]] = []
    for i, (prompt, label) in enumerate(zip(prompt_set.prompts, prompt_set.labels, strict=True)):
        rows = range(i * k, (i + 1) * k)
        out.append([TextSample.from_ids(ids[row, : lengths[row]], prompt, label) for row in rows])
    return out


def _distinct(samples: Sequence[TextSample]) -> list[TextSample]:
    """The samples with different non-empty texts, first occurrences, in order (an empty
    response, ``<eos>`` sampled first, cannot be a preference record)."""
    seen: dict[str, TextSample] = {}
    for sample in samples:
        if sample.text.strip():
            seen.setdefault(sample.text, sample)
    return list(seen.values())


def _record(
    prompt_set: PromptSet, i: int, k: int, chosen: TextSample, rejected: TextSample, flipped: bool
) -> dict[str, Any]:
    return preference_record(
        prompt_set,
        i,
        f"{prompt_set.ids[i]}-t{k}",
        (chosen.text, chosen.column),
        (rejected.text, rejected.column),
        flipped,
    )


def annotated_pairs(
    prompt_set: PromptSet,
    samples: Sequence[Sequence[TextSample]],
    config: TextPreferenceConfig,
    rng: np.random.Generator,
) -> list[list[dict[str, Any]]]:
    """The simulated annotator's records for given samples, per prompt, in prompt order.

    For prompt ``i``: up to ``config.pairs_per_prompt`` distinct unordered pairs of its
    different non-empty texts (``samples[i]``), drawn without replacement, each shown in a
    random order and answered once (:func:`annotator_utility`, :func:`annotator_choice`).
    """
    annotator = config.annotator
    per_prompt: list[list[dict[str, Any]]] = []
    for i, row in enumerate(samples):
        texts = _distinct(row)
        pairs = list(itertools.combinations(range(len(texts)), 2))
        utility = [
            annotator_utility(
                s.verdict.gold_reward, s.text, not CAREFUL_WORDS.isdisjoint(s.ids), annotator
            )
            for s in texts
        ]
        size = min(config.pairs_per_prompt, len(pairs))
        records = []
        for k, pick in enumerate(rng.choice(len(pairs), size=size, replace=False).tolist()):
            a, b = pairs[pick]
            if rng.random() < 0.5:
                a, b = b, a
            a_wins, flipped = annotator_choice(rng, utility[a], utility[b], annotator)
            if not a_wins:
                a, b = b, a
            records.append(_record(prompt_set, i, k, texts[a], texts[b], flipped))
        per_prompt.append(records)
    return per_prompt


def gold_pairs(
    prompt_set: PromptSet,
    samples: Sequence[Sequence[TextSample]],
    config: TextPreferenceConfig,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Gold records for given samples, in prompt order: for prompt ``i``, up to
    ``config.test_pairs_per_prompt`` pairs drawn without replacement among the pairs of its
    different non-empty texts whose gold rewards differ; the higher gold reward is chosen.
    """
    records: list[dict[str, Any]] = []
    for i, row in enumerate(samples):
        texts = _distinct(row)
        gold = [s.verdict.gold_reward for s in texts]
        pairs = [
            (a, b) for a, b in itertools.combinations(range(len(texts)), 2) if gold[a] != gold[b]
        ]
        size = min(config.test_pairs_per_prompt, len(pairs))
        for k, pick in enumerate(rng.choice(len(pairs), size=size, replace=False).tolist()):
            a, b = pairs[pick]
            chosen, rejected = (a, b) if gold[a] > gold[b] else (b, a)
            records.append(_record(prompt_set, i, k, texts[chosen], texts[rejected], False))
    return records


def simulate_text_preferences(
    prompt_set: PromptSet, config: TextPreferenceConfig = SHIPPED_TEXT_CONFIG
) -> list[dict[str, Any]]:
    """Training records: sampled texts judged by the simulated annotator (module docstring).

    :func:`sample_responses`, then :func:`annotated_pairs`, then the prompts in a random
    order, each prompt's pairs kept together; one ``default_rng(config.seed)`` throughout.

    :raises ValueError: if a prompt has no gold label.
    """
    rng = np.random.default_rng(config.seed)
    samples = sample_responses(prompt_set, config, rng)
    per_prompt = annotated_pairs(prompt_set, samples, config, rng)
    return [r for i in rng.permutation(len(per_prompt)).tolist() for r in per_prompt[i]]


def gold_text_preferences(
    prompt_set: PromptSet, config: TextPreferenceConfig = SHIPPED_TEXT_CONFIG
) -> list[dict[str, Any]]:
    """Evaluation records: sampled texts, the higher gold reward chosen, no bias, no noise,
    ties dropped (:func:`sample_responses`, then :func:`gold_pairs`; one
    ``default_rng(config.seed)``).

    :raises ValueError: if a prompt has no gold label.
    """
    rng = np.random.default_rng(config.seed)
    return gold_pairs(prompt_set, sample_responses(prompt_set, config, rng), config, rng)


def _shipped_records(
    config: TextPreferenceConfig,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        simulate_text_preferences(load_corpus("train"), config),
        gold_text_preferences(load_corpus("test"), config),
    )


def make_text_preference_files(
    train_path: str | os.PathLike[str] = DEFAULT_TEXT_TRAIN_PATH,
    test_path: str | os.PathLike[str] = DEFAULT_TEXT_TEST_PATH,
    config: TextPreferenceConfig = SHIPPED_TEXT_CONFIG,
) -> tuple[Path, Path]:
    """Write the text preference files: annotated train pairs and gold test pairs.

    :param train_path: where the training pairs go (the corpus's ``train`` split), default
        :data:`~safety_rlhf.data.preferences.DEFAULT_TEXT_TRAIN_PATH`.
    :param test_path: where the evaluation pairs go (the ``test`` split), default
        :data:`~safety_rlhf.data.preferences.DEFAULT_TEXT_TEST_PATH`.
    :param config: the settings, default :data:`SHIPPED_TEXT_CONFIG`.
    :return: ``(train_path, test_path)``.
    """
    train, test = _shipped_records(config)
    return write_preferences(train_path, train), write_preferences(test_path, test)


def _file_bytes(path: Path, records: list[dict[str, Any]]) -> bytes:
    """What :func:`~safety_rlhf.data.preferences.write_preferences` writes to ``path``."""
    data = serialize_preferences(records)
    return stable_gzip(data) if path.suffix.lower() == ".gz" else data


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m safety_rlhf.data.text_preferences [--check]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-path", type=Path, default=DEFAULT_TEXT_TRAIN_PATH)
    parser.add_argument("--test-path", type=Path, default=DEFAULT_TEXT_TEST_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        rebuild = "run python -m safety_rlhf.data.text_preferences"
        fresh = _shipped_records(SHIPPED_TEXT_CONFIG)
        paths = (args.train_path, args.test_path)
        ok = [
            is_up_to_date(path, _file_bytes(path, records), rebuild)
            for path, records in zip(paths, fresh, strict=True)
        ]
        return 0 if all(ok) else 1
    for written in make_text_preference_files(args.train_path, args.test_path):
        print(f"wrote {written} ({written.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
