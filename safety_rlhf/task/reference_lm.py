"""The reference language model ``pi_ref`` of ``SafetyRLHF-Text-v0`` (the "SFT model").

``pi_ref`` is a prompt-conditional mixture of ``S`` per-strategy n-gram language models
(``S = 6``, one per :class:`~safety_rlhf.task.strategies.Strategy`, in that order), with
exact per-token probabilities. Notation: vocabulary ids ``0 .. V-1`` (``EOS = 0``), order
``n`` (3 by default), ``BOS = V`` a context-only padding id that is never a token.

**Training data.** Strategy ``s`` is trained on its phrasing variants, each followed by
``EOS`` and left-padded with ``n - 1`` ``BOS``. Every token ``w`` of a padded variant (the
``EOS`` included, ``BOS`` never) is one event with history ``h`` = the ``n - 1`` ids before
it. ``c_k(g, w)`` counts the events whose last ``k - 1`` history ids are ``g`` and token is
``w``; ``c_k(g) = sum_w c_k(g, w)``; ``ML_k(w | g) = c_k(g, w) / c_k(g)``.

**Smoothing** (recursive interpolation with the lower orders, weight ``beta = backoff``)::

    q_1(w)     = ML_1(w)                                       (unigram of the strategy)
    q_k(w | g) = (1 - beta) ML_k(w | g) + beta q_(k-1)(w | g') if c_k(g) > 0
               = q_(k-1)(w | g')                                otherwise (unseen context)

where ``g'`` drops the oldest id of ``g``. **Floor**: every token keeps ``floor / V``::

    p_s(w | h) = (1 - floor) q_n(w | last n-1 ids of h) + floor / V

**Mixture.** With the caller's prior ``w0`` over strategies (the strategy env's
``pi_ref(strategy | prompt)``) and a prefix ``x_1 .. x_(t-1)``::

    pi_ref(x_t | prompt, x_<t) = sum_s post_s(x_<t) p_s(x_t | x_<t)
    post_s(x_<t) = w0_s prod_(i<t) p_s(x_i | x_<i) / sum_r w0_r prod_(i<t) p_r(x_i | x_<i)

so ``pi_ref(w | ...) >= floor / V`` for every token at every prefix, and ``log pi_ref`` is
always finite. The posterior is kept as float64 log-probabilities; the mixture is summed
with the normalised posterior weights (every ``p_s >= floor / V``, so nothing underflows).

**Tables** (:mod:`safety_rlhf.task.ngram_tables`). Per strategy, one row of ``p_s`` for
every context seen in training, at any order (an unseen context uses the row of its longest
seen suffix), all stacked into one ``(R, V)`` table, and a transition table giving the row
after each token. A state holds each episode's row under every strategy, so
:meth:`ReferenceLM.log_probs` of ``m`` states is ``S`` row gathers and a weighted sum, and
:meth:`ReferenceLM.advance` is two gathers.

**Sampling** (:meth:`ReferenceLM.sample`) draws a strategy from the posterior, then a token
from that strategy's row, which is exactly a draw from the mixture; a sampled token is
**off-grammar** when ``pi_ref`` gives it at most :data:`SUPPORT_THRESHOLD` at its prefix
(:meth:`ReferenceLM.support_mask` forbids it): in practice a draw from the floor or from
the faint unigram share.

**Constants of the shipped model** (:meth:`ReferenceLM.default`, built from
:data:`~safety_rlhf.task.response_grammar.VARIANTS`), measured on 6,000 samples of at most
48 tokens under the strategy env's ``pi_ref(strategy | prompt)`` of an everyday and a
harmful prompt:

- :data:`ORDER` ``= 3``: the last two tokens and the posterior decide the next token. Plain
  trigram sampling already recombines the variants at shared contexts (about 5% of the
  samples are one variant verbatim), and about 6% loop until truncated.
- :data:`BACKOFF` ``= 0.02``: a little bigram and unigram mixing on top; larger values
  mostly break phrases (at 0.05 the judge finds unrecognised tokens in 28% of the samples,
  at 0.02 in 19%).
- :data:`FLOOR` ``= 0.005`` (about ``1.7e-5`` per token at ``V = 300``): 14% of the samples
  contain an off-grammar token, within the 10-30% aimed at, so that preference data built
  from ``pi_ref`` covers some mess while most text is grammatical: 24% contain an n-gram
  that no variant has, and the gold judge calls 10% degenerate.

>>> lm = ReferenceLM([[(3, 4)], [(5,)]], vocab_size=6, order=3, floor=0.06, backoff=0.1)
>>> state = lm.initial_state(np.log([[0.5, 0.5]]))
>>> round(float(np.exp(lm.log_probs(state)).sum()), 12)
1.0
>>> state = lm.advance(state, np.array([3]))
>>> np.exp(lm.log_posterior(state)).round(4)  # "3" starts strategy 0's only variant
array([[0.9895, 0.0105]])
>>> ids, lengths = lm.sample(np.log([[1.0, 1e-9]]), np.random.default_rng(0), max_tokens=4)
>>> ids.shape, int(lengths[0]) <= 4
((1, 4), True)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from safety_rlhf.task.ngram_tables import build_ngram
from safety_rlhf.task.response_grammar import EOS, VARIANTS, VOCAB_SIZE
from safety_rlhf.task.strategies import Strategy

__all__ = ["BACKOFF", "FLOOR", "ORDER", "SUPPORT_THRESHOLD", "LMState", "ReferenceLM"]

#: ``n`` of the n-grams: the last two tokens (and the posterior) decide the next one.
ORDER = 3
#: Total probability mass spread uniformly over the vocabulary at every step (module doc).
FLOOR = 0.005
#: Interpolation weight ``beta`` of the next-lower order at a seen context (module doc).
BACKOFF = 0.02
#: Default of :meth:`ReferenceLM.support_mask`; a token at or below it is "off-grammar".
SUPPORT_THRESHOLD = 1e-3


@dataclasses.dataclass(frozen=True)
class LMState:
    """Where a batch of ``m`` episodes stands: never modified, :meth:`ReferenceLM.advance`
    returns a new one.

    :param log_posterior: float64 ``(m, S)``, normalised log posterior over strategies.
    :param context: int64 ``(m, n-1)``, the last ``n - 1`` ids, oldest first (``BOS = V``
        pads the start).
    :param rows: int ``(S, m)``, each episode's table row under each strategy (the row of
        the longest suffix of its text that strategy saw in training).
    """

    log_posterior: np.ndarray
    context: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return int(self.log_posterior.shape[0])


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


def _normalise(log_w: np.ndarray) -> np.ndarray:
    """Normalise log weights along the last axis; every row needs one finite entry."""
    if np.isnan(log_w).any() or np.isposinf(log_w).any():
        raise ValueError("log prior must not contain NaN or +inf")
    total = _logsumexp(log_w, axis=-1)
    if not np.isfinite(total).all():
        raise ValueError("every log prior needs at least one finite entry")
    return log_w - total[..., None]


class ReferenceLM:
    """Mixture of per-strategy interpolated n-gram LMs with a uniform floor (module doc).

    :param variants: one corpus per strategy (in :class:`Strategy` order for the shipped
        model), each a sequence of token-id sequences without the final ``EOS``.
    :param vocab_size: ``V``; every id must lie in ``0 .. V-1``.
    :param order: ``n`` of the n-grams (``>= 1``).
    :param floor: total mass spread uniformly over the vocabulary, in ``(0, 1)``.
    :param backoff: interpolation weight ``beta`` of the lower order, in ``[0, 1]``.
    :param eos: the end-of-sequence id, appended to every variant.
    """

    def __init__(
        self,
        variants: Sequence[Sequence[Sequence[int]]],
        vocab_size: int,
        order: int = ORDER,
        floor: float = FLOOR,
        backoff: float = BACKOFF,
        eos: int = 0,
    ) -> None:
        if not 0.0 < floor < 1.0:
            raise ValueError(f"floor must lie in (0, 1), got {floor}")
        if not 0.0 <= backoff <= 1.0:
            raise ValueError(f"backoff must lie in [0, 1], got {backoff}")
        if order < 1 or vocab_size < 1 or not 0 <= eos < vocab_size:
            raise ValueError("need order >= 1, vocab_size >= 1 and 0 <= eos < vocab_size")
        corpora = tuple(tuple(tuple(int(t) for t in v) for v in corpus) for corpus in variants)
        if not corpora or any(len(corpus) == 0 for corpus in corpora):
            raise ValueError("every strategy needs at least one variant")
        for variant in (v for corpus in corpora for v in corpus):
            if any(not 0 <= t < vocab_size for t in variant):
                raise ValueError(f"token id out of range 0..{vocab_size - 1} in {variant}")
        self.vocab_size, self.order, self.eos = vocab_size, order, eos
        self.floor, self.backoff = float(floor), float(backoff)
        self.n_strategies = len(corpora)
        self._args = (corpora, vocab_size, order, self.floor, self.backoff, eos)
        q: list[np.ndarray] = []
        transitions: list[np.ndarray] = []
        start: list[int] = []
        offset = 0
        for corpus in corpora:
            table = build_ngram(
                [(*v, eos) for v in corpus], vocab_size, order, self.backoff, bos=vocab_size
            )
            q.append(table.q)
            transitions.append(table.transitions + offset)
            start.append(table.start + offset)
            offset += len(table.q)
        probs = (1.0 - self.floor) * np.concatenate(q) + self.floor / vocab_size
        self._probs = probs
        self._log_probs = np.log(probs)
        self._cum = np.cumsum(probs, axis=1)
        self._cum[:, -1] = 1.0  # so that u < 1 always finds a token
        self._transitions = np.concatenate(transitions)
        self._start = np.array(start, dtype=np.intp)
        for array in (self._probs, self._log_probs, self._cum, self._transitions, self._start):
            array.flags.writeable = False

    @classmethod
    def default(cls) -> ReferenceLM:
        """The shipped ``pi_ref``: the response grammar's ``VARIANTS`` (in :class:`Strategy`
        order) over its ``VOCAB_SIZE`` tokens, :data:`ORDER`, :data:`FLOOR`,
        :data:`BACKOFF`. Built deterministically once per process (about 30 ms) and shared;
        its tables are read-only. It pickles as a reference to this method."""
        return _default()

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle the constructor arguments, not the tables (rebuilt on load)."""
        if self is _default():
            return (ReferenceLM.default, ())
        return (ReferenceLM, self._args)

    # -- batched stepping --------------------------------------------------------------

    def initial_state(self, log_w0: np.ndarray) -> LMState:
        """State of ``m`` empty responses under log prior ``log_w0`` (``(m, S)``; it is
        normalised here, ``-inf`` excludes a strategy)."""
        log_w = self._check_prior(log_w0, ndim=2)
        m = len(log_w)
        context = np.full((m, self.order - 1), self.vocab_size, dtype=np.int64)
        rows = np.repeat(self._start[:, None], m, axis=1)
        return LMState(log_w, context, rows)

    def state_at(self, log_posterior: np.ndarray, context: np.ndarray) -> LMState:
        """The state whose posterior is ``log_posterior`` (``(m, S)``) and whose last ``n - 1``
        ids are ``context`` (``(m, n-1)``, oldest first, ``BOS = V`` before the start).

        The table row of a text under each strategy depends only on its last ``n - 1`` ids
        (the longest seen suffix is at most that long), so feeding the context's ids to the
        start state finds it: what the text env's observation needs to determine ``pi_ref``.
        """
        log_post = np.asarray(log_posterior, dtype=np.float64)
        ctx = np.asarray(context, dtype=np.int64)
        rows = np.repeat(self._start[:, None], len(ctx), axis=1)
        for col in range(ctx.shape[1]):
            tok = ctx[:, col]
            real = tok != self.vocab_size
            rows[:, real] = self._transitions[rows[:, real], tok[real]]
        return LMState(log_post, ctx, rows)

    def log_probs(self, state: LMState) -> np.ndarray:
        """``log pi_ref(w | prompt, prefix)`` of every token: float64 ``(m, V)``."""
        return np.log(self._mixture(state))

    def advance(self, state: LMState, tokens: np.ndarray) -> LMState:
        """A new state with ``tokens`` (``(m,)`` ids) appended; ``state`` is unchanged.
        Appending after ``EOS`` is allowed (it is just another token)."""
        tok = self._check_ids(tokens, ndim=1)
        if len(tok) != len(state):
            raise ValueError(f"expected {len(state)} tokens, got {len(tok)}")
        log_post = state.log_posterior + self._log_probs[state.rows, tok].T
        log_post -= _logsumexp(log_post, axis=1)[:, None]
        context = np.concatenate([state.context, tok[:, None]], axis=1)[:, 1:]
        return LMState(log_post, context, self._transitions[state.rows, tok])

    def log_posterior(self, state: LMState) -> np.ndarray:
        """Normalised log posterior over strategies given each prefix: ``(m, S)`` (a copy)."""
        return state.log_posterior.copy()

    def support_mask(self, state: LMState, threshold: float = SUPPORT_THRESHOLD) -> np.ndarray:
        """Tokens ``pi_ref`` actually proposes: ``(m, V)`` bool, ``pi_ref(w | ...) > threshold``.

        The default :data:`SUPPORT_THRESHOLD` lies far above the floor level ``floor / V``
        and the unigram share ``backoff**(n-1)``, far below the shares of the continuations
        seen in training, so the mask keeps what the grammar (and its recombinations) writes
        and forbids floor-only tokens; ``log pi_ref`` of an allowed token exceeds
        ``log(threshold)``. ``EOS`` is always allowed, so every row allows a token.
        """
        mask = self._mixture(state) > threshold
        mask[:, self.eos] = True
        return mask

    # -- whole sequences -----------------------------------------------------------------

    def batch_token_log_probs(self, log_w0: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Per-token ``log pi_ref`` of ``m`` sequences: ``log_w0 (m, S)``, ``ids (m, T)``
        -> float64 ``(m, T)``. The ids are scored as given (nothing is cut at ``EOS``)."""
        state = self.initial_state(log_w0)
        seqs = self._check_ids(ids, ndim=2)
        if len(seqs) != len(state):
            raise ValueError(f"log_w0 has {len(state)} rows but ids has {len(seqs)}")
        log_post, rows = state.log_posterior.T, state.rows  # (S, m) each
        out = np.empty(seqs.shape)
        for t in range(seqs.shape[1]):
            joint = log_post + self._log_probs[rows, seqs[:, t]]
            out[:, t] = _logsumexp(joint, axis=0)
            log_post = joint - out[:, t]
            rows = self._transitions[rows, seqs[:, t]]
        return out

    def token_log_probs(self, log_w0: np.ndarray, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Per-token ``log pi_ref`` of one sequence: ``log_w0 (S,)`` -> ``(len(ids),)``."""
        prior = self._check_prior(log_w0, ndim=1)
        return self.batch_token_log_probs(prior[None], np.asarray(ids, dtype=np.int64)[None])[0]

    def perplexity(self, log_w0: np.ndarray, ids: Sequence[int] | np.ndarray) -> float:
        """``exp(-mean log pi_ref)`` over the tokens up to and including the first ``EOS``
        (anything after it is dropped; a text without ``EOS`` is scored as it stands)."""
        seq = np.asarray(ids, dtype=np.int64).reshape(-1)
        ends = np.flatnonzero(seq == self.eos)
        if len(ends):
            seq = seq[: ends[0] + 1]
        if not len(seq):
            raise ValueError("perplexity of an empty sequence is undefined")
        return float(np.exp(-np.mean(self.token_log_probs(log_w0, seq))))

    def sample(
        self, log_w0: np.ndarray, rng: np.random.Generator, max_tokens: int = 48
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``m`` responses, vectorised over the batch (one numpy pass per position).

        At each position a strategy is drawn from the posterior, then a token from that
        strategy's ``p_s``: exactly a draw from the mixture ``pi_ref``. Both draws are by
        inverse CDF on the cumulative probabilities (uniforms ``rng.random((max_tokens, 2,
        m))`` drawn up front, so a seed fixes the samples).

        :return: ``ids`` int64 ``(m, max_tokens)`` padded with ``EOS`` after the end, and
            ``lengths`` int64 ``(m,)``: tokens written, the ``EOS`` included when sampled
            (``max_tokens`` and no ``EOS`` when truncated).
        """
        if max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        state = self.initial_state(log_w0)
        log_post, rows = state.log_posterior, state.rows
        m, n_s = log_post.shape
        ids = np.full((m, max_tokens), self.eos, dtype=np.int64)
        lengths = np.full(m, max_tokens, dtype=np.int64)
        alive = np.ones(m, dtype=bool)
        uniforms = rng.random((max_tokens, 2, m))
        every = np.arange(m)
        for t in range(max_tokens):
            cum_post = np.cumsum(np.exp(log_post), axis=1)
            u_s = uniforms[t, 0, :, None] * cum_post[:, -1:]
            strategy = np.minimum((cum_post <= u_s).sum(axis=1), n_s - 1)
            tok = self._inverse_cdf(rows[strategy, every], uniforms[t, 1])
            tok[~alive] = self.eos
            ids[:, t] = tok
            ended = alive & (tok == self.eos)
            lengths[ended] = t + 1
            alive &= ~ended
            if not alive.any():
                break
            log_post = log_post + self._log_probs[rows, tok].T
            log_post -= _logsumexp(log_post, axis=1)[:, None]
            rows = self._transitions[rows, tok]
        return ids, lengths

    # -- helpers ----------------------------------------------------------------------

    def _mixture(self, state: LMState) -> np.ndarray:
        """``pi_ref`` probabilities ``(m, V)``: the posterior-weighted per-strategy rows."""
        weights = np.exp(state.log_posterior)
        probs = weights[:, 0, None] * self._probs[state.rows[0]]
        for s in range(1, self.n_strategies):
            probs += weights[:, s, None] * self._probs[state.rows[s]]
        return probs

    def _inverse_cdf(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        """First token ``w`` of each row with ``cum[row, w] > u`` (vectorised bisection)."""
        lo = np.zeros(len(rows), dtype=np.int64)
        hi = np.full(len(rows), self.vocab_size - 1, dtype=np.int64)
        while True:
            active = lo < hi
            if not active.any():
                return lo
            mid = (lo + hi) // 2
            right = self._cum[rows, mid] <= u
            lo = np.where(active & right, mid + 1, lo)
            hi = np.where(active & ~right, mid, hi)

    def _check_prior(self, log_w0: np.ndarray, ndim: int) -> np.ndarray:
        arr = np.asarray(log_w0, dtype=np.float64)
        if arr.ndim != ndim or arr.shape[-1] != self.n_strategies:
            want = "(m, S)" if ndim == 2 else "(S,)"
            raise ValueError(f"log prior must have shape {want}, S={self.n_strategies}")
        return _normalise(arr)

    def _check_ids(self, ids: np.ndarray, ndim: int) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim != ndim or (arr.size and arr.dtype.kind not in "iu"):
            raise ValueError(f"token ids must be a {ndim}-d integer array")
        arr = arr.astype(np.int64, copy=False)
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in 0..{self.vocab_size - 1}")
        return arr


@functools.cache
def _default() -> ReferenceLM:
    return ReferenceLM([VARIANTS[s] for s in Strategy], VOCAB_SIZE, eos=EOS)
