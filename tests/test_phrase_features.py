"""The phrase features that ``learned-text`` reads responses through, on hand-written texts."""

from __future__ import annotations

import numpy as np
import pytest

from safety_rlhf.reward.encoders import PhraseEncoder, make_encoder
from safety_rlhf.reward.pair_features import strip_restatement
from safety_rlhf.task.phrase_features import FEATURE_DIM, FEATURE_NAMES, phrase_features
from safety_rlhf.task.phrases import PHRASES
from safety_rlhf.task.tokenizer import EOS, VOCAB_SIZE, tokenize


def named(text: str, prompt: str | None = None) -> dict[str, float]:
    """The non-zero features of ``text``, by name."""
    x = phrase_features(tokenize(text, prompt))
    return {name: float(v) for name, v in zip(FEATURE_NAMES, x, strict=True) if v}


def test_layout() -> None:
    # one slot per phrase of the inventory, then unrecognised, six kind flags, junk, length
    assert FEATURE_DIM == sum(len(v) for v in PHRASES.values()) + 1 + 6 + 2 == 165
    assert len(set(FEATURE_NAMES)) == FEATURE_DIM


def test_a_refusal() -> None:
    got = named("I can't help with that.")
    assert got == {
        "REFUSAL:i can't help": 1.0,
        "CONNECTIVE:with that": 1.0,
        "PUNCTUATION:.": 1.0,
        "kind:REFUSAL": 1.0,
        "length/48": 6 / 48,
    }


def test_steps_with_a_caveat_and_an_unknown_word() -> None:
    got = named("Sure, step 1: get everything you need ready. Please be careful. Teapot")
    assert got["kind:STEPS"] == got["kind:CAVEAT"] == 1.0
    assert "kind:REFUSAL" not in got and got["unrecognised"] == 1.0
    assert got["STEPS:get everything you need ready"] == 1.0
    n = len(tokenize("Sure, step 1: get everything you need ready. Please be careful. Teapot"))
    assert got["length/48"] == pytest.approx(n / 48) and got["junk_share"] == pytest.approx(1 / n)


def test_a_stutter_counts_each_repeat_and_is_mostly_junk() -> None:
    got = named("Sure sure sure sure")
    # the first "sure" is an acknowledgement; the three repeats are junk (judge rule 3)
    assert got == {"ACK:sure": 4.0, "junk_share": 0.75, "length/48": pytest.approx(4 / 48)}


def test_only_tokens_before_eos_count_and_bad_ids_are_refused() -> None:
    ids = tokenize("I can't help with that.")
    np.testing.assert_array_equal(
        phrase_features([*ids, EOS, *tokenize("sure sure")]), phrase_features(ids)
    )
    assert not phrase_features([]).any()
    with pytest.raises(ValueError, match="token ids must lie in"):
        phrase_features([VOCAB_SIZE])


def test_encoder_reads_the_cut_out_restatement_as_request() -> None:
    prompt = 'How do I kill a "Python" process?'
    response = "Here is how it goes for \"How do I kill a 'Python' process?\". Step 1: get everything you need ready."  # noqa: E501
    encoder = make_encoder("phrases")
    assert isinstance(encoder, PhraseEncoder) and encoder.config() == {
        "name": "phrases",
        "dim": 165,
    }
    x = encoder.encode([strip_restatement(prompt, response)])
    np.testing.assert_array_equal(x[0], phrase_features(tokenize(response, prompt)))
    assert dict(zip(FEATURE_NAMES, x[0], strict=True))["REQUEST:<request>"] == 1.0
    assert encoder.encode([]).shape == (0, 165)
    with pytest.raises(ValueError, match="165 dims, not 64"):
        PhraseEncoder(dim=64)


def test_encoder_refuses_non_strings_and_keeps_its_memo_safe() -> None:
    from safety_rlhf.reward import encoders

    encoder = PhraseEncoder()
    for bad in (None, 5, b"x"):
        with pytest.raises(TypeError, match="PhraseEncoder: texts must be strings, got"):
            encoder.encode(["fine", bad])  # type: ignore[list-item]
    text = "I can't help with that."
    memo = encoders._memo_phrase_vector(text)
    with pytest.raises(ValueError, match="WRITEABLE"):
        memo.flags.writeable = True  # the memoised array stays read-only
    out = encoder.encode([text])
    out[:] = 7.0  # what encode returns is the caller's own copy
    np.testing.assert_array_equal(encoder.encode([text])[0], memo)
    # a long text is encoded, not memoised
    before = encoders._memo_phrase_vector.cache_info().currsize
    long_text = "sure " * 2000
    assert encoder.encode([long_text])[0, -1] == pytest.approx(2000 / 48)
    assert encoders._memo_phrase_vector.cache_info().currsize == before


def test_ids_must_be_whole_numbers() -> None:
    ids = tokenize("I can't help with that.")
    np.testing.assert_array_equal(
        phrase_features([np.int64(t) for t in ids]), phrase_features(np.array(ids))
    )
    for bad in ([1.0, 2.0], [True, False], [ids[0], None]):
        with pytest.raises(ValueError, match="token ids must be whole numbers"):
            phrase_features(bad)  # type: ignore[arg-type]
