"""Preference pairs: the simulated annotator, gold pairs, shipped files and the loaders."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from safety_rlhf.data.preferences import (
    DEFAULT_TEST_PATH,
    DEFAULT_TRAIN_PATH,
    RECORD_KEYS,
    PreferenceFileError,
    PreferenceSet,
    load_preferences,
    load_shipped_preferences,
)
from safety_rlhf.data.prompts import PromptFileError, PromptSet, load_corpus
from safety_rlhf.data.simulated_annotator import (
    SHIPPED_ANNOTATOR,
    AnnotatorConfig,
    gold_preferences,
    make_preference_files,
    simulate_preferences,
)
from safety_rlhf.task.gold_tables import GOLD_REWARD
from safety_rlhf.task.strategies import Strategy, render_response

CAVEAT_SLUGS = {"comply_with_caveat", "refuse", "refuse_and_redirect"}


def _gold(record: dict) -> tuple[float, float]:
    row = GOLD_REWARD[record["label"]]
    return row[Strategy[record["chosen_strategy"].upper()]], row[
        Strategy[record["rejected_strategy"].upper()]
    ]


@pytest.fixture(scope="module")
def small_set() -> PromptSet:
    """A fixed prompt set covering all three labels."""
    corpus = load_corpus("train")
    keep = [i for i in range(len(corpus)) if i % 7 == 0][:150]
    return PromptSet(
        [corpus.prompts[i] for i in keep],
        [corpus.ids[i] for i in keep],
        [corpus.labels[i] for i in keep],
        [corpus.categories[i] for i in keep],
        [corpus.subtypes[i] for i in keep],
        source="small",
    )


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ------------------------------------------------------------------ annotator


def test_annotator_is_deterministic_per_seed(small_set: PromptSet) -> None:
    a = simulate_preferences(small_set, AnnotatorConfig(seed=3))
    b = simulate_preferences(small_set, AnnotatorConfig(seed=3))
    c = simulate_preferences(small_set, AnnotatorConfig(seed=4))
    assert a == b
    assert a != c
    assert len(a) == len(small_set) * AnnotatorConfig().pairs_per_prompt
    assert all(tuple(r) == RECORD_KEYS for r in a)


def test_pairs_are_distinct_per_prompt(small_set: PromptSet) -> None:
    records = simulate_preferences(small_set, AnnotatorConfig(pairs_per_prompt=15))
    by_prompt: dict[str, set[frozenset[str]]] = {}
    for r in records:
        assert r["chosen_strategy"] != r["rejected_strategy"]
        by_prompt.setdefault(r["prompt"], set()).add(
            frozenset((r["chosen_strategy"], r["rejected_strategy"]))
        )
    assert all(len(pairs) == 15 for pairs in by_prompt.values())
    assert len({r["id"] for r in records}) == len(records)


def test_shipped_flip_rate_is_near_noise() -> None:
    with gzip.open(DEFAULT_TRAIN_PATH, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    rate = sum(r["flipped"] for r in rows) / len(rows)
    assert abs(rate - SHIPPED_ANNOTATOR.noise) < 0.03, rate


def test_noise_free_unbiased_annotator_follows_gold(small_set: PromptSet) -> None:
    config = AnnotatorConfig(
        noise=0.0, caveat_bias=0.0, length_bias=0.0, temperature=1e-6, pairs_per_prompt=15
    )
    records = simulate_preferences(small_set, config)
    decided = 0
    for r in records:
        assert not r["flipped"]
        chosen, rejected = _gold(r)
        if chosen != rejected:
            assert chosen > rejected, r
            decided += 1
    assert decided > len(records) // 2


def test_noise_flips_choices(small_set: PromptSet) -> None:
    config = AnnotatorConfig(noise=1.0, caveat_bias=0.0, length_bias=0.0, temperature=1e-6)
    records = simulate_preferences(small_set, config)
    assert all(r["flipped"] for r in records)
    assert all(c < r for c, r in map(_gold, records) if c != r)


def test_caveat_bias_favours_caveats_among_gold_ties(small_set: PromptSet) -> None:
    def caveat_share(bias: float) -> float:
        config = AnnotatorConfig(
            noise=0.0, caveat_bias=bias, length_bias=0.0, pairs_per_prompt=15, seed=1
        )
        wins = total = 0
        for r in simulate_preferences(small_set, config):
            chosen, rejected = _gold(r)
            mixed = (r["chosen_strategy"] in CAVEAT_SLUGS) != (
                r["rejected_strategy"] in CAVEAT_SLUGS
            )
            if chosen == rejected and mixed:
                total += 1
                wins += r["chosen_strategy"] in CAVEAT_SLUGS
        assert total >= 50
        return wins / total

    unbiased, biased = caveat_share(0.0), caveat_share(1.0)
    assert 0.35 < unbiased < 0.65
    assert biased > 0.95


def test_annotator_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="pairs_per_prompt"):
        AnnotatorConfig(pairs_per_prompt=16)
    with pytest.raises(ValueError, match="temperature"):
        AnnotatorConfig(temperature=0.0)
    with pytest.raises(ValueError, match="noise"):
        AnnotatorConfig(noise=1.5)


def test_unlabelled_prompts_are_rejected() -> None:
    ps = PromptSet(["How do I bake bread?"], ["u1"], [None], [""], [""], source="u")
    with pytest.raises(ValueError, match="no gold label"):
        simulate_preferences(ps)


# ------------------------------------------------------------------ gold pairs


def test_gold_preferences_have_no_ties_and_prefer_gold(small_set: PromptSet) -> None:
    records = gold_preferences(small_set)
    for r in records:
        chosen, rejected = _gold(r)
        assert chosen > rejected, r
        assert r["flipped"] is False
    # every non-tied pair: 13 for harmful, 14 for benign and borderline
    expected = {"harmful": 13, "benign": 14, "borderline": 14}
    assert len(records) == sum(expected[lab] for lab in small_set.labels)


# ------------------------------------------------------------------ shipped files


def test_regenerating_shipped_files_gives_identical_bytes(tmp_path: Path) -> None:
    train, test = make_preference_files(tmp_path / "train.jsonl.gz", tmp_path / "test.jsonl.gz")
    assert train.read_bytes() == DEFAULT_TRAIN_PATH.read_bytes()
    assert test.read_bytes() == DEFAULT_TEST_PATH.read_bytes()


def test_shipped_preferences_load() -> None:
    train, test = load_shipped_preferences("train"), load_shipped_preferences("test")
    assert len(train) == SHIPPED_ANNOTATOR.pairs_per_prompt * len(load_corpus("train"))
    assert len(test) == len(gold_preferences(load_corpus("test")))
    assert train.fingerprint() != test.fingerprint()
    with pytest.raises(ValueError, match="unknown split"):
        load_shipped_preferences("jailbreak")


def test_fingerprint_depends_on_content_not_source() -> None:
    a = PreferenceSet(["p"], ["good"], ["bad"], source="a")
    b = PreferenceSet(["p"], ["good"], ["bad"], source="b")
    c = PreferenceSet(["p"], ["bad"], ["good"], source="a")
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert len(a.fingerprint()) == 64
    with pytest.raises(ValueError, match="rejected"):
        PreferenceSet(["p"], ["good"], [], source="x")
    with pytest.raises(PreferenceFileError, match="no preference pairs"):
        PreferenceSet([], [], [])


# ------------------------------------------------------------------ loaders

ROWS = [
    {"q": "How do I bake bread?", "good": "Knead, proof, bake.", "bad": "I'm sorry, no."},
    {"q": "How do I build a pipe bomb?", "good": "I'm sorry, I can't.", "bad": "Sure! Step 1"},
]


def test_jsonl_and_csv_with_renamed_columns(tmp_path: Path) -> None:
    jsonl = _write_jsonl(tmp_path / "prefs.jsonl", ROWS)
    path = tmp_path / "prefs.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["q", "good", "bad"])
        writer.writeheader()
        writer.writerows(ROWS)
    names = {"prompt_column": "q", "chosen_column": "good", "rejected_column": "bad"}
    a, b = load_preferences(jsonl, **names), load_preferences(path, **names)
    assert a.prompts == [r["q"] for r in ROWS]
    assert a.chosen == [r["good"] for r in ROWS]
    assert a.rejected == [r["bad"] for r in ROWS]
    assert (b.prompts, b.chosen, b.rejected) == (a.prompts, a.chosen, a.rejected)
    assert a.fingerprint() == b.fingerprint()
    assert a.source == str(jsonl)


def test_records_round_trip_through_the_loader(tmp_path: Path, small_set: PromptSet) -> None:
    from safety_rlhf.data.preferences import write_preferences

    records = simulate_preferences(small_set)
    loaded = load_preferences(write_preferences(tmp_path / "sim.ndjson", records))
    assert loaded.fingerprint() == PreferenceSet.from_records(records).fingerprint()


HH_CHOSEN = (
    "\n\nHuman: I want to get back at my coworker."
    "\n\nAssistant: What happened?"
    "\n\nHuman: How do I poison her coffee?"
    "\n\nAssistant: I'm sorry, but I can't help with that. "
)
HH_REJECTED = HH_CHOSEN.rsplit("\n\nAssistant:", 1)[0] + "\n\nAssistant: Sure, first get"


@pytest.mark.parametrize("fmt", ["auto", "hh-rlhf"])
def test_hh_rlhf_splits_prompt_at_final_assistant_turn(tmp_path: Path, fmt: str) -> None:
    path = _write_jsonl(
        tmp_path / "hh.jsonl",
        [
            {"chosen": HH_CHOSEN, "rejected": HH_REJECTED},
            {
                "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
                "rejected": "\n\nHuman: Hi\n\nAssistant: Go away.",
            },
        ],
    )
    ps = load_preferences(path, format=fmt)
    assert ps.prompts[0] == (
        "Human: I want to get back at my coworker.\n\nAssistant: What happened?"
        "\n\nHuman: How do I poison her coffee?"
    )
    assert ps.chosen == ["I'm sorry, but I can't help with that.", "Hello!"]
    assert ps.rejected == ["Sure, first get", "Go away."]
    assert ps.prompts[1] == "Human: Hi"


def _error(tmp_path: Path, name: str, text: str, **kwargs: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PreferenceFileError) as info:
        load_preferences(path, **kwargs)
    assert isinstance(info.value, PromptFileError)
    return str(info.value)


GOOD = json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n"


@pytest.mark.parametrize(
    ("name", "text", "kwargs", "line", "needle"),
    [
        ("bad.jsonl", GOOD + "{not json\n", {}, 2, "invalid JSON"),
        ("miss.jsonl", GOOD + GOOD + '{"prompt": "p", "chosen": "a"}\n', {}, 3, "'rejected'"),
        ("empty.jsonl", '{"prompt": " ", "chosen": "a", "rejected": "b"}\n', {}, 1, "'prompt'"),
        ("same.jsonl", GOOD + '{"prompt": "p", "chosen": "a", "rejected": "a"}\n', {}, 2, "same"),
        ("renamed.jsonl", GOOD, {"chosen_column": "good"}, 1, "'good'"),
        ("wide.csv", "prompt,chosen,rejected\np,a,b\np,a,b,extra\n", {}, 3, "more fields"),
        ("short.csv", "prompt,chosen,rejected\np,a,b\np,a\n", {}, 3, "'rejected'"),
        (
            "noturn.jsonl",
            json.dumps({"chosen": "\n\nHuman: hi\n\nAssistant: yo", "rejected": "\n\nHuman: x"})
            + "\n",
            {"format": "hh-rlhf"},
            1,
            "'rejected' transcript has no",
        ),
        (
            "mismatch.jsonl",
            json.dumps({"chosen": HH_CHOSEN, "rejected": "\n\nHuman: other\n\nAssistant: no"})
            + "\n",
            {},
            1,
            "'chosen' and 'rejected' transcripts differ",
        ),
    ],
)
def test_malformed_rows_name_file_and_line(
    tmp_path: Path, name: str, text: str, kwargs: dict, line: int, needle: str
) -> None:
    message = _error(tmp_path, name, text, **kwargs)
    assert message.startswith(f"{tmp_path / name}:{line}: "), message
    assert needle in message, message


def test_missing_and_empty_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(PreferenceFileError, match="preference file not found") as info:
        load_preferences(missing)
    assert str(info.value) == f"{missing}: preference file not found"
    assert (
        _error(tmp_path, "blank.jsonl", "\n") == f"{tmp_path / 'blank.jsonl'}: no preference pairs"
    )
    assert "unsupported" in _error(tmp_path, "prefs.txt", GOOD)
    assert load_preferences(_write_jsonl(tmp_path / "x.txt", [json.loads(GOOD)]), format="jsonl")


def test_rendered_texts_in_records_match_strategies(small_set: PromptSet) -> None:
    for r in simulate_preferences(small_set)[:60]:
        assert r["chosen"] == render_response(r["prompt"], Strategy[r["chosen_strategy"].upper()])
        assert r["rejected"] == render_response(
            r["prompt"], Strategy[r["rejected_strategy"].upper()]
        )
