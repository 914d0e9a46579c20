"""Simulated preference pairs: an imperfect annotator, and gold evaluation pairs.

A reward model is trained on *preferences*: for a prompt, which of two responses a person
liked better. This module produces them for the shipped corpus;
:mod:`safety_rlhf.data.preferences` reads and writes them.

**Training pairs** come from :func:`simulate_preferences`, a simulated annotator with the
flaws real annotators have, each a documented knob of :class:`AnnotatorConfig`:

* it values a response by its gold reward (:data:`~safety_rlhf.task.gold_tables.GOLD_REWARD`, the
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
(``safety-rlhf reward-model make-preferences`` or
``python -m safety_rlhf.data.simulated_annotator``).
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.preferences import (
    DEFAULT_TEST_PATH,
    DEFAULT_TRAIN_PATH,
    write_preferences,
)
from safety_rlhf.data.prompts import PromptSet, load_corpus
from safety_rlhf.task.gold_tables import GOLD_REWARD
from safety_rlhf.task.strategies import Strategy, render_responses

__all__ = [
    "SHIPPED_ANNOTATOR",
    "AnnotatorConfig",
    "annotator_choice",
    "annotator_utility",
    "gold_preferences",
    "has_caveat",
    "make_preference_files",
    "preference_record",
    "require_labels",
    "simulate_preferences",
]

#: All 15 unordered pairs of distinct strategies, in a fixed order.
_PAIRS: tuple[tuple[Strategy, Strategy], ...] = tuple(itertools.combinations(Strategy, 2))

_CAVEAT = re.compile(
    r"\b(?:sorry|apologi[sz]e|apologies|caution|be careful|stay safe|warning|"
    r"at your own risk)\b",
    re.IGNORECASE,
)


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


def annotator_utility(gold: float, response: str, cautious: bool, config: AnnotatorConfig) -> float:
    """The annotator's value of a response: ``gold + caveat_bias * cautious + length_bias *
    len(response) / 100`` (see :class:`AnnotatorConfig`).

    :param gold: the response's gold reward for the prompt's label.
    :param response: the response text (its length in characters is what the length bias
        reads).
    :param cautious: whether the response apologises or cautions (:func:`has_caveat` for
        the rendered strategies; the text preferences of
        :mod:`safety_rlhf.data.text_preferences` read the grammar's apology and caution
        words).
    :param config: the annotator.
    """
    return gold + config.caveat_bias * cautious + config.length_bias * len(response) / 100.0


def annotator_choice(
    rng: np.random.Generator, utility_a: float, utility_b: float, config: AnnotatorConfig
) -> tuple[bool, bool]:
    """The annotator's answer to "``a`` or ``b``?": ``(a_wins, flipped)``.

    Two draws from ``rng``, in this order: the logistic (Bradley-Terry) choice, ``a`` with
    probability ``sigmoid((utility_a - utility_b) / temperature)``; then label noise, which
    reverses that choice with probability ``noise`` (``flipped``).
    """
    prefers_a = rng.random() < _sigmoid((utility_a - utility_b) / config.temperature)
    flipped = bool(rng.random() < config.noise)
    return prefers_a != flipped, flipped


def _sigmoid(x: float) -> float:
    """Logistic function without overflow for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def preference_record(
    prompt_set: PromptSet,
    i: int,
    record_id: str,
    chosen: tuple[str, str],
    rejected: tuple[str, str],
    flipped: bool,
) -> dict[str, Any]:
    """One preference record (the shipped files' JSON object) for prompt ``i``.

    :param record_id: the record's ``id``.
    :param chosen: ``(text, gold-table column)`` of the chosen response.
    :param rejected: the same for the rejected one.
    :param flipped: whether the annotator's answer was flipped by noise.
    """
    return {
        "id": record_id,
        "prompt": prompt_set.prompts[i],
        "chosen": chosen[0],
        "rejected": rejected[0],
        "chosen_strategy": chosen[1],
        "rejected_strategy": rejected[1],
        "label": prompt_set.labels[i],
        "category": prompt_set.categories[i],
        "flipped": flipped,
    }


def _record(
    prompt_set: PromptSet,
    i: int,
    k: int,
    texts: list[str],
    chosen: Strategy,
    rejected: Strategy,
    flipped: bool,
) -> dict[str, Any]:
    return preference_record(
        prompt_set,
        i,
        f"{prompt_set.ids[i]}-{k}",
        (texts[chosen], chosen.slug),
        (texts[rejected], rejected.slug),
        flipped,
    )


def require_labels(prompt_set: PromptSet, what: str = "preferences") -> None:
    """:raises ValueError: naming the first prompt of ``prompt_set`` without a gold label
    (``what`` needs labelled prompts)."""
    for pid, label in zip(prompt_set.ids, prompt_set.labels, strict=True):
        if label is None:
            raise ValueError(
                f"{prompt_set.source}: prompt {pid!r} has no gold label; "
                f"{what} need labelled prompts"
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
    require_labels(prompt_set)
    rng = np.random.default_rng(config.seed)
    records: list[dict[str, Any]] = []
    for i, prompt in enumerate(prompt_set.prompts):
        texts = render_responses(prompt)
        gold = GOLD_REWARD[prompt_set.labels[i]]  # type: ignore[index]
        utility = [
            annotator_utility(gold[s], texts[s], has_caveat(texts[s], prompt), config)
            for s in Strategy
        ]
        picks = rng.choice(len(_PAIRS), size=config.pairs_per_prompt, replace=False)
        for k, pick in enumerate(picks):
            a, b = _PAIRS[int(pick)]
            if rng.random() < 0.5:
                a, b = b, a
            a_wins, flipped = annotator_choice(rng, utility[a], utility[b], config)
            if not a_wins:
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
    require_labels(prompt_set)
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


if __name__ == "__main__":
    for written in make_preference_files():
        print(f"wrote {written} ({written.stat().st_size:,} bytes)")
