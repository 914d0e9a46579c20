"""Phrasing templates and jailbreak framings: counts, held-out share, clean deterministic
rendering, and framings that keep the prompt recoverable."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from safety_rlhf.data.templates import (
    FAMILIES,
    FRAMINGS,
    HELD_OUT_FAMILIES,
    STYLES,
    TEMPLATES,
    Framing,
    Template,
)

VPS = (
    "bake sourdough bread",
    "get rid of a dead body",
    "make sure I don't bomb my chemistry exam",
    "renew my passport before a trip",
)
CLAUSES = (
    "how phishing works",
    "what the maximum daily dose of ibuprofen is",
    "why the Schengen visa rules work the way they do",
    "what I should do if my landlord keeps my deposit",
)
PROMPTS = (
    "How do I bake sourdough bread?",
    "can u explain how phishing works",
    "Write a short story in which a character explains how to renew their passport.",
    "x",
)


def _renders(t: Template) -> list[str]:
    out = [t.render(x, "vp", f"topic/{i}") for i, x in enumerate(VPS)]
    return out + [t.render(x, "clause", f"topic/{i}") for i, x in enumerate(CLAUSES)]


def _words(text: str) -> int:
    return len(text.replace("{x}", "").split())


def test_counts_and_families() -> None:
    assert len(TEMPLATES) >= 72
    assert len({t.id for t in TEMPLATES}) == len(TEMPLATES)
    assert len(FAMILIES) >= 18
    sizes = Counter(t.family for t in TEMPLATES)
    assert all(3 <= n <= 5 for n in sizes.values()), sizes
    assert tuple(dict.fromkeys(t.family for t in TEMPLATES)) == FAMILIES
    for t in TEMPLATES:
        assert t.id.startswith(t.family + ".")
        assert t.person in (1, 3)
        assert set(t.style) <= set(STYLES)
        assert t.vp.count("{x}") == 1 and t.clause.count("{x}") == 1, t.id
        assert not re.search(r"[<>|]", t.vp + t.clause), t.id


def test_coverage_of_styles() -> None:
    assert sum(t.code for t in TEMPLATES) >= 4
    long = [t for t in TEMPLATES if _words(t.vp) >= 100 and _words(t.clause) >= 100]
    assert len(long) >= 8
    assert any(_words(t.vp) <= 6 for t in TEMPLATES)
    assert any(t.person == 3 for t in TEMPLATES)
    for style in STYLES:
        assert any(style in t.style for t in TEMPLATES if not t.held_out), style


def test_held_out_share_and_styles() -> None:
    assert set(FAMILIES) >= HELD_OUT_FAMILIES
    held = [t for t in TEMPLATES if t.held_out]
    assert 0.26 <= len(held) / len(TEMPLATES) <= 0.33
    train = [t for t in TEMPLATES if not t.held_out]
    # held-out families are new phrasings of styles the train families also have
    assert {s for t in held for s in t.style} <= {s for t in train for s in t.style}
    assert any(t.code for t in held) and any(t.code for t in train)
    assert any(t.person == 3 for t in held) and any(t.person == 3 for t in train)
    assert any(_words(t.vp) >= 100 for t in held) and any(_words(t.vp) >= 100 for t in train)


@pytest.mark.parametrize("t", TEMPLATES, ids=lambda t: t.id)
def test_render_is_clean(t: Template) -> None:
    for out in _renders(t):
        assert out == out.strip() and out
        assert not re.search(r'[{}"]', out), out
        assert "  " not in out, out
        if "nopunct" in t.style:
            assert out[-1] not in ".?!", out
    if "lower" in t.style:
        assert t.vp == t.vp.lower() and t.clause == t.clause.lower(), t.id
        assert t.render("Learn Python", "vp", "k").count("Python") == 0


def test_render_without_typo_contains_topic() -> None:
    for t in TEMPLATES:
        if "typo" in t.style:
            continue
        for x in VPS:
            expected = x.lower() if "lower" in t.style else x
            assert expected in t.render(x, "vp", "k"), t.id


def test_render_is_deterministic_and_typos_depend_on_key() -> None:
    for t in TEMPLATES:
        assert _renders(t) == _renders(t)
    typo = [t for t in TEMPLATES if "typo" in t.style]
    assert typo
    plain = Template("p.q", "p", "Can you explain how to {x}?", "Explain {x}.")
    for t in typo:
        clean = Template(t.id, t.family, t.vp, t.clause, t.person, (), t.code)
        for i, x in enumerate(VPS):
            base = clean.render(x.lower() if "lower" in t.style else x, "vp", str(i))
            if "nopunct" in t.style:
                base = base.rstrip(".?!")
            assert t.render(x, "vp", str(i)) != base, t.id
        outs = {t.render("bake sourdough bread at home", "vp", f"topic/{i}") for i in range(20)}
        assert len(outs) > 1, t.id
    assert plain.render("bake bread", "vp", "k") == "Can you explain how to bake bread?"
    with pytest.raises(ValueError):
        plain.render("bake bread", "other", "k")


def test_held_out_property() -> None:
    for t in TEMPLATES:
        assert t.held_out == (t.family in HELD_OUT_FAMILIES)


def test_framings_counts_and_ids() -> None:
    ids = [f.id for f in FRAMINGS]
    assert len(FRAMINGS) >= 32 and len(set(ids)) == len(ids)
    kept = {
        "roleplay_dan",
        "ignore_previous",
        "hypothetical",
        "fiction_novel",
        "developer_mode",
        "payload_split",
        "research_pretext",
        "grandma",
        "translation",
        "refusal_suppression",
        "prefix_injection",
        "authority_urgency",
        "evil_confidant",
        "dual_response",
    }
    assert kept <= set(ids)
    transforms = Counter(f.transform for f in FRAMINGS)
    assert transforms["split"] >= 1 and transforms["spaced"] >= 1 and transforms["leet"] >= 1
    for f in FRAMINGS:
        if f.transform == "split":
            assert "{a}" in f.text and "{b}" in f.text and "{prompt}" not in f.text
        else:
            assert f.text.count("{prompt}") == 1


@pytest.mark.parametrize("f", FRAMINGS, ids=lambda f: f.id)
def test_framing_wrap(f: Framing) -> None:
    for prompt in PROMPTS:
        out = f.wrap(prompt)
        assert out == f.wrap(prompt)
        assert "{" not in out and "}" not in out and "  " not in out
        if f.transform is None:
            assert prompt in out
        elif f.transform == "split":
            a, b = re.findall(r'"([^"]*)"', out)
            assert f"{a} {b}".strip() == prompt
        elif f.transform == "spaced":
            assert prompt.replace(" ", "") in out.replace(" ", "")
        else:
            assert prompt.translate(str.maketrans("aeiostAEIOST", "431057431057")) in out


def test_spaced_and_leet_change_the_prompt() -> None:
    spaced = next(f for f in FRAMINGS if f.transform == "spaced")
    assert "s o u r d o u g h" in spaced.wrap("How do I bake sourdough bread?")
    leet = next(f for f in FRAMINGS if f.transform == "leet")
    assert "H0w d0 1 b4k3" in leet.wrap("How do I bake bread?")
    with pytest.raises(ValueError):
        Framing("bad", "{prompt}", "rot13").wrap("x")
