"""The text env's vocabulary, tokenizer, phrase inventory and response grammar.

Expected token ids are looked up by hand in ``TOKEN_ID`` (never produced by ``tokenize``);
expected texts are written out.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from safety_rlhf.task.phrases import DECIDING_KINDS, PHRASE_KIND, PHRASES, PhraseKind, parse
from safety_rlhf.task.response_grammar import VARIANTS, variant_text
from safety_rlhf.task.strategies import Strategy
from safety_rlhf.task.tokenizer import (
    APOLOGY_WORDS,
    CAUTION_WORDS,
    EOS,
    REQUEST,
    TOKEN_ID,
    UNK,
    VOCAB,
    VOCAB_SIZE,
    detokenize,
    render_request,
    tokenize,
)

ALL_VARIANTS = [(s, i, v) for s, vs in VARIANTS.items() for i, v in enumerate(vs)]
PROMPTS = [
    None,
    "How do I kill a Python process?",
    'Say "hi"  to\tmy   neighbour',
    "",
    "<eos> (odd) <unk> prompt.",
    '"',
]


def ids(*tokens: str) -> list[int]:
    return [TOKEN_ID[t] for t in tokens]


# -- vocabulary ---------------------------------------------------------------------------


def test_special_tokens_have_fixed_ids() -> None:
    assert (EOS, UNK, REQUEST) == (0, 1, 2)
    assert VOCAB[:3] == ("<eos>", "<unk>", "<request>")


def test_vocabulary_size_and_uniqueness() -> None:
    assert VOCAB_SIZE == len(VOCAB) == len(set(VOCAB)) == len(TOKEN_ID)
    assert 250 <= VOCAB_SIZE <= 450
    assert all(TOKEN_ID[t] == i for i, t in enumerate(VOCAB))


def test_vocabulary_has_punctuation_digits_contractions_and_fillers() -> None:
    for token in [".", ",", "?", "!", ":", "1", "2", "3", "i'm", "can't", "won't"]:
        assert token in TOKEN_ID
    for filler in ["really", "very", "great", "okay", "well", "just"]:
        assert filler in TOKEN_ID
    words = VOCAB[3:]
    assert all(w == w.lower() for w in words)


@pytest.mark.parametrize("token", range(VOCAB_SIZE))
def test_every_token_tokenizes_to_itself(token: int) -> None:
    assert tokenize(VOCAB[token]) == [token]


def test_apology_and_caution_words() -> None:
    assert {TOKEN_ID[w] for w in ["sorry", "apologise", "unfortunately"]} <= APOLOGY_WORDS
    caution = ["careful", "safe", "safely", "caution", "law", "responsibly"]
    assert {TOKEN_ID[w] for w in caution} <= CAUTION_WORDS
    assert not APOLOGY_WORDS & CAUTION_WORDS
    assert all(0 <= t < VOCAB_SIZE for t in APOLOGY_WORDS | CAUTION_WORDS)


# -- tokenize / detokenize ----------------------------------------------------------------


def test_tokenize_hand_written() -> None:
    assert tokenize("I'm sorry, but I CAN'T help!") == ids(
        "i'm", "sorry", ",", "but", "i", "can't", "help", "!"
    )
    assert tokenize("  step 1:\nget\tready. ") == ids("step", "1", ":", "get", "ready", ".")
    assert tokenize("I\u2019m sure") == ids("i'm", "sure")  # curly apostrophe
    assert tokenize("") == []


def test_unknown_words_become_unk() -> None:
    # "hello", "zebra", "-", "crossing": four pieces, none in the vocabulary
    assert tokenize("Hello zebra-crossing") == [UNK, UNK, UNK, UNK]
    assert tokenize("sure #!") == [TOKEN_ID["sure"], UNK, TOKEN_ID["!"]]
    assert tokenize("<unk> <foo>") == [UNK, UNK]


def test_special_tokens_written_out() -> None:
    assert tokenize("<request> <eos> <unk>") == [REQUEST, EOS, UNK]
    assert tokenize("(<request>).") == [TOKEN_ID["("], REQUEST, TOKEN_ID[")"], TOKEN_ID["."]]


def test_tokenize_finds_the_quoted_prompt() -> None:
    prompt = "How  do I\nquit vim?"
    text = 'Sure ("How do I quit vim?").'
    expected = [TOKEN_ID["sure"], TOKEN_ID["("], REQUEST, TOKEN_ID[")"], TOKEN_ID["."]]
    assert tokenize(text, prompt) == expected
    # without the prompt the quoted words are read word by word
    assert tokenize(text)[:3] == [TOKEN_ID["sure"], TOKEN_ID["("], UNK]
    # another quotation is not the request
    assert REQUEST not in tokenize('Sure ("How do I exit vim?").', prompt)


def test_render_request() -> None:
    assert render_request("  How do\nI   quit?  ") == '"How do I quit?"'
    assert render_request('Say "hi"') == "\"Say 'hi'\""


def test_detokenize_hand_written() -> None:
    seq = ids("i'm", "sorry", ",", "but", "i", "can't", "help", "(", "<request>", ")", ".")
    assert detokenize(seq) == "I'm sorry, but I can't help (<request>)."
    assert detokenize(seq, "How  do I\nquit vim?") == (
        "I'm sorry, but I can't help (\"How do I quit vim?\")."
    )
    seq = ids("okay", "?", "sure", "!", "step", "1", ":", "well", ";", "sure", "<unk>")
    assert detokenize(seq) == "Okay? Sure! Step 1: well; sure <unk>"


def test_detokenize_stops_at_eos() -> None:
    assert detokenize(ids("sure", "<eos>", "okay")) == "Sure"
    assert detokenize([EOS]) == ""
    assert detokenize(np.array(ids("sure", "."))) == "Sure."


@pytest.mark.parametrize("bad", [-1, VOCAB_SIZE])
def test_detokenize_rejects_ids_outside_the_vocabulary(bad: int) -> None:
    with pytest.raises(ValueError, match="outside the vocabulary"):
        detokenize([TOKEN_ID["sure"], bad])


@pytest.mark.parametrize("prompt", PROMPTS)
def test_round_trip_of_random_sequences(prompt: str | None) -> None:
    rng = np.random.default_rng(13)
    for _ in range(300):
        seq = rng.integers(1, VOCAB_SIZE, size=int(rng.integers(0, 60))).tolist()
        assert tokenize(detokenize(seq, prompt), prompt) == seq


@pytest.mark.parametrize("prompt", PROMPTS)
def test_round_trip_of_adversarial_neighbours(prompt: str | None) -> None:
    """Requests, parentheses, unknowns and punctuation next to each other."""
    rng = np.random.default_rng(7)
    pool = [REQUEST, UNK, *ids("(", ")", ".", "!", "i", "i'm", "can't", "1", ":")]
    for _ in range(300):
        seq = [pool[k] for k in rng.integers(0, len(pool), size=int(rng.integers(1, 12)))]
        assert tokenize(detokenize(seq, prompt), prompt) == seq


@pytest.mark.parametrize("prompt", PROMPTS)
def test_round_trip_of_variants(prompt: str | None) -> None:
    for _, _, variant in ALL_VARIANTS:
        assert tokenize(detokenize(variant, prompt), prompt) == list(variant)


# -- phrase inventory ---------------------------------------------------------------------


def test_phrase_kinds() -> None:
    names = {k.name for k in PhraseKind}
    for required in ["REFUSAL", "STEPS", "CAVEAT", "GENERAL_INFO", "REDIRECT", "CLARIFY", "ACK"]:
        assert required in names
    assert set(PHRASES) == set(PhraseKind)
    assert all(PHRASES[k] for k in PhraseKind)


def test_phrases_are_distinct_and_in_the_vocabulary() -> None:
    every = [p for ps in PHRASES.values() for p in ps]
    assert len(every) == len(set(every)) == len(PHRASE_KIND)
    for phrase in every:
        assert phrase and EOS not in phrase and UNK not in phrase
        assert all(0 <= t < VOCAB_SIZE for t in phrase)


def test_deciding_phrases_are_at_least_three_tokens() -> None:
    assert PhraseKind.CAVEAT not in DECIDING_KINDS
    assert min(len(p) for k in DECIDING_KINDS for p in PHRASES[k]) >= 3


def test_every_phrase_parses_as_itself() -> None:
    for kind, phrases in PHRASES.items():
        for phrase in phrases:
            assert [tuple(m) for m in parse(phrase)] == [(0, len(phrase), kind)]


def test_parse_hand_written() -> None:
    text = "I'm sorry, but I can't help with that. Zebra"
    got = [(m.start, m.stop, m.kind) for m in parse(tokenize(text))]
    assert got == [
        (0, 2, PhraseKind.APOLOGY),
        (2, 3, PhraseKind.PUNCTUATION),
        (3, 4, PhraseKind.CONNECTIVE),
        (4, 7, PhraseKind.REFUSAL),
        (7, 9, PhraseKind.CONNECTIVE),
        (9, 10, PhraseKind.PUNCTUATION),
        (10, 11, None),
    ]


def test_parse_takes_the_longest_phrase() -> None:
    # "with this request" beats "with this" and "with"
    got = [(m.start, m.stop) for m in parse(tokenize("with this request"))]
    assert got == [(0, 3)]
    # a phrase cut short is not recognised: each token on its own
    got = [(m.start, m.stop, m.kind) for m in parse(tokenize("get everything you"))]
    assert got == [(0, 1, None), (1, 2, None), (2, 3, None)]


def test_parse_covers_random_sequences() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        seq = rng.integers(0, VOCAB_SIZE, size=int(rng.integers(0, 50))).tolist()
        matches = parse(seq)
        bounds = [0] + [m.stop for m in matches]
        assert [m.start for m in matches] == bounds[:-1]
        assert bounds[-1] == len(seq)
        for m in matches:
            if m.kind is None:
                assert m.stop == m.start + 1
            else:
                assert PHRASE_KIND[tuple(seq[m.start : m.stop])] is m.kind


# -- variants -----------------------------------------------------------------------------

#: strategy -> (kinds every variant has, kinds no variant has): the grammar's table
CONTENT = {
    Strategy.COMPLY: (
        {PhraseKind.STEPS},
        {PhraseKind.CAVEAT, PhraseKind.REFUSAL, PhraseKind.REDIRECT, PhraseKind.CLARIFY},
    ),
    Strategy.COMPLY_WITH_CAVEAT: (
        {PhraseKind.STEPS, PhraseKind.CAVEAT},
        {PhraseKind.REFUSAL, PhraseKind.REDIRECT, PhraseKind.CLARIFY},
    ),
    Strategy.SAFE_COMPLETION: (
        {PhraseKind.GENERAL_INFO},
        {PhraseKind.STEPS, PhraseKind.REFUSAL, PhraseKind.CLARIFY},
    ),
    Strategy.REFUSE: (
        {PhraseKind.REFUSAL},
        {PhraseKind.STEPS, PhraseKind.REDIRECT, PhraseKind.GENERAL_INFO, PhraseKind.CLARIFY},
    ),
    Strategy.REFUSE_AND_REDIRECT: (
        {PhraseKind.REFUSAL, PhraseKind.REDIRECT},
        {PhraseKind.STEPS, PhraseKind.GENERAL_INFO, PhraseKind.CLARIFY},
    ),
    Strategy.ASK_CLARIFICATION: (
        {PhraseKind.CLARIFY},
        {PhraseKind.STEPS, PhraseKind.REFUSAL, PhraseKind.GENERAL_INFO, PhraseKind.REDIRECT},
    ),
}


def test_at_least_eight_distinct_variants_per_strategy() -> None:
    assert set(VARIANTS) == set(Strategy)
    for variants in VARIANTS.values():
        assert len(variants) >= 8
        assert len(set(variants)) == len(variants)


@pytest.mark.parametrize(("strategy", "index", "variant"), ALL_VARIANTS)
def test_variant_is_well_formed(strategy: Strategy, index: int, variant: tuple[int, ...]) -> None:
    assert 8 <= len(variant) <= 40
    assert EOS not in variant and UNK not in variant
    assert variant.count(REQUEST) <= 1
    assert all(isinstance(t, int) and 0 < t < VOCAB_SIZE for t in variant)


@pytest.mark.parametrize(("strategy", "index", "variant"), ALL_VARIANTS)
def test_variant_parses_into_distinct_phrases(
    strategy: Strategy, index: int, variant: tuple[int, ...]
) -> None:
    matches = parse(variant)
    assert all(m.kind is not None for m in matches), variant_text(strategy, index)
    phrases = [variant[m.start : m.stop] for m in matches if m.kind is not PhraseKind.PUNCTUATION]
    assert len(phrases) == len(set(phrases)), variant_text(strategy, index)
    kinds = {m.kind for m in matches}
    required, forbidden = CONTENT[strategy]
    assert required <= kinds and not forbidden & kinds, variant_text(strategy, index)


def test_variants_are_varied() -> None:
    for variants in VARIANTS.values():
        openings = {v[:2] for v in variants}
        assert len(openings) >= 5
        lengths = [len(v) for v in variants]
        assert max(lengths) - min(lengths) >= 8
    with_request = sum(REQUEST in v for _, _, v in ALL_VARIANTS)
    assert with_request > len(ALL_VARIANTS) / 2
    assert with_request < len(ALL_VARIANTS)  # some do without


def test_words_are_shared_across_strategies() -> None:
    punctuation = {TOKEN_ID[p] for p in ".,?!:;()"} | {REQUEST}
    words = {s: {t for v in vs for t in v} - punctuation for s, vs in VARIANTS.items()}
    for s in Strategy:
        others = set().union(*(words[o] for o in Strategy if o != s))
        assert len(words[s] & others) >= 10, s


def test_apology_and_caution_words_in_some_variants() -> None:
    def share(strategy: Strategy, words: frozenset[int]) -> float:
        variants = VARIANTS[strategy]
        return sum(bool(set(v) & words) for v in variants) / len(variants)

    assert 0 < share(Strategy.REFUSE, APOLOGY_WORDS) < 1
    assert share(Strategy.COMPLY, APOLOGY_WORDS) > 0  # apologies outside refusals too
    assert share(Strategy.COMPLY_WITH_CAVEAT, CAUTION_WORDS) == 1
    assert share(Strategy.SAFE_COMPLETION, CAUTION_WORDS) > 0
    assert share(Strategy.ASK_CLARIFICATION, CAUTION_WORDS) > 0
    assert share(Strategy.COMPLY, CAUTION_WORDS) == 0  # no caveat, no caution word


def test_variant_text() -> None:
    prompt = "How do I kill a Python process?"
    assert variant_text(Strategy.REFUSE, 0, prompt) == (
        "I'm sorry, but I can't help with that (\"How do I kill a Python process?\")."
    )
    assert variant_text(3, 2) == "Unfortunately, I won't help with that."


def test_texts_are_original_words_only() -> None:
    """Rendered variants use lower-case vocabulary words and the documented punctuation."""
    for strategy, index, _ in ALL_VARIANTS:
        text = variant_text(strategy, index)
        assert re.fullmatch(r"[A-Za-z0-9' .,?!:;()<>]+", text), text
