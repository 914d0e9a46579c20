"""Tables of the interpolated n-gram models behind :mod:`safety_rlhf.task.reference_lm`.

For one corpus (the phrasing variants of one strategy) :func:`build_ngram` computes the
smoothed next-token distribution ``q_n`` (formula in :mod:`~safety_rlhf.task.reference_lm`)
of every context seen in training, at every order, and a **context automaton**: a context
is represented by its longest suffix of at most ``n - 1`` ids that was seen in training
(that suffix alone decides ``q_n``), and ``transitions[r, w]`` is the state reached from
state ``r`` by appending token ``w``. Stepping a batch of texts is then one gather per step,
whatever the order.

Why one look-up suffices: every prefix of a seen context is itself a seen context (the ids
before the last one were the history of an earlier event), so the longest seen suffix of
``context + (w,)`` is ``Y + (w,)`` for ``Y`` a seen suffix of ``context`` of at most
``n - 2`` ids, and every such ``Y`` is a suffix of the state's own (longest) suffix.

>>> table = build_ngram([(1, 2, 0)], vocab_size=3, order=2, backoff=0.5, bos=3)
>>> table.contexts
((), (3,), (1,), (2,))
>>> table.q[1]  # after BOS: ML says "1", the other half is the unigram (1, 2, EOS)
array([0.16666667, 0.66666667, 0.16666667])
>>> table.transitions[table.start].tolist()  # from BOS: "0" (EOS) was never a context
[0, 2, 3]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["NGramTable", "build_ngram"]


@dataclasses.dataclass(frozen=True)
class NGramTable:
    """One strategy's model. ``R`` states, one per context seen in training.

    :param contexts: ``R`` tuples of ids, the seen contexts, shortest first (``()`` first).
    :param q: float64 ``(R, V)``, the smoothed distribution ``q_n`` of each state.
    :param transitions: int ``(R, V)``, the state after appending each token.
    :param start: the state of an empty text (``n - 1`` ``BOS``).
    """

    contexts: tuple[tuple[int, ...], ...]
    q: np.ndarray
    transitions: np.ndarray
    start: int


def build_ngram(
    corpus: Sequence[Sequence[int]], vocab_size: int, order: int, backoff: float, bos: int
) -> NGramTable:
    """Count the corpus' n-gram events and smooth them (module doc of ``reference_lm``).

    :param corpus: token-id sequences, each already ending with ``EOS``.
    :param vocab_size: ``V``; ids lie in ``0 .. V-1``.
    :param order: ``n``.
    :param backoff: interpolation weight ``beta`` of the lower order.
    :param bos: the context-only padding id (not a token).
    """
    n, v = order, vocab_size
    counts: list[dict[tuple[int, ...], np.ndarray]] = [{} for _ in range(n)]
    for seq in corpus:
        padded = [bos] * (n - 1) + [int(t) for t in seq]
        for t in range(n - 1, len(padded)):
            for k in range(n):  # k = context length
                counts[k].setdefault(tuple(padded[t - k : t]), np.zeros(v))[padded[t]] += 1.0
    contexts: list[tuple[int, ...]] = []
    rows: list[np.ndarray] = []
    state: dict[tuple[int, ...], int] = {}
    for k in range(n):  # shortest first, so the lower order of a context is ready
        for ctx, c in counts[k].items():
            q = c / c.sum()
            if k:
                q = (1.0 - backoff) * q + backoff * rows[state[ctx[1:]]]
            state[ctx] = len(rows)
            contexts.append(ctx)
            rows.append(q)
    return NGramTable(
        contexts=tuple(contexts),
        q=np.stack(rows),
        transitions=_transitions(contexts, state, v, n),
        start=state[(bos,) * (n - 1)],
    )


def _transitions(
    contexts: list[tuple[int, ...]], state: dict[tuple[int, ...], int], v: int, n: int
) -> np.ndarray:
    """``transitions[r, w]``: the state of the longest seen suffix of ``contexts[r] + (w,)``
    of at most ``n - 1`` ids (module doc)."""
    out = np.zeros((len(contexts), v), dtype=np.intp)  # state 0 is the empty context
    if n == 1:
        return out
    for w in range(v):
        if (w,) in state:
            out[:, w] = state[(w,)]
    ending_with: dict[tuple[int, ...], list[int]] = {}
    for r, ctx in enumerate(contexts):
        for j in range(1, len(ctx) + 1):
            ending_with.setdefault(ctx[len(ctx) - j :], []).append(r)
    for ctx in contexts:  # shortest first: longer suffixes override
        if len(ctx) >= 2 and ctx[-1] < v:  # (BOS, BOS, ...) only starts a text
            out[ending_with[ctx[:-1]], ctx[-1]] = state[ctx]
    return out
