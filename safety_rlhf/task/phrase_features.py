"""A response read through the phrase inventory, as a fixed-size vector (no gold label).

The text reward model ``learned-text`` reads a response the way a reward model reads text
through its tokenizer: it is given *what was said*, and learns from preferences alone *what
it is worth*. :func:`phrase_features` gives, for a token sequence (up to the first
``<eos>``):

* how many times each phrase of :data:`~safety_rlhf.task.phrases.PHRASES` occurs in the
  longest-match parse (:data:`PHRASE_ORDER`: one slot per phrase, kinds in the order of
  :class:`~safety_rlhf.task.phrases.PhraseKind`, phrases in the inventory's order);
* how many tokens no phrase covers (unrecognised);
* which content kinds the gold judge's label-free reading finds present (one flag per
  :data:`~safety_rlhf.task.phrases.CONTENT_KINDS` member: steps, caveat, general
  information, refusal, redirect, clarifying question);
* the junk share of the judge's rule 3 and the length in tokens divided by 48 (the text
  env's budget).

Nothing here maps a phrase or a kind to a decision or a reward: which combinations are
answers, refusals or degenerate, and how much each is worth for which prompt, is what the
model has to learn (the judge's rule 4 and the gold tables are not used). ``<request>``
counts as a phrase like any other.

>>> from safety_rlhf.task.tokenizer import tokenize
>>> x = phrase_features(tokenize("I'm sorry, I can't help with that."))
>>> x.shape == (FEATURE_DIM,), x.dtype
(True, dtype('float32'))
>>> {name: float(v) for name, v in zip(FEATURE_NAMES, x) if v and name.startswith("kind:")}
{'kind:REFUSAL': 1.0}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from safety_rlhf.task.phrases import CONTENT_KINDS, PHRASES, PhraseKind, parse
from safety_rlhf.task.text_judge import judge
from safety_rlhf.task.tokenizer import detokenize

__all__ = ["FEATURE_DIM", "FEATURE_NAMES", "PHRASE_ORDER", "phrase_features"]

#: Every phrase of the inventory with its kind, in slot order.
PHRASE_ORDER: tuple[tuple[PhraseKind, tuple[int, ...]], ...] = tuple(
    (kind, phrase) for kind in PhraseKind for phrase in PHRASES.get(kind, ())
)
_SLOT = {phrase: i for i, (_, phrase) in enumerate(PHRASE_ORDER)}
_KINDS = tuple(kind for kind in PhraseKind if kind in CONTENT_KINDS)
_UNRECOGNISED = len(PHRASE_ORDER)
_KIND0 = _UNRECOGNISED + 1
_JUNK = _KIND0 + len(_KINDS)
_LENGTH = _JUNK + 1

#: The name of every coordinate of :func:`phrase_features`.
FEATURE_NAMES: tuple[str, ...] = (
    *(f"{kind.name}:{detokenize(phrase).lower()}" for kind, phrase in PHRASE_ORDER),
    "unrecognised",
    *(f"kind:{kind.name}" for kind in _KINDS),
    "junk_share",
    "length/48",
)
FEATURE_DIM = len(FEATURE_NAMES)

#: The text env's token budget, which scales the length feature.
_BUDGET = 48.0


def phrase_features(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """The feature vector of one response (module docstring), float32 ``(FEATURE_DIM,)``.

    :param ids: token ids; read up to the first ``<eos>``.
    :raises ValueError: for a token id outside the vocabulary.
    """
    tokens = list(ids.tolist() if isinstance(ids, np.ndarray) else ids)
    reading = judge(tokens, None)  # checks the ids; label-free: decision rules unused here
    tokens = [int(t) for t in tokens[: reading.length]]  # the tokens before <eos>
    out = np.zeros(FEATURE_DIM, dtype=np.float32)
    for start, stop, kind in parse(tokens):
        if kind is None:
            out[_UNRECOGNISED] += 1.0
        else:
            out[_SLOT[tuple(tokens[start:stop])]] += 1.0
    for i, kind in enumerate(_KINDS):
        out[_KIND0 + i] = float(kind in reading.kinds)
    out[_JUNK] = reading.junk_share
    out[_LENGTH] = len(tokens) / _BUDGET
    return out
