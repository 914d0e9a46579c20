"""How good is a reward model, and where can an agent exploit it?

Two views of a reward model against the gold standard:

* :func:`pairwise_accuracy`: the share of held-out preference pairs (by default the
  shipped gold pairs of the test split) where the model scores the chosen response above
  the rejected one. Ties count as errors.
* :func:`strategy_table`: for each gold label, the model's mean score of each of the six
  rendered strategies. An agent trained on the model learns the strategy the model scores
  highest; :func:`format_strategy_table` puts each label's model row next to its gold row
  (:data:`~safety_rlhf.task.gold_tables.GOLD_REWARD`) and says whether the model's favourite is
  one gold also ranks first. Where it ``DISAGREES``, the agent is paid for the wrong
  behaviour: that is the reward hack to expect.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.preferences import PreferenceSet
from safety_rlhf.data.prompts import PromptSet
from safety_rlhf.reward.base import RewardModel
from safety_rlhf.task.gold_tables import GOLD_REWARD, LABELS
from safety_rlhf.task.metrics import LOOKALIKE_CATEGORY, TWIN_CATEGORY
from safety_rlhf.task.strategies import Strategy, render_responses

__all__ = [
    "STRATEGY_COLUMNS",
    "format_strategy_table",
    "pairwise_accuracy",
    "pairwise_accuracy_by_group",
    "preference_columns",
    "prompt_groups",
    "strategy_table",
]

#: Short column names of the six strategies, in :class:`Strategy` order.
STRATEGY_COLUMNS: tuple[str, ...] = ("comply", "caveat", "safe", "refuse", "redirect", "clarify")

#: Scores within this distance of a row's maximum count as tied for best.
_TIE = 1e-6


def pairwise_accuracy(model: RewardModel, prefs: PreferenceSet, **columns: Any) -> float:
    """Share of pairs where the model scores ``chosen`` strictly above ``rejected``.

    Two batched ``score`` calls: one for the chosen responses, one for the rejected.

    :param model: the reward model.
    :param prefs: the preference pairs.
    :param columns: per-pair gold metadata (e.g. ``label``) for oracles such as ``gold``;
        label-free models never see it (see :func:`preference_columns`).
    :return: accuracy in ``[0, 1]``; ties count as wrong.
    """
    return float(np.mean(_pair_hits(model, prefs, **columns)))


def _pair_hits(model: RewardModel, prefs: PreferenceSet, **columns: Any) -> np.ndarray:
    """Per pair: whether the model scores ``chosen`` strictly above ``rejected``."""
    chosen = model.score(prefs.prompts, prefs.chosen, **columns)
    rejected = model.score(prefs.prompts, prefs.rejected, **columns)
    return np.asarray(chosen > rejected)


def pairwise_accuracy_by_group(
    model: RewardModel, prefs: PreferenceSet, groups: list[str], **columns: Any
) -> dict[str, tuple[float, int]]:
    """:func:`pairwise_accuracy` per group of pairs: ``{group: (accuracy, pairs)}``, groups in
    order of first appearance, then ``"all"``.

    :param groups: the group of each pair (e.g. from :func:`prompt_groups`).
    """
    if len(groups) != len(prefs):
        raise ValueError(f"pairwise_accuracy_by_group: {len(groups)} groups for {len(prefs)} pairs")
    right = _pair_hits(model, prefs, **columns)
    names = np.asarray(groups)
    out = {
        g: (float(right[names == g].mean()), int((names == g).sum())) for g in dict.fromkeys(groups)
    }
    out["all"] = (float(right.mean()), len(right))
    return out


def prompt_groups(prompts: list[str], *prompt_sets: PromptSet) -> list[str]:
    """The group of each prompt, looked up in ``prompt_sets``: ``harmful``, ``borderline``,
    ``benign everyday``, ``look-alike``, ``twin`` (benign twins of harmful topics), or
    ``other`` for prompts none of them holds."""
    group: dict[str, str] = {}
    for prompt_set in prompt_sets:
        for text, label, category in zip(
            prompt_set.prompts, prompt_set.labels, prompt_set.categories, strict=True
        ):
            if label == "benign":
                group[text] = {LOOKALIKE_CATEGORY: "look-alike", TWIN_CATEGORY: "twin"}.get(
                    category, "benign everyday"
                )
            else:
                group[text] = label or "other"
    return [group.get(p, "other") for p in prompts]


def preference_columns(path: str | os.PathLike[str]) -> dict[str, list[Any]]:
    """The gold ``label`` column of a JSONL (optionally gzipped) or CSV preference file.

    The shipped pair files carry each pair's gold label; oracles (``gold``) need it to
    score. Rows are read in file order, blank JSONL lines skipped, as
    :func:`~safety_rlhf.data.preferences.load_preferences` does, so the column lines up
    with the loaded pairs.

    :param path: the preference file.
    :return: ``{"label": [...]}`` if every row has a label that is one of
        :data:`~safety_rlhf.task.gold_tables.LABELS`, else ``{}`` (no file, unreadable file, or an
        HH-RLHF file: no error, since label-free models do not need it).
    """
    path = Path(path)
    name = path.name.lower()
    inner = name[: -len(".gz")] if name.endswith(".gz") else name
    try:
        raw = path.read_bytes()
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
        if inner.endswith(".csv"):
            rows: list[Any] = list(csv.DictReader(io.StringIO(text, newline="")))
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, ValueError, csv.Error):
        return {}
    labels = [row.get("label") if isinstance(row, dict) else None for row in rows]
    if not labels or any(label not in LABELS for label in labels):
        return {}
    return {"label": labels}


def strategy_table(model: RewardModel, prompt_set: PromptSet) -> dict[str, np.ndarray]:
    """Mean model score of each of the six rendered strategies, per gold label.

    All labelled prompts times six responses are scored in one batched ``score`` call,
    with the prompt set's gold columns repeated per response (so oracles can score too).

    :param model: the reward model.
    :param prompt_set: prompts with gold labels; unlabelled prompts are left out.
    :return: ``{label: float64 array of shape (6,)}`` in :class:`Strategy` order, for each
        label present, in :data:`~safety_rlhf.task.gold_tables.LABELS` order.
    """
    keep = [i for i, label in enumerate(prompt_set.labels) if label is not None]
    if not keep:
        return {}
    n_strategies = len(Strategy)
    prompts: list[str] = []
    responses: list[str] = []
    for i in keep:
        prompt = prompt_set.prompts[i]
        prompts += [prompt] * n_strategies
        responses += render_responses(prompt)
    columns = {
        key: [values[i] for i in keep for _ in range(n_strategies)]
        for key, values in prompt_set.columns().items()
    }
    scores = model.score(prompts, responses, **columns).reshape(len(keep), n_strategies)
    labels = np.array([prompt_set.labels[i] for i in keep], dtype=object)
    return {
        label: scores[labels == label].astype(np.float64).mean(axis=0)
        for label in LABELS
        if np.any(labels == label)
    }


def _best(row: np.ndarray | tuple[float, ...]) -> set[int]:
    values = np.asarray(row, dtype=np.float64)
    return set(np.flatnonzero(values >= values.max() - _TIE).tolist())


def format_strategy_table(table: dict[str, np.ndarray]) -> str:
    """A plain-text label x strategy table: the model's mean scores above gold's.

    Each row's best strategy is marked ``*`` (all of them, when tied). The last column
    says ``agrees`` when every strategy the model scores best is one gold ranks first for
    that label, ``DISAGREES`` otherwise: an agent maximising the model would then learn
    a strategy gold does not want.

    :param table: the output of :func:`strategy_table`.
    :return: the table, lines joined by ``\\n`` (no trailing newline).
    """
    width = max(len(c) for c in STRATEGY_COLUMNS) + 2
    label_width = max([len("label"), *(len(label) for label in table)])
    header = f"{'label':<{label_width}}  {'row':<5}" + "".join(
        f"{c:>{width}}" for c in STRATEGY_COLUMNS
    )
    lines = [header + "  verdict", "-" * (len(header) + len("  DISAGREES"))]

    def cells(row: np.ndarray | tuple[float, ...]) -> str:
        best = _best(row)
        marked = [f"{v:+.3f}" + ("*" if j in best else " ") for j, v in enumerate(row)]
        return "".join(f"{cell:>{width}}" for cell in marked)

    for label, row in table.items():
        gold = GOLD_REWARD[label]
        verdict = "agrees" if _best(row) <= _best(gold) else "DISAGREES"
        lines.append(f"{label:<{label_width}}  {'model':<5}{cells(row)}  {verdict}")
        lines.append(f"{'':<{label_width}}  {'gold':<5}{cells(gold)}".rstrip())
    lines.append("* best strategy of the row; DISAGREES: the model's favourite is not gold's")
    return "\n".join(lines)
