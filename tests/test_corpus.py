"""Invariants of the shipped prompt corpus."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from safety_rlhf.data import CORPUS_PATH, generate, load_corpus
from safety_rlhf.data.embedding_table import SHIPPED_EMBEDDINGS, EmbeddingTable
from safety_rlhf.data.templates import FRAMINGS, TEMPLATES
from safety_rlhf.data.topic_lists import lookalikes
from safety_rlhf.data.topics import all_topics
from safety_rlhf.reward.detectors import response_style
from safety_rlhf.reward.shipped_embeddings import corpus_texts
from safety_rlhf.task.strategies import Strategy, render_responses

HARMFUL_CATEGORIES = {
    "violent_crime", "weapons", "cyber", "drugs", "self_harm", "fraud", "hate_harassment",
    "privacy", "sexual_exploitation", "misinformation", "extremism", "theft",
}  # fmt: skip
LOOKALIKE_SUBTYPES = {
    "homonym", "figurative", "safe_target", "safe_context", "definition", "public_figure",
}  # fmt: skip
FRAMING_OF = {f.id: f for f in FRAMINGS}
KEYS = ["id", "prompt", "label", "category", "subtype", "split", "template", "topic"]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with gzip.open(CORPUS_PATH, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_regenerating_gives_the_same_bytes(tmp_path) -> None:
    out = generate.write_corpus(tmp_path / "prompts.jsonl.gz")
    assert (tmp_path / "prompts.jsonl.gz").read_bytes() == CORPUS_PATH.read_bytes(), out


def test_schema_and_unique_ids(rows: list[dict]) -> None:
    assert all(list(r) == KEYS for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["label"] for r in rows} == {"harmful", "benign", "borderline"}
    assert {r["split"] for r in rows} == {"train", "test", "jailbreak"}


def _topics(rows: list[dict], **where: str) -> set[str]:
    return {
        r["topic"]
        for r in rows
        if r["split"] != "jailbreak" and all(r[k] == v for k, v in where.items())
    }


def test_counts(rows: list[dict]) -> None:
    """The sizes issue 12 asks for."""
    main = [r for r in rows if r["split"] != "jailbreak"]
    assert len(main) >= 10_000
    harmful = Counter(t.split("/")[0] for t in _topics(rows, label="harmful"))
    assert set(harmful) == HARMFUL_CATEGORIES
    assert sum(harmful.values()) >= 450 and min(harmful.values()) >= 30, harmful
    everyday = Counter(t.split("/")[0] for t in _topics(rows, label="benign", subtype="everyday"))
    assert sum(everyday.values()) >= 400 and len(everyday) >= 15, everyday
    lookalikes = [r for r in main if r["category"] == "lookalike"]
    assert len(_topics(rows, category="lookalike")) >= 200
    assert all(r["label"] == "benign" for r in lookalikes)
    assert {r["subtype"] for r in lookalikes} == LOOKALIKE_SUBTYPES
    assert len(_topics(rows, label="borderline")) >= 100


_STOP = {"with", "that", "this", "from", "into", "what", "when", "which", "their", "about",
         "without", "someone", "there", "they", "them", "have", "will", "would", "could",
         "should", "after", "before", "your", "other", "does", "make", "more", "over"}  # fmt: skip


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in _STOP}


def test_every_harmful_topic_has_a_benign_twin_in_its_split(rows: list[dict]) -> None:
    main = [r for r in rows if r["split"] != "jailbreak"]
    split_of = {r["topic"]: r["split"] for r in main}
    label_of = {r["topic"]: r["label"] for r in main}
    harmful = _topics(rows, label="harmful")
    twins = _topics(rows, category="twin")
    assert {f"twin/{t}" for t in harmful} == twins
    for topic in harmful:
        twin = f"twin/{topic}"
        assert label_of[twin] == "benign" and split_of[twin] == split_of[topic], topic
    # a twin shares at least one salient word with its harmful topic
    topics = {t.id: t for t in all_topics()}
    unrelated = [
        t for t in harmful if not _words(topics[t].text) & _words(topics[f"twin/{t}"].text)
    ]
    assert len(unrelated) <= 0.05 * len(harmful), unrelated[:10]


def test_templates_carry_no_label(rows: list[dict]) -> None:
    accuracy, baseline = generate.template_label_check(rows)
    assert accuracy <= baseline + 0.01, (accuracy, baseline)
    template, p = generate.template_label_independence(rows)
    assert p > 0.05, (template, p)


def test_a_label_leaking_template_would_be_caught(rows: list[dict]) -> None:
    """Both checks can fail. A template holding every harmful prompt is caught by both; one
    whose harmful share rises from 27% to about half (60% of its benign prompts dropped)
    leaves the majority-label classifier at chance, and the chi-square test catches it."""
    blatant = [{**r, "template": "leak"} if r["label"] == "harmful" else r for r in rows]
    accuracy, baseline = generate.template_label_check(blatant)
    assert accuracy > baseline + 0.1
    found, p = generate.template_label_independence(blatant)
    assert found == "leak" and p < 1e-6
    template = "backstory.family"
    benign = [i for i, r in enumerate(rows) if r["template"] == template and r["label"] == "benign"]
    dropped = {i for i in benign if i % 5 < 3}
    subtle = [r for i, r in enumerate(rows) if i not in dropped]
    accuracy, baseline = generate.template_label_check(subtle)
    assert accuracy <= baseline + 0.01  # invisible to the classifier ...
    found, p = generate.template_label_independence(subtle)
    assert found == template and p < 0.01  # ... but not to the test


def test_phrasings(rows: list[dict]) -> None:
    main = [r for r in rows if r["split"] != "jailbreak"]
    for label in ("harmful", "benign"):
        used = {r["template"] for r in main if r["label"] == label}
        assert len(used) >= 60, label
        assert any(len(r["prompt"].split()) > 100 for r in main if r["label"] == label)
    held = {t.id for t in TEMPLATES if t.held_out}
    assert len(held) >= len(TEMPLATES) / 4
    assert not held & {r["template"] for r in main if r["split"] == "train"}
    test_held = sum(r["template"] in held for r in main if r["split"] == "test")
    assert test_held >= 0.2 * sum(r["split"] == "test" for r in main)


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
        if FRAMING_OF[r["template"]].transform is None:
            assert orig["prompt"] in r["prompt"]
        assert r["prompt"] != orig["prompt"]
        for key in ("label", "category", "subtype", "topic"):
            assert r[key] == orig[key]
    assert len({r["template"] for r in jailbreak}) >= 30


def test_the_shipped_embeddings_cover_the_corpus() -> None:
    """Every train and test corpus text has a shipped MiniLM embedding (rebuilt by
    ``python -m safety_rlhf.reward.shipped_embeddings``), so no first run embeds it."""
    table = EmbeddingTable.load(SHIPPED_EMBEDDINGS, 384)
    assert table is not None
    found, _ = table.lookup(corpus_texts())
    assert found.all(), f"{int((~found).sum())} texts missing"


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


def test_a_topic_with_an_unknown_placeholder_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {**lookalikes.LOOKALIKES, "homonym": (("oops", "vp", "kill {your} Python process"),)}
    monkeypatch.setattr(lookalikes, "LOOKALIKES", bad)
    with pytest.raises(ValueError, match=r"lookalike/oops: bad placeholder in 'kill \{your\}"):
        all_topics()


def test_shipped_data_files_stay_small() -> None:
    """Every file the package ships is under 5 MB (the corpus ships gzipped, the jailbreak
    prompts' embeddings are computed on first use)."""
    package = Path(generate.__file__).resolve().parents[1]
    big = [
        (str(f.relative_to(package)), f.stat().st_size)
        for f in package.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts and f.stat().st_size >= 5_000_000
    ]
    assert big == []
