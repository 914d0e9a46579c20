"""Invariants of the shipped prompt corpus."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from safety_rlhf.data import CORPUS_PATH, generate, load_corpus
from safety_rlhf.reward.detectors import response_style
from safety_rlhf.task.strategies import Strategy, render_responses

HARMFUL_CATEGORIES = {
    "violent_crime", "weapons", "cyber", "drugs", "self_harm", "fraud", "hate_harassment",
    "privacy", "sexual_exploitation", "misinformation", "extremism", "theft",
}  # fmt: skip
LOOKALIKE_SUBTYPES = {
    "homonym", "figurative", "safe_target", "safe_context", "definition", "public_figure",
}  # fmt: skip
KEYS = ["id", "prompt", "label", "category", "subtype", "split", "template", "topic"]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with CORPUS_PATH.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_regenerating_gives_the_same_bytes(tmp_path) -> None:
    out = generate.write_corpus(tmp_path / "prompts.jsonl")
    assert (tmp_path / "prompts.jsonl").read_bytes() == CORPUS_PATH.read_bytes(), out


def test_schema_and_unique_ids(rows: list[dict]) -> None:
    assert all(list(r) == KEYS for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["label"] for r in rows} == {"harmful", "benign", "borderline"}
    assert {r["split"] for r in rows} == {"train", "test", "jailbreak"}


def test_counts(rows: list[dict]) -> None:
    main = [r for r in rows if r["split"] in ("train", "test")]
    assert len(main) >= 1500
    harmful = [r for r in main if r["label"] == "harmful"]
    assert {r["category"] for r in harmful} == HARMFUL_CATEGORIES
    everyday = {r["category"] for r in main if r["label"] == "benign"} - {"lookalike"}
    assert len(everyday) >= 8
    lookalikes = [r for r in main if r["category"] == "lookalike"]
    assert len(lookalikes) >= 300 and all(r["label"] == "benign" for r in lookalikes)
    assert {r["subtype"] for r in lookalikes} == LOOKALIKE_SUBTYPES
    assert sum(r["label"] == "borderline" for r in main) >= 100


def test_train_and_test_share_no_text_and_no_template_topic_pair(rows: list[dict]) -> None:
    by_split = {s: [r for r in rows if r["split"] == s] for s in ("train", "test")}
    texts = {s: {r["prompt"].strip().lower() for r in v} for s, v in by_split.items()}
    pairs = {s: {(r["template"], r["topic"]) for r in v} for s, v in by_split.items()}
    topics = {s: {r["topic"] for r in v} for s, v in by_split.items()}
    assert not texts["train"] & texts["test"]
    assert not pairs["train"] & pairs["test"]
    assert not topics["train"] & topics["test"]
    # no duplicate prompt inside a split either
    for split, v in by_split.items():
        assert len({r["prompt"] for r in v}) == len(v), split


def test_every_category_is_in_train_and_test(rows: list[dict]) -> None:
    groups = Counter((r["label"], r["category"], r["subtype"], r["split"]) for r in rows)
    keys = {(lab, cat, sub) for lab, cat, sub, _ in groups}
    missing = [k for k in keys if not (groups[(*k, "train")] and groups[(*k, "test")])]
    assert missing == []


def test_jailbreak_wraps_every_test_prompt_once_labels_unchanged(rows: list[dict]) -> None:
    test = {r["id"]: r for r in rows if r["split"] == "test"}
    jailbreak = [r for r in rows if r["split"] == "jailbreak"]
    assert sorted(r["id"].removeprefix("jb-") for r in jailbreak) == sorted(test)
    for r in jailbreak:
        orig = test[r["id"].removeprefix("jb-")]
        assert orig["prompt"] in r["prompt"] or r["template"].startswith("payload")
        assert r["prompt"] != orig["prompt"]
        for key in ("label", "category", "subtype", "topic"):
            assert r[key] == orig[key]
    assert len({r["template"] for r in jailbreak}) >= 10


def test_phrasing_varies_within_every_label(rows: list[dict]) -> None:
    for label in ("harmful", "benign", "borderline"):
        templates = {
            r["template"] for r in rows if r["label"] == label and r["split"] != "jailbreak"
        }
        assert len(templates) >= 10, label


@pytest.mark.parametrize("split", ["train", "test", "jailbreak"])
def test_every_prompt_renders_all_six_responses(split: str) -> None:
    ps = load_corpus(split)
    for prompt in ps.prompts:
        responses = render_responses(prompt)
        assert len(set(responses)) == len(Strategy)
        for strategy, response in zip(Strategy, responses, strict=True):
            assert prompt.split()[0] in response
            # the label-free detector reads each rendered response as what it is
            assert response_style(prompt, response) == strategy, (prompt, strategy)
