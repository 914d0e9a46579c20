"""Preference pairs of free text sampled from ``pi_ref``: sampling, labelling, shipped files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from safety_rlhf.data.preferences import (
    DEFAULT_TEXT_TEST_PATH,
    DEFAULT_TEXT_TRAIN_PATH,
    RECORD_KEYS,
    load_preferences,
    load_shipped_preferences,
    write_preferences,
)
from safety_rlhf.data.prompts import PromptSet, load_corpus
from safety_rlhf.data.simulated_annotator import AnnotatorConfig
from safety_rlhf.data.text_preferences import (
    SHIPPED_TEXT_CONFIG,
    TextPreferenceConfig,
    TextSample,
    annotated_pairs,
    gold_pairs,
    gold_text_preferences,
    main,
    sample_responses,
    simulate_text_preferences,
)
from safety_rlhf.task.tokenizer import tokenize

HARMFUL_PROMPT = "How do I pick a lock to break into my neighbour's house?"
BENIGN_PROMPT = "How do I bake a loaf of sourdough bread?"

# Hand-written responses; what the judge makes of them is worked out from its rules
# (safety_rlhf/task/text_judge.py): steps make an answer, a refusal without steps refuses,
# a stutter of one word is degenerate.
REFUSAL = "I'm sorry, but I can't help with that (<request>)."
PLAIN_REFUSAL = "I can't help with that (<request>)."
SHORT_ANSWER = "Sure! Step 1: gather the materials."
LONG_ANSWER = (
    "Sure! Step 1: gather the materials. Step 2: do the main part. Step 3: check the result."
)
STUTTER = "Sure sure sure sure!"


def _prompts(*rows: tuple[str, str]) -> PromptSet:
    n = len(rows)
    return PromptSet(
        [p for p, _ in rows], [f"q{i}" for i in range(n)], [lab for _, lab in rows],
        ["test"] * n, [""] * n, source="hand-written",
    )  # fmt: skip


def _samples(prompt_set: PromptSet, *texts: str) -> list[list[TextSample]]:
    """The same hand-written texts for every prompt, judged for its label."""
    return [
        [TextSample.from_ids(tokenize(t, prompt), prompt, label) for t in texts]
        for prompt, label in zip(prompt_set.prompts, prompt_set.labels, strict=True)
    ]


@pytest.fixture(scope="module")
def small_set() -> PromptSet:
    """Every 60th train prompt (138 prompts, all three labels)."""
    corpus = load_corpus("train")
    keep = list(range(0, len(corpus), 60))
    return PromptSet(
        [corpus.prompts[i] for i in keep], [corpus.ids[i] for i in keep],
        [corpus.labels[i] for i in keep], [corpus.categories[i] for i in keep],
        [corpus.subtypes[i] for i in keep], source="small",
    )  # fmt: skip


def test_hand_written_samples_are_judged_as_written() -> None:
    # the premise of the tests below
    (harmful,) = _samples(_prompts((HARMFUL_PROMPT, "harmful")), REFUSAL, LONG_ANSWER, STUTTER)
    assert [s.column for s in harmful] == ["refuse", "comply", "degenerate"]
    assert harmful[0].text == (f"I'm sorry, but I can't help with that (\"{HARMFUL_PROMPT}\").")
    assert [s.verdict.gold_reward for s in harmful] == [1.0, -1.0, -1.0]


def test_sampling_and_both_generators_are_deterministic(small_set: PromptSet) -> None:
    config = TextPreferenceConfig(seed=3)
    a = simulate_text_preferences(small_set, config)
    assert a == simulate_text_preferences(small_set, config)
    assert a != simulate_text_preferences(small_set, TextPreferenceConfig(seed=4))
    gold = gold_text_preferences(small_set, config)
    assert gold == gold_text_preferences(small_set, config)
    samples = sample_responses(small_set, config, np.random.default_rng(0))
    again = sample_responses(small_set, config, np.random.default_rng(0))
    assert [[s.ids for s in row] for row in samples] == [[s.ids for s in row] for row in again]
    assert all(len(row) == config.samples_per_prompt for row in samples)


def test_records_are_readable_by_load_preferences(small_set: PromptSet, tmp_path: Path) -> None:
    records = simulate_text_preferences(small_set)
    assert all(tuple(r) == RECORD_KEYS for r in records)
    assert all(r["chosen"] != r["rejected"] and r["chosen"].strip() for r in records)
    loaded = load_preferences(write_preferences(tmp_path / "text.jsonl.gz", records))
    assert len(loaded) == len(records)
    assert loaded.chosen == [r["chosen"] for r in records]
    # at most pairs_per_prompt per prompt, each prompt's pairs together
    prompts = [r["prompt"] for r in records]
    runs = [p for i, p in enumerate(prompts) if i == 0 or prompts[i - 1] != p]
    assert len(runs) == len(set(runs)) <= len(small_set)
    assert max(prompts.count(p) for p in runs) <= SHIPPED_TEXT_CONFIG.pairs_per_prompt


def test_heldout_pairs_choose_the_higher_gold_response() -> None:
    prompt_set = _prompts((HARMFUL_PROMPT, "harmful"), (BENIGN_PROMPT, "benign"))
    samples = _samples(prompt_set, REFUSAL, LONG_ANSWER, STUTTER, LONG_ANSWER)
    records = gold_pairs(prompt_set, samples, SHIPPED_TEXT_CONFIG, np.random.default_rng(0))
    by_prompt = {p: [r for r in records if r["prompt"] == p] for p in prompt_set.prompts}
    # harmful: the refusal beats the answer and the stutter; answer vs stutter is a tie (both
    # the row's minimum, -1) and is dropped; the repeated answer is one text
    harmful = {(r["chosen_strategy"], r["rejected_strategy"]) for r in by_prompt[HARMFUL_PROMPT]}
    assert harmful == {("refuse", "comply"), ("refuse", "degenerate")}
    assert all(r["chosen"].startswith("I'm sorry") for r in by_prompt[HARMFUL_PROMPT])
    # benign: the answer beats the refusal and the stutter, which tie
    benign = {(r["chosen_strategy"], r["rejected_strategy"]) for r in by_prompt[BENIGN_PROMPT]}
    assert benign == {("comply", "refuse"), ("comply", "degenerate")}
    assert all(r["chosen"].startswith("Sure! Step 1") for r in by_prompt[BENIGN_PROMPT])
    assert not any(r["flipped"] for r in records)


def _annotate(annotator: AnnotatorConfig, label: str, *texts: str, seeds: int = 20) -> list[dict]:
    prompt = HARMFUL_PROMPT if label == "harmful" else BENIGN_PROMPT
    prompt_set = _prompts((prompt, label))
    config = TextPreferenceConfig(annotator=annotator)
    records = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        records += annotated_pairs(prompt_set, _samples(prompt_set, *texts), config, rng)[0]
    return records


def test_length_bias_breaks_a_gold_tie_for_the_longer_response() -> None:
    only_length = AnnotatorConfig(noise=0.0, caveat_bias=0.0, length_bias=1.0, temperature=1e-3)
    records = _annotate(only_length, "benign", SHORT_ANSWER, LONG_ANSWER)
    assert len(records) == 20
    assert all(r["chosen"].endswith("check the result.") for r in records)
    # and without the bias the choice is a coin flip
    fair = AnnotatorConfig(noise=0.0, caveat_bias=0.0, length_bias=0.0)
    records = _annotate(fair, "benign", SHORT_ANSWER, LONG_ANSWER, seeds=200)
    wins = sum(r["chosen"].endswith("check the result.") for r in records)
    assert 70 <= wins <= 130


def test_caveat_bias_prefers_the_apology_and_noise_flips_choices() -> None:
    only_caveat = AnnotatorConfig(noise=0.0, caveat_bias=0.5, length_bias=0.0, temperature=1e-3)
    records = _annotate(only_caveat, "harmful", PLAIN_REFUSAL, REFUSAL)
    assert all(r["chosen"].startswith("I'm sorry") for r in records)
    always_wrong = AnnotatorConfig(noise=1.0, caveat_bias=0.0, length_bias=0.0, temperature=1e-3)
    records = _annotate(always_wrong, "harmful", REFUSAL, LONG_ANSWER)
    assert all(r["flipped"] and r["chosen_strategy"] == "comply" for r in records)


def test_shipped_train_pairs_carry_the_annotators_biases() -> None:
    records = [json.loads(line) for line in _lines(DEFAULT_TEXT_TRAIN_PATH)]
    # pairs of two texts in the same gold-table column (equal gold reward): only the biases
    # and chance decide; the longer text wins more often than not
    ties = [r for r in records if r["chosen_strategy"] == r["rejected_strategy"]]
    longer = [len(r["chosen"]) > len(r["rejected"]) for r in ties
              if len(r["chosen"]) != len(r["rejected"])]  # fmt: skip
    share, n = float(np.mean(longer)), len(longer)
    assert n > 5000
    assert share > 0.5 + 4 * 0.5 / np.sqrt(n), share  # 4 standard errors above a coin flip
    assert 0.05 < np.mean([r["flipped"] for r in records]) < 0.25  # label noise 0.15


def _lines(path: Path) -> list[str]:
    import gzip

    return gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()


def test_shipped_files_sizes_splits_and_labels() -> None:
    train, test = load_shipped_preferences("text-train"), load_shipped_preferences("text-test")
    assert len(train) > 50_000 and len(test) > 10_000
    for path in (DEFAULT_TEXT_TRAIN_PATH, DEFAULT_TEXT_TEST_PATH):
        assert path.stat().st_size < 5_000_000
    train_prompts = set(load_corpus("train").prompts)
    assert set(train.prompts) <= train_prompts
    assert set(test.prompts) <= set(load_corpus("test").prompts)
    records = [json.loads(line) for line in _lines(DEFAULT_TEXT_TEST_PATH)]
    assert not any(r["flipped"] for r in records)
    assert all(r["chosen_strategy"] != r["rejected_strategy"] for r in records)  # no ties


def test_text_preferences_imports_only_data_and_task() -> None:
    code = (
        "import sys, safety_rlhf.data.text_preferences\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('safety_rlhf.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    layers = {name.split(".")[1] for name in out.stdout.split()}
    assert layers <= {"data", "task"}, layers


@pytest.mark.slow
def test_shipped_files_are_up_to_date() -> None:
    assert main(["--check"]) == 0
