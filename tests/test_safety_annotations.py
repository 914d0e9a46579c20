"""Simulated safety annotations: documented biases and noise, train split only, byte-stable."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from safety_rlhf.data.prompts import load_corpus
from safety_rlhf.data.safety_annotations import (
    DEFAULT_PATH,
    SHIPPED_SAFETY_ANNOTATOR,
    SafetyAnnotatorConfig,
    load_safety_annotations,
    main,
    serialize_annotations,
    simulate_safety_annotations,
)

ANSWERS = ("comply", "comply_with_caveat")


@pytest.fixture(scope="module")
def train_set():
    return load_corpus("train")


@pytest.fixture(scope="module")
def counts(train_set) -> dict[str, int]:
    """Records per cell, counted from the corpus (not from the annotator)."""
    labels = Counter(train_set.labels)
    lookalikes = sum(c == "lookalike" for c in train_set.categories)
    return {
        "records": 6 * len(train_set),
        "comply_harmful": labels["harmful"],  # one plain compliance per harmful prompt
        "caveat_harmful": labels["harmful"],  # one caveated compliance per harmful prompt
        "lookalike_answers": 2 * lookalikes,
    }


def _cell(record: dict) -> str:
    """The documented cell of a record, from its gold label, category and strategy."""
    if record["label"] == "harmful" and record["strategy"] == "comply":
        return "comply_harmful"
    if record["label"] == "harmful" and record["strategy"] == "comply_with_caveat":
        return "caveat_harmful"
    if record["category"] == "lookalike" and record["strategy"] in ANSWERS:
        return "lookalike_answers"
    return "other"


@pytest.mark.parametrize(
    ("config", "expected_flagged"),
    [
        # no bias, no noise: exactly the gold-harmful responses (two per harmful prompt)
        (SafetyAnnotatorConfig(0.0, 0.0, 0.0), lambda c: 2 * c["comply_harmful"]),
        # every look-alike answer over-flagged
        (
            SafetyAnnotatorConfig(0.0, 1.0, 0.0),
            lambda c: 2 * c["comply_harmful"] + c["lookalike_answers"],
        ),
        # every caveated compliance with a harmful prompt under-flagged
        (SafetyAnnotatorConfig(0.0, 0.0, 1.0), lambda c: c["comply_harmful"]),
        # every answer flipped: the complement of gold
        (SafetyAnnotatorConfig(1.0, 0.0, 0.0), lambda c: c["records"] - 2 * c["comply_harmful"]),
    ],
    ids=["exact", "all-overflagged", "all-underflagged", "all-flipped"],
)
def test_extreme_annotators_flag_exactly_the_closed_form_counts(
    train_set, counts, config, expected_flagged
) -> None:
    records = simulate_safety_annotations(train_set, config)
    assert len(records) == counts["records"]
    assert sum(r["harmful"] for r in records) == expected_flagged(counts)


def test_measured_rates_match_the_documented_closed_forms(train_set) -> None:
    o, u, f = 0.3, 0.2, 0.1
    records = simulate_safety_annotations(train_set, SafetyAnnotatorConfig(f, o, u, seed=3))
    expected = {
        "comply_harmful": 1 - f,
        "caveat_harmful": (1 - u) * (1 - f) + u * f,
        "lookalike_answers": o * (1 - f) + (1 - o) * f,
        "other": f,
    }
    by_cell: dict[str, list[bool]] = {k: [] for k in expected}
    for r in records:
        by_cell[_cell(r)].append(r["harmful"])
        # biases fire only in their documented cells
        assert not r["biased"] or _cell(r) in ("caveat_harmful", "lookalike_answers")
    for cell, p in expected.items():
        flags = by_cell[cell]
        sd = math.sqrt(p * (1 - p) / len(flags))
        assert abs(sum(flags) / len(flags) - p) < 4 * sd, (cell, sum(flags) / len(flags), p)
    flip_rate = sum(r["flipped"] for r in records) / len(records)
    assert abs(flip_rate - f) < 4 * math.sqrt(f * (1 - f) / len(records))


def test_shipped_file_is_the_documented_annotator_on_train_prompts_only(train_set) -> None:
    data = load_safety_annotations()
    assert set(data.prompts) == set(train_set.prompts)
    test_prompts = set(load_corpus("test").prompts) | set(load_corpus("jailbreak").prompts)
    assert not set(data.prompts) & test_prompts
    for r in data.records:  # the truth is the gold cost, from the label and the strategy
        assert r["gold_harmful"] == (r["label"] == "harmful" and r["strategy"] in ANSWERS)
    cfg = SHIPPED_SAFETY_ANNOTATOR
    assert (cfg.flip_rate, cfg.overflag, cfg.underflag, cfg.seed) == (0.1, 0.3, 0.3, 0)
    n = len(data)
    flip_rate = sum(r["flipped"] for r in data.records) / n
    assert abs(flip_rate - 0.1) < 4 * math.sqrt(0.09 / n)
    assert DEFAULT_PATH.stat().st_size < 1_500_000


def test_same_seed_same_bytes_other_seed_other_labels(train_set) -> None:
    a = serialize_annotations(simulate_safety_annotations(train_set, SafetyAnnotatorConfig()))
    b = serialize_annotations(simulate_safety_annotations(train_set, SafetyAnnotatorConfig()))
    c = simulate_safety_annotations(train_set, SafetyAnnotatorConfig(seed=1))
    assert a == b
    assert serialize_annotations(c) != a


def test_check_verifies_the_file_byte_for_byte(tmp_path: Path, capsys) -> None:
    assert main(["--check"]) == 0  # the shipped file is up to date
    copy = tmp_path / "safety.jsonl.gz"
    assert main(["--path", str(copy)]) == 0
    assert copy.read_bytes() == DEFAULT_PATH.read_bytes()
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed
    copy.write_bytes(bytes(data))
    assert main(["--check", "--path", str(copy)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_unlabelled_prompts_and_bad_rates_are_refused(tmp_path: Path) -> None:
    from safety_rlhf.data.prompts import PromptSet

    unlabelled = PromptSet(["a"], ["p1"], [None], [""], [""], source="mine.jsonl")
    with pytest.raises(ValueError, match=r"mine\.jsonl: prompt 'p1' has no gold label"):
        simulate_safety_annotations(unlabelled)
    with pytest.raises(ValueError, match=r"overflag must be in \[0, 1\], got 1.5"):
        SafetyAnnotatorConfig(overflag=1.5)
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(serialize_annotations([{"prompt": "a", "response": "b", "harmful": "yes"}]))
    with pytest.raises(ValueError, match=r"bad\.jsonl\.gz:1: needs .* boolean 'harmful'"):
        load_safety_annotations(bad)
