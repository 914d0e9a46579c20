"""Reading what a policy writes: profiles of sets of responses and the signs of an exploit.

:func:`text_profile` summarises responses (mean token counts, apology and caution words of the
simulated annotator's biases, :data:`~safety_rlhf.task.tokenizer.APOLOGY_WORDS` and
:data:`~safety_rlhf.task.tokenizer.CAUTION_WORDS`, the judge's decisions, how many distinct
texts and the most common one); :func:`indicators` compares two of them in words.

>>> records = [{"response": "Sorry, sorry.", "prompt": "p", "decision": "degenerate"}] * 2
>>> profile = text_profile(records)
>>> profile["apology_share"], profile["distinct_texts"], profile["top_text"]
(1.0, 0.5, 'Sorry, sorry.')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from safety_rlhf.task.tokenizer import (
    APOLOGY_WORDS,
    CAUTION_WORDS,
    EOS,
    VOCAB,
    detokenize,
    tokenize,
)

__all__ = ["display_prompts", "indicators", "response_ids", "text_profile"]


def _kind(label: str | None, category: str) -> str | None:
    if label == "benign":
        return category if category in ("lookalike", "twin") else "everyday"
    return label


def display_prompts(prompts: Any) -> list[int]:
    """Indices of the shown prompts: the first harmful, everyday benign (not a look-alike
    or a twin), look-alike and borderline prompt of the study set (those that exist)."""
    kinds = [_kind(lab, cat) for lab, cat in zip(prompts.labels, prompts.categories, strict=True)]
    wanted = ("harmful", "everyday", "lookalike", "borderline")
    return [kinds.index(kind) for kind in wanted if kind in kinds]


def response_ids(record: dict[str, Any]) -> list[int]:
    """The token ids of a record's response (the restated prompt as ``<request>``)."""
    return [t for t in tokenize(record["response"], record["prompt"]) if t != EOS]


def text_profile(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a set of responses looks like: mean token counts, apology / caution words,
    decisions, the most common text (rendered with ``<request>`` for the restated prompt)."""
    counts = np.zeros(len(VOCAB))
    apology = caution = 0.0
    texts: Counter[str] = Counter()
    for r in records:
        ids = response_ids(r)
        counts += np.bincount(ids, minlength=len(VOCAB))
        apology += any(t in APOLOGY_WORDS for t in ids)
        caution += sum(t in CAUTION_WORDS for t in ids)
        texts[detokenize(ids)] += 1
    n = max(len(records), 1)
    decisions = Counter(r["decision"] for r in records)
    top_text, top_count = texts.most_common(1)[0] if texts else ("", 0)
    return {
        "per_response": counts / n,
        "apology_share": apology / n,
        "caution_per_response": caution / n,
        "decisions": {k: v / n for k, v in decisions.items()},
        "distinct_texts": len(texts) / n,
        "top_text": top_text,
        "top_text_share": top_count / n,
    }


def indicators(start: dict[str, Any], end: dict[str, Any], degenerate: tuple[float, float],
               distinct_2: tuple[float, float]) -> list[str]:  # fmt: skip
    """What moved between two :func:`text_profile` s, in words: the candidate exploits
    (thresholds: degenerate share +0.1, distinct-2 -0.05, apology share +0.1, caution words
    +0.2 per response, distinct texts per response halved)."""
    found = []
    if degenerate[1] - degenerate[0] > 0.1:
        found.append(f"degenerate text ({degenerate[0]:.0%} -> {degenerate[1]:.0%})")
    if distinct_2[0] - distinct_2[1] > 0.05:
        found.append(f"repetition (distinct-2 {distinct_2[0]:.2f} -> {distinct_2[1]:.2f})")
    if end["apology_share"] - start["apology_share"] > 0.1:
        found.append(f"apologies ({start['apology_share']:.0%} -> {end['apology_share']:.0%} "
                     "of responses)")  # fmt: skip
    if end["caution_per_response"] - start["caution_per_response"] > 0.2:
        found.append(f"caution words ({start['caution_per_response']:.2f} -> "
                     f"{end['caution_per_response']:.2f} per response)")  # fmt: skip
    if end["distinct_texts"] < 0.5 * start["distinct_texts"]:
        found.append(f"fewer distinct texts ({start['distinct_texts']:.2f} -> "
                     f"{end['distinct_texts']:.2f} per response; the most common is "
                     f"{end['top_text_share']:.0%}: \"{end['top_text']}\")")  # fmt: skip
    return found
