"""Deterministic generator for the shipped prompt corpus ``prompts.jsonl.gz``.

Design
------
* **Topics x templates.**  Every topic (``topics.py``) is rendered with ``TEMPLATES_PER_TOPIC``
  templates (``templates.py``), each from a different template family.  The families are
  ranked per topic by a SHA-256 hash of ``topic id + family``, so the choice is stable and
  spread evenly across labels; topics that allow code always get one code template.  No
  random number generator is used anywhere.  Every template serves every label, so the
  template id carries no information about the label (:func:`template_label_check`).
* **Splits by topic and by phrasing.**  Whole topics go to ``train`` or ``test``: within
  every stratum (``label, category, subtype``), the ``round(TEST_FRACTION * n)`` topics with
  the smallest hash go to test (at least one, if the stratum has two or more topics); the
  benign twin of a harmful topic goes wherever its harmful topic goes.  Train prompts use
  only the templates outside ``HELD_OUT_FAMILIES``; test prompts use every family.  So train
  and test share no topic and no held-out phrasing: the test split measures generalisation
  to unseen topics and unseen phrasings, and every category and subtype appears in both.
* **Jailbreak split.**  Every test prompt is wrapped once in a jailbreak framing, framings
  taken round-robin in test order; id ``"jb-" + test id``, ``template`` = framing id, the
  other fields unchanged.
* **Byte-stable output.**  One JSON object per line, fixed key order, ``ensure_ascii=False``,
  ``"\\n"`` newlines, UTF-8, gzipped without timestamp or file name (4 MB of text ships as
  well under 1 MB); written to a temporary file in the target directory and moved into place
  with ``os.replace``.

Command line::

    python -m safety_rlhf.data.generate            # (re)write prompts.jsonl.gz next to this file
    python -m safety_rlhf.data.generate --check    # exit 1 if the file on disk is stale
    python -m safety_rlhf.data.generate --summary  # print the composition table
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import chi2_contingency

from safety_rlhf.data.atomic_files import atomic_write_bytes, is_up_to_date, stable_gzip
from safety_rlhf.data.templates import (
    FAMILIES,
    FRAMINGS,
    HELD_OUT_FAMILIES,
    TEMPLATES,
    Template,
)
from safety_rlhf.data.topics import Topic, all_topics

DEFAULT_PATH: Path = Path(__file__).resolve().parent / "prompts.jsonl.gz"
TEMPLATES_PER_TOPIC: int = 6
TEST_FRACTION: float = 0.28
SPLITS: tuple[str, ...] = ("train", "test", "jailbreak")
LABELS: tuple[str, ...] = ("harmful", "benign", "borderline")
KEYS: tuple[str, ...] = (
    "id",
    "prompt",
    "label",
    "category",
    "subtype",
    "split",
    "template",
    "topic",
)


def _hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def select_templates(
    topic: Topic, split: str = "test", k: int = TEMPLATES_PER_TOPIC
) -> list[Template]:
    """Pick ``k`` templates from distinct families for ``topic``, deterministically; train
    topics never get a held-out family."""
    eligible = [
        t
        for t in TEMPLATES
        if (topic.allows_code or not t.code) and (split == "test" or not t.held_out)
    ]
    by_family: dict[str, list[Template]] = defaultdict(list)
    for t in eligible:
        by_family[t.family].append(t)
    families = sorted(by_family, key=lambda fam: _hash("family", topic.id, fam))
    if topic.allows_code:
        code = next(f for f in families if any(t.code for t in by_family[f]))
        families.remove(code)
        families.insert(0, code)
    chosen = [
        min(by_family[fam], key=lambda t: _hash("variant", topic.id, t.id)) for fam in families[:k]
    ]
    order = {t.id: i for i, t in enumerate(TEMPLATES)}
    return sorted(chosen, key=lambda t: order[t.id])


def assign_splits(topics: Sequence[Topic]) -> dict[str, str]:
    """Map topic id -> ``"train"``/``"test"``, stratified by (label, category, subtype);
    a twin follows its harmful topic."""
    strata: dict[tuple[str, str, str], list[Topic]] = defaultdict(list)
    for topic in topics:
        if not topic.twin_of:
            strata[(topic.label, topic.category, topic.subtype)].append(topic)
    split: dict[str, str] = {}
    for members in strata.values():
        n = len(members)
        n_test = max(1, int(TEST_FRACTION * n + 0.5)) if n >= 2 else 0
        ranked = sorted(members, key=lambda t: _hash("split", t.id))
        test_ids = {t.id for t in ranked[:n_test]}
        for topic in members:
            split[topic.id] = "test" if topic.id in test_ids else "train"
    for topic in topics:
        if topic.twin_of:
            split[topic.id] = split[topic.twin_of]
    return split


def _record(rid: str, prompt: str, topic: Topic, split: str, template_id: str) -> dict[str, str]:
    return {
        "id": rid,
        "prompt": prompt,
        "label": topic.label,
        "category": topic.category,
        "subtype": topic.subtype,
        "split": split,
        "template": template_id,
        "topic": topic.id,
    }


def build_corpus() -> list[dict[str, str]]:
    """Return all records: train, then test, then jailbreak (each in topic order)."""
    topics = all_topics()
    split_of = assign_splits(topics)
    rendered: dict[str, list[tuple[Topic, str, str]]] = {"train": [], "test": []}
    for topic in topics:
        split = split_of[topic.id]
        for template in select_templates(topic, split):
            prompt = template.render(topic.render(template.person), topic.slot, topic.id)
            rendered[split].append((topic, template.id, prompt))

    records: list[dict[str, str]] = []
    by_topic: dict[str, Topic] = {t.id: t for t in topics}
    counter = 0
    for split in ("train", "test"):
        for topic, template_id, prompt in rendered[split]:
            counter += 1
            records.append(_record(f"p{counter:05d}", prompt, topic, split, template_id))

    tests = [r for r in records if r["split"] == "test"]
    for i, rec in enumerate(tests):
        framing = FRAMINGS[i % len(FRAMINGS)]
        topic = by_topic[rec["topic"]]
        records.append(
            _record("jb-" + rec["id"], framing.wrap(rec["prompt"]), topic, "jailbreak", framing.id)
        )
    _validate(records)
    return records


def _validate(records: Sequence[dict[str, str]]) -> None:
    ids = [r["id"] for r in records]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate record ids")
    plain = [r["prompt"] for r in records if r["split"] != "jailbreak"]
    if len(plain) != len(set(plain)):
        dupes = [p for p, c in Counter(plain).items() if c > 1]
        raise ValueError(f"duplicate prompt texts: {dupes[:5]}")
    for r in records:
        if "{" in r["prompt"] or "}" in r["prompt"] or "  " in r["prompt"]:
            raise ValueError(f"unrendered or malformed prompt: {r['prompt']!r}")
        if r["split"] != "jailbreak" and '"' in r["prompt"]:
            raise ValueError(f"double quote outside a jailbreak framing: {r['prompt']!r}")


def serialize(records: Sequence[dict[str, Any]]) -> bytes:
    """Encode records as byte-stable gzipped JSON Lines (fixed key order, UTF-8, ``\\n``
    newlines; :func:`~safety_rlhf.data.atomic_files.stable_gzip`)."""
    lines = [json.dumps({k: r[k] for k in KEYS}, ensure_ascii=False) for r in records]
    return stable_gzip(("\n".join(lines) + "\n").encode("utf-8"))


def write_corpus(path: str | os.PathLike[str] = DEFAULT_PATH) -> Path:
    """Generate the corpus and write it atomically to ``path``; return the path."""
    return atomic_write_bytes(path, serialize(build_corpus()))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def composition_table(records: Sequence[dict[str, str]]) -> str:
    """Markdown tables: prompts per split x label, and per label x category (x subtype)."""
    by_split_label = Counter((r["label"], r["split"]) for r in records)
    rows: list[list[object]] = []
    for label in LABELS:
        counts = [by_split_label[(label, s)] for s in SPLITS]
        rows.append([label, *counts, sum(counts)])
    totals = [sum(by_split_label[(lab, s)] for lab in LABELS) for s in SPLITS]
    rows.append(["**total**", *totals, sum(totals)])
    first = _table(["label", *SPLITS, "total"], rows)

    topics: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_cat = Counter((r["label"], r["category"], r["split"]) for r in records)
    for r in records:
        topics[(r["label"], r["category"])].add(r["topic"])
    rows = []
    for label in LABELS:
        cats = sorted({c for (lab, c) in topics if lab == label})
        for cat in cats:
            counts = [by_cat[(label, cat, s)] for s in SPLITS]
            rows.append([label, cat, len(topics[(label, cat)]), *counts])
    second = _table(["label", "category", "topics", *SPLITS], rows)

    by_sub = Counter((r["category"], r["subtype"], r["split"]) for r in records)
    subs = sorted({(r["category"], r["subtype"]) for r in records if r["category"] == "lookalike"})
    third = _table(
        ["look-alike subtype", *SPLITS],
        [[sub, *(by_sub[(cat, sub, s)] for s in SPLITS)] for cat, sub in subs],
    )
    held = {t.id for t in TEMPLATES if t.held_out}
    by_phrasing = Counter((r["split"], r["template"] in held) for r in records)
    fourth = _table(
        ["split", "seen phrasings", "held-out phrasings"],
        [[s, by_phrasing[(s, False)], by_phrasing[(s, True)]] for s in ("train", "test")],
    )
    accuracy, baseline = template_label_check(records)
    template, p_value = template_label_independence(records)
    return (
        "### Prompts per label x split\n\n"
        + first
        + "\n\n### Prompts per label x category\n\n"
        + second
        + "\n\n### Benign look-alikes per subtype\n\n"
        + third
        + f"\n\n### Phrasings ({len(TEMPLATES)} templates in {len(FAMILIES)} families; "
        + f"{len(held)} templates in {len(HELD_OUT_FAMILIES)} families held out of train)\n\n"
        + fourth
        + f"\n\nThe label predicted from the template id alone: accuracy {accuracy:.3f}, "
        + f"against {baseline:.3f} for always predicting the majority label "
        + "(5-fold cross-validation by topic, train and test prompts). The template whose "
        + f"label mix departs most from the rest, {template}, departs by chance: p = "
        + f"{p_value:.2f} (chi-square test against the other prompts' labels, Bonferroni-"
        + "corrected for the number of templates).\n"
    )


def template_label_independence(records: Sequence[dict[str, str]]) -> tuple[str, float]:
    """``(template, p)``: the template whose label mix departs most from the other
    templates' (train and test prompts), and the Bonferroni-corrected p-value of that
    departure (Pearson's chi-square test of its labels against all other prompts' labels,
    times the number of templates, at most 1). A small ``p`` flags a template that gives
    the label away, even partly."""
    plain = [r for r in records if r["split"] != "jailbreak"]
    labels = sorted({r["label"] for r in plain})
    total = Counter(r["label"] for r in plain)
    by_template: dict[str, Counter[str]] = defaultdict(Counter)
    for r in plain:
        by_template[r["template"]][r["label"]] += 1
    worst, worst_p = "", 1.0
    for template in sorted(by_template):
        inside = [by_template[template][lab] for lab in labels]
        outside = [total[lab] - n for lab, n in zip(labels, inside, strict=True)]
        p = float(chi2_contingency(np.array([inside, outside]), correction=False)[1])
        if p < worst_p or not worst:
            worst, worst_p = template, p
    return worst, min(1.0, worst_p * len(by_template))


def template_label_check(records: Sequence[dict[str, str]], folds: int = 5) -> tuple[float, float]:
    """``(accuracy, baseline)`` of predicting a prompt's label from its template id alone.

    The best classifier on one categorical feature predicts, per template, the label most
    frequent among that template's prompts; it is fitted on ``folds - 1`` folds of topics
    and scored on the last, for each fold. ``baseline`` always predicts the label most
    frequent in the training folds. Equal figures mean the template carries no label
    information.
    """
    plain = [r for r in records if r["split"] != "jailbreak"]
    fold = {r["topic"]: int(_hash("fold", r["topic"])[:8], 16) % folds for r in plain}
    right = base = 0
    for k in range(folds):
        fit = [r for r in plain if fold[r["topic"]] != k]
        overall = Counter(r["label"] for r in fit).most_common(1)[0][0]
        per_template: dict[str, Counter[str]] = defaultdict(Counter)
        for r in fit:
            per_template[r["template"]][r["label"]] += 1
        for r in plain:
            if fold[r["topic"]] == k:
                counts = per_template.get(r["template"])
                guess = counts.most_common(1)[0][0] if counts else overall
                right += guess == r["label"]
                base += overall == r["label"]
    return right / len(plain), base / len(plain)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (also raised via ``SystemExit``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="corpus file")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    group.add_argument("--summary", action="store_true", help="print the composition table")
    args = parser.parse_args(argv)

    if args.summary:
        print(composition_table(build_corpus()), end="")
        return 0
    if args.check:
        if not is_up_to_date(args.path, serialize(build_corpus()), "run generate.py to rebuild it"):
            raise SystemExit(1)
        return 0
    path = write_corpus(args.path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    main()
