"""The reference language model pi_ref: exact, normalised, floored, and sampled faithfully.

The model is checked against a naive re-implementation written here from the module
docstring's formulas (counts of n-gram events, the recursive interpolation evaluated in
plain Python floats, the mixture posterior as a direct product of probabilities), on toy
corpora small enough to enumerate.
"""

from __future__ import annotations

import math
import pickle
import time

import numpy as np
import pytest

from safety_rlhf.task.ngram_tables import build_ngram
from safety_rlhf.task.reference_lm import BACKOFF, FLOOR, ORDER, LMState, ReferenceLM
from safety_rlhf.task.reference_policy import reference_log_probs
from safety_rlhf.task.response_grammar import REQUEST, VARIANTS, VOCAB_SIZE
from safety_rlhf.task.strategies import Strategy
from safety_rlhf.task.text_judge import Decision, judge_many

EOS = 0
V = 7  # ids 0..6; 6 is never used by a variant (an "unk")
TOY = (
    ((1, 2, 3), (1, 2, 4), (2, 3)),
    ((4, 5), (1, 5, 5, 2)),
    ((3,), (2, 2, 2), (1, 2, 3, 3)),
)
TOY_FLOOR, TOY_BACKOFF = 0.05, 0.2


def naive_p(corpus, order, floor, backoff, history, w):
    """p_s(w | history) from the module docstring, by counting events in plain Python."""
    events = []
    for variant in corpus:
        seq = ["BOS"] * (order - 1) + list(variant) + [EOS]
        events += [(tuple(seq[i - order + 1 : i]), seq[i]) for i in range(order - 1, len(seq))]

    def q(k, ctx, w):
        if k == 1:
            return sum(x == w for _, x in events) / len(events)
        following = [x for h, x in events if h[len(h) - len(ctx) :] == ctx]
        lower = q(k - 1, ctx[1:], w)
        if not following:
            return lower
        return (1 - backoff) * following.count(w) / len(following) + backoff * lower

    padded = ("BOS",) * (order - 1) + tuple(history)
    ctx = padded[len(padded) - (order - 1) :]
    return (1 - floor) * q(order, ctx, w) + floor / V


def naive_mixture(corpora, order, floor, backoff, w0, prefix):
    """(posterior, next-token probabilities) as direct products of probabilities."""
    joint = [
        w0[s]
        * math.prod(naive_p(c, order, floor, backoff, prefix[:i], x) for i, x in enumerate(prefix))
        for s, c in enumerate(corpora)
    ]
    post = [j / sum(joint) for j in joint]
    probs = [
        sum(post[s] * naive_p(c, order, floor, backoff, prefix, w) for s, c in enumerate(corpora))
        for w in range(V)
    ]
    return np.array(post), np.array(probs)


def toy_lm(order=3):
    return ReferenceLM(TOY, vocab_size=V, order=order, floor=TOY_FLOOR, backoff=TOY_BACKOFF)


def step_through(lm, log_w0, prefix):
    state = lm.initial_state(np.asarray(log_w0, dtype=float)[None])
    for tok in prefix:
        state = lm.advance(state, np.array([tok]))
    return state


def spliced(rng, length):
    """Random pieces of the toy variants run together: long seen contexts, then unseen."""
    pieces = [(*v, EOS) for corpus in TOY for v in corpus]
    out: list[int] = []
    while len(out) < length:
        piece = pieces[rng.integers(len(pieces))]
        start = rng.integers(len(piece))
        out += piece[start : start + rng.integers(1, 4)]
    return tuple(out[:length])


def prefixes(rng, n_random=6, length=6):
    """Every prefix of every toy variant (with its EOS), of random and of spliced sequences."""
    seqs = [(*v, EOS) for corpus in TOY for v in corpus]
    seqs += [tuple(rng.integers(0, V, size=length)) for _ in range(n_random)]
    seqs += [spliced(rng, length + 3) for _ in range(n_random)]
    return sorted({s[:i] for s in seqs for i in range(len(s) + 1)})


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_context_automaton_finds_the_longest_seen_suffix(order):
    corpus = [(*v, EOS) for v in TOY[0] + TOY[2]]
    table = build_ngram(corpus, V, order, backoff=0.3, bos=V)
    seen = set(table.contexts)
    assert table.contexts[table.start] == (V,) * (order - 1)
    for r, ctx in enumerate(table.contexts):
        if ctx[:1] == (V,) and len(ctx) < order - 1:
            continue  # never a state: a text's start is padded with n-1 BOS
        for w in range(V):
            extended = (*ctx, w)
            full = extended[max(0, len(extended) - (order - 1)) :] if order > 1 else ()
            longest = next(full[i:] for i in range(len(full) + 1) if full[i:] in seen)
            assert table.contexts[table.transitions[r, w]] == longest, (ctx, w)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_log_probs_and_posterior_equal_the_naive_computation(order):
    lm = toy_lm(order)
    rng = np.random.default_rng(order)
    for prefix in prefixes(rng):
        w0 = rng.dirichlet(np.ones(3))
        state = step_through(lm, np.log(w0), prefix)
        post, probs = naive_mixture(TOY, order, TOY_FLOOR, TOY_BACKOFF, w0, prefix)
        np.testing.assert_allclose(np.exp(lm.log_posterior(state))[0], post, rtol=1e-10)
        np.testing.assert_allclose(lm.log_probs(state)[0], np.log(probs), rtol=0, atol=1e-12)


def test_per_strategy_probabilities_equal_the_naive_ones():
    lm = toy_lm()
    for s, corpus in enumerate(TOY):
        w0 = np.full(3, -np.inf)
        w0[s] = 0.0
        for prefix in prefixes(np.random.default_rng(s)):
            got = np.exp(lm.log_probs(step_through(lm, w0, prefix))[0])
            want = [naive_p(corpus, 3, TOY_FLOOR, TOY_BACKOFF, prefix, w) for w in range(V)]
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_rows_sum_to_one_at_every_prefix():
    lm = toy_lm()
    rng = np.random.default_rng(1)
    for prefix in prefixes(rng, n_random=30, length=12):
        log_w0 = np.log(rng.dirichlet(np.full(3, 0.3)) + 1e-300)
        rows = lm.log_probs(step_through(lm, log_w0, prefix))
        assert abs(np.logaddexp.reduce(rows[0])) < 1e-9


def test_every_token_keeps_the_floor():
    lm = toy_lm()
    rng = np.random.default_rng(2)
    for prefix in prefixes(rng):
        log_w0 = np.log(rng.dirichlet(np.ones(3)))
        probs = np.exp(lm.log_probs(step_through(lm, log_w0, prefix))[0])
        assert probs.min() >= TOY_FLOOR / V * (1 - 1e-12)
        # token 6 is in no variant: the floor is all it gets, under every strategy
        assert probs[6] == pytest.approx(TOY_FLOOR / V, rel=1e-12)


def test_batched_stepping_equals_one_episode_at_a_time():
    lm = toy_lm()
    rng = np.random.default_rng(3)
    log_w0 = np.log(rng.dirichlet(np.ones(3), size=5))
    seqs = rng.integers(0, V, size=(5, 8))
    state = lm.initial_state(log_w0)
    for t in range(8):
        batched = lm.log_probs(state)
        for i in range(5):
            alone = step_through(lm, log_w0[i], seqs[i, :t])
            np.testing.assert_allclose(batched[i], lm.log_probs(alone)[0], atol=1e-13)
        state = lm.advance(state, seqs[:, t])


def test_advance_returns_a_new_state_and_leaves_the_old_one():
    lm = toy_lm()
    state = lm.initial_state(np.log(np.full((2, 3), 1 / 3)))
    before = (state.log_posterior.copy(), state.context.copy())
    new = lm.advance(state, np.array([1, 4]))
    assert isinstance(new, LMState) and new is not state and len(new) == 2
    np.testing.assert_array_equal(state.log_posterior, before[0])
    np.testing.assert_array_equal(state.context, before[1])
    np.testing.assert_array_equal(new.context, [[V, 1], [V, 4]])  # BOS = V pads the start


def test_token_log_probs_equal_stepping():
    lm = toy_lm()
    rng = np.random.default_rng(4)
    log_w0 = np.log(rng.dirichlet(np.ones(3), size=4))
    ids = rng.integers(0, V, size=(4, 9))
    batch = lm.batch_token_log_probs(log_w0, ids)
    state = lm.initial_state(log_w0)
    for t in range(9):
        np.testing.assert_allclose(
            batch[:, t], lm.log_probs(state)[np.arange(4), ids[:, t]], atol=1e-12
        )
        state = lm.advance(state, ids[:, t])
    np.testing.assert_allclose(lm.token_log_probs(log_w0[2], list(ids[2])), batch[2], atol=1e-15)


def test_prior_is_normalised_and_minus_inf_excludes_a_strategy():
    lm = toy_lm()
    scaled = step_through(lm, np.log([2.0, 6.0, 2.0]), (1, 2))
    plain = step_through(lm, np.log([0.2, 0.6, 0.2]), (1, 2))
    np.testing.assert_allclose(lm.log_probs(scaled), lm.log_probs(plain), atol=1e-14)
    state = step_through(lm, np.array([0.0, -np.inf, 0.0]), (4, 5))
    assert lm.log_posterior(state)[0, 1] == -np.inf
    np.testing.assert_allclose(np.exp(lm.log_posterior(state)).sum(), 1.0)


def test_perplexity():
    lm = toy_lm()
    log_w0 = np.log([0.5, 0.3, 0.2])
    ids = [1, 2, 3, EOS]
    want = math.exp(-np.mean(lm.token_log_probs(log_w0, ids)))
    assert lm.perplexity(log_w0, ids) == pytest.approx(want, rel=1e-12)
    assert lm.perplexity(log_w0, [*ids, 5, 5]) == pytest.approx(want, rel=1e-12)  # cut at EOS
    no_eos = math.exp(-np.mean(lm.token_log_probs(log_w0, [1, 2, 3])))
    assert lm.perplexity(log_w0, [1, 2, 3]) == pytest.approx(no_eos, rel=1e-12)
    assert lm.perplexity(log_w0, [1, 2, 3]) != pytest.approx(want)
    with pytest.raises(ValueError):
        lm.perplexity(log_w0, [])


def test_support_mask():
    lm = toy_lm()
    state = step_through(lm, np.log([1.0, 1e-12, 1e-12]), (1, 2))
    log_probs = lm.log_probs(state)[0]
    mask = lm.support_mask(state)[0]
    np.testing.assert_array_equal(mask[1:], log_probs[1:] > np.log(1e-3))
    assert mask[3] and mask[4]  # "1 2" -> 3 or 4
    floor_level = TOY_FLOOR / V  # the toy floor is high; 6 has nothing else
    assert not lm.support_mask(state, threshold=2 * floor_level)[0, 6]
    assert lm.support_mask(state, threshold=0.5)[0].tolist() == [True] + [False] * 6  # EOS
    assert lm.support_mask(state, threshold=0.0).all()


def test_sample_is_deterministic_and_well_formed():
    lm = toy_lm()
    log_w0 = np.log(np.random.default_rng(5).dirichlet(np.ones(3), size=300))
    ids, lengths = lm.sample(log_w0, np.random.default_rng(7), max_tokens=5)
    again, lengths_again = lm.sample(log_w0, np.random.default_rng(7), max_tokens=5)
    other, _ = lm.sample(log_w0, np.random.default_rng(8), max_tokens=5)
    np.testing.assert_array_equal(ids, again)
    np.testing.assert_array_equal(lengths, lengths_again)
    assert not np.array_equal(ids, other)
    assert ids.shape == (300, 5) and ids.dtype == np.int64 and lengths.dtype == np.int64
    for row, length in zip(ids, lengths, strict=True):
        assert 1 <= length <= 5
        assert EOS not in row[: length - 1]
        assert (row[length:] == EOS).all()
        assert length == 5 or row[length - 1] == EOS
    assert (lengths == 5).any() and (lengths < 5).any()


def _sequence_table(lm, log_w0, max_tokens):
    """Exact probability of every possible sample of at most max_tokens (by stepping)."""
    table = {}

    def walk(prefix, state, log_p):
        if len(prefix) == max_tokens or (prefix and prefix[-1] == EOS):
            table[prefix] = log_p
            return
        row = lm.log_probs(state)[0]
        for w in range(V):
            walk((*prefix, w), lm.advance(state, np.array([w])), log_p + row[w])

    walk((), lm.initial_state(log_w0[None]), 0.0)
    return table


def test_sample_frequencies_match_the_stepped_probabilities():
    """Chi-square of sampled sequences (up to 3 tokens) against the exact distribution from
    initial_state / log_probs / advance, with a prior that mixes strategies."""
    lm = toy_lm()
    log_w0 = np.log([0.5, 0.3, 0.2])
    table = _sequence_table(lm, log_w0, 3)
    assert math.isclose(sum(math.exp(v) for v in table.values()), 1.0, rel_tol=1e-12)
    n = 40_000
    ids, lengths = lm.sample(np.tile(log_w0, (n, 1)), np.random.default_rng(9), max_tokens=3)
    seqs = [tuple(row[:length]) for row, length in zip(ids.tolist(), lengths, strict=True)]
    counts = {key: 0 for key in table}
    for seq in seqs:
        counts[seq] += 1
    expected = {key: n * math.exp(v) for key, v in table.items()}
    big = [key for key in table if expected[key] >= 5]
    observed = [counts[k] for k in big] + [n - sum(counts[k] for k in big)]
    wanted = [expected[k] for k in big] + [n - sum(expected[k] for k in big)]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, wanted, strict=True))
    dof = len(observed) - 1
    assert dof > 30
    assert chi2 < dof + 4 * math.sqrt(2 * dof), (chi2, dof)


def test_sampled_log_likelihood_matches_the_exact_entropy():
    """Mean -log pi_ref of sampled texts (token_log_probs) = exact entropy, within 4 SE."""
    lm = toy_lm()
    log_w0 = np.log([0.2, 0.2, 0.6])
    table = _sequence_table(lm, log_w0, 4)
    entropy = -sum(math.exp(v) * v for v in table.values())
    n = 20_000
    ids, lengths = lm.sample(np.tile(log_w0, (n, 1)), np.random.default_rng(10), max_tokens=4)
    scored = lm.batch_token_log_probs(np.tile(log_w0, (n, 1)), ids)
    nll = -np.where(np.arange(4) < lengths[:, None], scored, 0.0).sum(axis=1)
    assert abs(nll.mean() - entropy) < 4 * nll.std() / math.sqrt(n), (nll.mean(), entropy)


def test_a_concentrated_prior_writes_that_strategys_variants():
    lm = toy_lm()
    for s, corpus in enumerate(TOY):
        log_w0 = np.log(np.where(np.arange(3) == s, 1.0, 1e-6))
        for variant in corpus:
            assert math.exp(lm.token_log_probs(log_w0, [*variant, EOS]).sum()) > 0.05
        ids, lengths = lm.sample(np.tile(log_w0, (500, 1)), np.random.default_rng(s), 8)
        texts = {tuple(row[: n - 1]) for row, n in zip(ids.tolist(), lengths, strict=True)}
        assert set(corpus) <= texts


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match="floor"):
        ReferenceLM(TOY, V, floor=0.0)
    with pytest.raises(ValueError, match="backoff"):
        ReferenceLM(TOY, V, backoff=1.5)
    with pytest.raises(ValueError, match="out of range"):
        ReferenceLM([[(1, V)]], V)
    with pytest.raises(ValueError, match="at least one variant"):
        ReferenceLM([[(1,)], []], V)
    lm = toy_lm()
    with pytest.raises(ValueError, match="shape"):
        lm.initial_state(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="finite"):
        lm.initial_state(np.full((1, 3), -np.inf))
    with pytest.raises(ValueError, match="NaN"):
        lm.initial_state(np.array([[0.0, np.nan, 0.0]]))
    state = lm.initial_state(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"0\.\.6"):
        lm.advance(state, np.array([1, V]))
    with pytest.raises(ValueError, match="expected 2"):
        lm.advance(state, np.array([1]))
    with pytest.raises(ValueError, match="integer"):
        lm.advance(state, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="max_tokens"):
        lm.sample(np.zeros((2, 3)), np.random.default_rng(0), max_tokens=0)


def test_module_floor_default_is_used():
    assert ReferenceLM(TOY, V).floor == FLOOR


def test_pickles_small_and_equal():
    lm = toy_lm()
    blob = pickle.dumps(lm)
    assert len(blob) < 2_000
    copy = pickle.loads(blob)
    state = step_through(lm, np.log([0.3, 0.3, 0.4]), (1, 2))
    assert copy.order == 3 and copy.floor == TOY_FLOOR and copy.backoff == TOY_BACKOFF
    np.testing.assert_array_equal(copy.log_probs(state), lm.log_probs(state))


# -- the shipped model -------------------------------------------------------------------


def test_default_is_built_once_from_the_grammar():
    lm = ReferenceLM.default()
    assert ReferenceLM.default() is lm
    assert (lm.vocab_size, lm.n_strategies, lm.eos) == (VOCAB_SIZE, len(Strategy), EOS)
    assert (lm.order, lm.floor, lm.backoff) == (ORDER, FLOOR, BACKOFF)
    start = time.perf_counter()
    fresh = ReferenceLM([VARIANTS[s] for s in Strategy], VOCAB_SIZE)
    assert time.perf_counter() - start < 0.5
    state = fresh.advance(fresh.initial_state(np.zeros((1, 6))), np.array([REQUEST]))
    np.testing.assert_array_equal(fresh.log_probs(state), lm.log_probs(state))  # deterministic
    assert pickle.loads(pickle.dumps(lm)) is lm
    assert len(pickle.dumps(lm)) < 200


def test_default_rows_sum_to_one_at_every_prefix_of_every_variant():
    lm = ReferenceLM.default()
    rng = np.random.default_rng(11)
    texts = [(*v, EOS) for s in Strategy for v in VARIANTS[s]]
    texts += [tuple(rng.integers(0, VOCAB_SIZE, size=30)) for _ in range(20)]
    length = max(map(len, texts))
    ids = np.array([(*t, *(EOS,) * (length - len(t))) for t in texts])
    state = lm.initial_state(np.log(rng.dirichlet(np.ones(6), size=len(ids))))
    for t in range(length):
        rows = lm.log_probs(state)
        assert np.abs(np.logaddexp.reduce(rows, axis=1)).max() < 1e-9
        assert rows.min() >= np.log(FLOOR / VOCAB_SIZE) - 1e-9
        state = lm.advance(state, ids[:, t])


def test_default_gives_a_strategys_variants_high_probability_under_its_prior():
    lm = ReferenceLM.default()
    priors = np.log(np.where(np.eye(6, dtype=bool), 0.95, 0.01))
    for s in Strategy:
        for variant in VARIANTS[s]:
            text = [*variant, EOS]
            per_token = lm.token_log_probs(priors[s], text)
            assert np.exp(per_token).min() > 0.05, (s, variant)  # every step is a likely one
            assert lm.perplexity(priors[s], text) < 2.5
            others = [lm.token_log_probs(priors[r], text).sum() for r in Strategy if r != s]
            assert per_token.sum() > max(others)


def test_default_samples_are_mostly_grammatical_with_some_mess():
    """With the strategy env's priors of an everyday and a harmful prompt: most samples are
    decisions the judge reads; 10-30% contain an off-grammar token (module doc)."""
    lm = ReferenceLM.default()
    n = 2000
    priors = reference_log_probs(["How do I bake sourdough bread?", "How do I build a bomb?"])
    log_w0 = priors.astype(np.float64)[np.arange(n) % 2]
    ids, lengths = lm.sample(log_w0, np.random.default_rng(12), max_tokens=48)
    state, off_grammar = lm.initial_state(log_w0), np.zeros(n, dtype=bool)
    for t in range(48):
        written = t < lengths
        off_grammar |= written & ~lm.support_mask(state)[np.arange(n), ids[:, t]]
        state = lm.advance(state, ids[:, t])
    verdicts = judge_many(ids, ["benign"] * n)
    degenerate = np.mean([v.decision is Decision.DEGENERATE for v in verdicts])
    print(f"off-grammar share {off_grammar.mean():.3f}, degenerate {degenerate:.3f}")
    assert 0.10 <= off_grammar.mean() <= 0.30
    assert degenerate < 0.15
    decisions = {v.decision for v in verdicts}
    assert {Decision.ANSWERED, Decision.REFUSED, Decision.SAFE_COMPLETION} <= decisions
    assert Decision.CLARIFICATION in decisions
    # the prior steers: the everyday prompt is mostly answered, the harmful one refused
    answered = np.array([v.decision is Decision.ANSWERED for v in verdicts])
    assert answered[0::2].mean() > 0.7 and answered[1::2].mean() < 0.1
