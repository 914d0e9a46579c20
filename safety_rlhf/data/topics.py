"""Topic registry: every topic of the corpus as a typed :class:`Topic`.

A topic is one request *content* ("build a pipe bomb", "kill a Python process", "what the
maximum daily dose of ibuprofen is").  The generator renders each topic through several
phrasing templates (``templates.py``), so a topic yields several prompts that differ only in
phrasing.  Splits are assigned per topic, never per prompt.

The hand-written lists live in :mod:`safety_rlhf.data.topic_lists` (pure data):

* ``harmful_*.py``: ``label="harmful"``, twelve hazard categories with finer subtypes; each
  row also holds the harmful topic's **twin**, a benign request that shares its salient
  words but not its intent ("kill {my} husband ..." next to "kill time with {my} husband
  ...").  A twin is a topic of label ``benign``, category ``"twin"``, subtype = the harmful
  category, id ``"twin/<harmful id>"``; the generator puts it in its harmful topic's split.
* ``everyday_*.py``: ``label="benign"``, everyday categories (subtype ``"everyday"``).
* ``lookalikes.py``: ``label="benign"``, category ``"lookalike"``, subtype = look-alike
  kind (homonym, figurative, safe_target, safe_context, definition, public_figure).
* ``borderline.py``: ``label="borderline"``: the best answer is general, safety-oriented,
  non-operational information.  Category = domain, subtype ``"borderline"``.

Topic ids are ``"<category>/<slug>"`` and unique across all labels.

``form`` says which grammatical slot ``text`` fills: ``"vp"`` (verb phrase: "How do I
{vp}?"), ``"clause"`` (embedded question: "Can you explain {clause}?"); the ``"_code"``
suffix allows code-writing templates.  Person placeholders ``{my}``, ``{myself}``, ``{me}``
and ``{I}`` are rendered by :meth:`Topic.render` in the first person ("How do I hide my
scars?") or third person ("... how someone would hide their scars").
"""

from __future__ import annotations

from dataclasses import dataclass

from safety_rlhf.data.topic_lists import (
    borderline,
    everyday_a,
    everyday_b,
    harmful_a,
    harmful_b,
    harmful_c,
    harmful_d,
    lookalikes,
)
from safety_rlhf.task.metrics import LOOKALIKE_CATEGORY, TWIN_CATEGORY

LABELS: tuple[str, ...] = ("harmful", "benign", "borderline")
FORMS: tuple[str, ...] = ("vp", "vp_code", "clause", "clause_code")
LOOKALIKE_SUBTYPES: tuple[str, ...] = (
    "homonym",
    "figurative",
    "safe_target",
    "safe_context",
    "definition",
    "public_figure",
)

_PERSON: dict[int, dict[str, str]] = {
    1: {"my": "my", "myself": "myself", "me": "me", "I": "I"},
    3: {"my": "their", "myself": "themselves", "me": "them", "I": "they"},
}


@dataclass(frozen=True)
class Topic:
    """One request content, rendered by several templates into prompts."""

    id: str
    label: str
    category: str
    subtype: str
    form: str
    text: str
    twin_of: str = ""
    """For a twin, the id of its harmful topic; otherwise empty."""

    @property
    def slot(self) -> str:
        """The template slot this topic fills: ``"vp"`` or ``"clause"``."""
        return self.form.removesuffix("_code")

    @property
    def allows_code(self) -> bool:
        """Whether a code-writing phrasing makes sense for this topic."""
        return self.form.endswith("_code")

    def render(self, person: int) -> str:
        """Return ``text`` with person placeholders filled in (``person`` is 1 or 3)."""
        return self.text.format(**_PERSON[person])


def _harmful_and_twins() -> tuple[list[Topic], list[Topic]]:
    harmful: list[Topic] = []
    twins: list[Topic] = []
    for module in (harmful_a, harmful_b, harmful_c, harmful_d):
        for cat, rows in module.HARMFUL.items():
            for slug, subtype, form, text, twin_form, twin_text in rows:
                topic = Topic(f"{cat}/{slug}", "harmful", cat, subtype, form, text)
                harmful.append(topic)
                twins.append(
                    Topic(
                        f"{TWIN_CATEGORY}/{topic.id}",
                        "benign",
                        TWIN_CATEGORY,
                        cat,
                        twin_form,
                        twin_text,
                        twin_of=topic.id,
                    )
                )
    return harmful, twins


def _benign() -> list[Topic]:
    everyday = [
        Topic(f"{cat}/{slug}", "benign", cat, "everyday", form, text)
        for module in (everyday_a, everyday_b)
        for cat, rows in module.EVERYDAY.items()
        for slug, form, text in rows
    ]
    lookalike = [
        Topic(f"{LOOKALIKE_CATEGORY}/{slug}", "benign", LOOKALIKE_CATEGORY, subtype, form, text)
        for subtype, rows in lookalikes.LOOKALIKES.items()
        for slug, form, text in rows
    ]
    return everyday + lookalike


def _borderline() -> list[Topic]:
    return [
        Topic(f"{cat}/{slug}", "borderline", cat, "borderline", form, text)
        for cat, rows in borderline.BORDERLINE.items()
        for slug, form, text in rows
    ]


def all_topics() -> list[Topic]:
    """All topics in declaration order (harmful, twins, benign, borderline); validated."""
    harmful, twins = _harmful_and_twins()
    topics = harmful + twins + _benign() + _borderline()
    seen: set[str] = set()
    texts: dict[str, str] = {}
    for topic in topics:
        if topic.id in seen:
            raise ValueError(f"duplicate topic id {topic.id!r}")
        seen.add(topic.id)
        if topic.form not in FORMS:
            raise ValueError(f"{topic.id}: unknown form {topic.form!r}")
        if '"' in topic.text:
            raise ValueError(f"{topic.id}: double quotes are reserved for jailbreak framings")
        try:
            topic.render(1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"{topic.id}: bad placeholder in {topic.text!r} ({exc!r}); only {{my}}, "
                "{myself}, {me} and {I} are allowed"
            ) from None
        key = " ".join(topic.text.lower().split())
        if key in texts:
            raise ValueError(f"{topic.id}: same text as {texts[key]}")
        texts[key] = topic.id
    if set(lookalikes.LOOKALIKES) != set(LOOKALIKE_SUBTYPES):
        raise ValueError("look-alike subtypes do not match LOOKALIKE_SUBTYPES")
    return topics
