"""``M`` samples from ``pi_ref`` per prompt, judged and scored: the table best-of-n reads.

:func:`study_prompts` picks the studies' fixed, seeded subset of the test split;
:func:`sample_reference` draws ``M`` responses per prompt from ``pi_ref``
(:meth:`~safety_rlhf.task.reference_lm.ReferenceLM.sample`, the prompt's prior
``log pi_ref(strategy | prompt)``, one generator seeded with ``seed`` for all prompts, in
prompt order), keeps the distinct ones with their counts and judges each with the gold
judge; :func:`score_samples` adds a reward model's scores of the rendered texts
(``detokenize(ids, prompt)``, what the env pays for). Both are cached as ``.npz`` files, so
several reward models and commands share one draw.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safety_rlhf.data.atomic_files import atomic_writer
from safety_rlhf.data.prompts import PromptSet
from safety_rlhf.reward.base import RewardModel
from safety_rlhf.task.reference_lm import ReferenceLM
from safety_rlhf.task.reference_policy import reference_probs
from safety_rlhf.task.text_judge import Decision, judge
from safety_rlhf.task.tokenizer import EOS, detokenize

__all__ = [
    "JUDGED",
    "ReferenceTable",
    "sample_reference",
    "score_samples",
    "study_prompts",
    "subset",
]

#: The per-text figures the table keeps from the judge (averaged under best-of-n).
JUDGED: tuple[str, ...] = ("gold_reward", "gold_success", "degenerate", "cost", "length")


def study_prompts(prompt_set: PromptSet, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` prompts drawn without replacement by ``default_rng(seed)``, sorted
    (all prompts, in order, when ``n`` is at least their number)."""
    if n >= len(prompt_set):
        return np.arange(len(prompt_set))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(prompt_set), size=int(n), replace=False))


def subset(prompt_set: PromptSet, indices: np.ndarray) -> PromptSet:
    """The prompts at ``indices``, as a new :class:`PromptSet` (same order)."""
    idx = [int(i) for i in indices]
    return PromptSet(
        prompts=[prompt_set.prompts[i] for i in idx],
        ids=[prompt_set.ids[i] for i in idx],
        labels=[prompt_set.labels[i] for i in idx],
        categories=[prompt_set.categories[i] for i in idx],
        subtypes=[prompt_set.subtypes[i] for i in idx],
        source=f"{prompt_set.source}[{len(idx)} prompts]",
    )


@dataclass
class ReferenceTable:
    """The distinct sampled responses of every prompt, flattened.

    :param prompts: the prompts (a :class:`PromptSet` with gold labels).
    :param samples: ``M``, responses drawn per prompt.
    :param offsets: ``(P + 1,)``: prompt ``k``'s texts are rows ``offsets[k]:offsets[k+1]``.
    :param ids: int16 ``(R, T)`` token ids of each distinct text, ``EOS``-padded.
    :param counts: ``(R,)`` how many of the prompt's ``M`` samples are that text.
    :param judged: name -> ``(R,)`` float64 figures of :data:`JUDGED` (NaN unlabelled).
    :param proxy: reward-model name -> ``(R,)`` float32 scores.
    """

    prompts: PromptSet
    samples: int
    offsets: np.ndarray
    ids: np.ndarray
    counts: np.ndarray
    judged: dict[str, np.ndarray]
    proxy: dict[str, np.ndarray]

    def rows(self, k: int) -> slice:
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))

    def text(self, row: int) -> str:
        """The rendered text of table row ``row``."""
        k = int(np.searchsorted(self.offsets, row, side="right")) - 1
        return detokenize(self.ids[row].tolist(), self.prompts.prompts[k])

    def prompt_of_rows(self) -> np.ndarray:
        """``(R,)`` the prompt index of every row."""
        return np.repeat(np.arange(len(self.prompts)), np.diff(self.offsets))


def _key(prompts: PromptSet, samples: int, seed: int, max_tokens: int) -> str:
    lm = ReferenceLM.default()
    what = [prompts.fingerprint(), samples, seed, max_tokens, lm.floor, lm.backoff, lm.order]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:16]


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def sample_reference(
    prompts: PromptSet,
    samples: int,
    seed: int,
    max_tokens: int = 48,
    cache_dir: Path | None = None,
) -> ReferenceTable:
    """Draw ``samples`` responses per prompt from ``pi_ref``, keep the distinct ones and
    judge them (module docstring); read from / written to ``cache_dir`` when given."""
    if not prompts.labelled:
        raise ValueError("the studies need gold labels on every prompt")
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"ref-{_key(prompts, samples, seed, max_tokens)}.npz"
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as data:
            stored = {name: data[name] for name in JUDGED}
            return ReferenceTable(
                prompts, samples, data["offsets"], data["ids"], data["counts"], stored, {}
            )
    lm = ReferenceLM.default()
    log_prior = np.log(reference_probs(prompts.prompts))
    rng = np.random.default_rng(seed)
    offsets, all_ids, all_counts = [0], [], []
    judged: dict[str, list[float]] = {name: [] for name in JUDGED}
    for k, label in enumerate(prompts.labels):
        ids, _ = lm.sample(np.repeat(log_prior[k : k + 1], samples, axis=0), rng, max_tokens)
        distinct, counts = np.unique(ids, axis=0, return_counts=True)
        all_ids.append(distinct.astype(np.int16))
        all_counts.append(counts)
        offsets.append(offsets[-1] + len(distinct))
        for row in distinct.tolist():
            verdict = judge(row, label)
            judged["gold_reward"].append(verdict.gold_reward)
            judged["gold_success"].append(float(verdict.is_success))
            judged["degenerate"].append(float(verdict.decision is Decision.DEGENERATE))
            judged["cost"].append(verdict.cost)
            judged["length"].append(float(verdict.length + (EOS in row)))
    table = ReferenceTable(
        prompts,
        samples,
        np.asarray(offsets, dtype=np.int64),
        np.concatenate(all_ids),
        np.concatenate(all_counts).astype(np.int64),
        {name: np.asarray(v, dtype=np.float64) for name, v in judged.items()},
        {},
    )
    if path is not None:
        _save(
            path,
            {"offsets": table.offsets, "ids": table.ids, "counts": table.counts, **table.judged},
        )
    return table


def score_samples(
    table: ReferenceTable,
    name: str,
    model: RewardModel,
    cache_dir: Path | None = None,
    batch: int = 8192,
) -> np.ndarray:
    """Score every distinct text of ``table`` with ``model`` (stored as ``table.proxy[name]``);
    cached in ``cache_dir`` under the table's texts and the model's ``identity``."""
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(table.ids.tobytes())
        digest.update(table.counts.tobytes())
        digest.update(b"\x00" + model.identity.encode())
        path = Path(cache_dir) / f"proxy-{digest.hexdigest()[:20]}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                table.proxy[name] = data["proxy"]
                return table.proxy[name]
    which = table.prompt_of_rows()
    prompts = table.prompts.prompts
    scores = np.empty(len(table.ids), dtype=np.float32)
    columns = table.prompts.columns()
    for start in range(0, len(table.ids), batch):
        rows = range(start, min(start + batch, len(table.ids)))
        p = [prompts[which[r]] for r in rows]
        texts = [detokenize(table.ids[r].tolist(), q) for r, q in zip(rows, p, strict=True)]
        cols = {c: [v[which[r]] for r in rows] for c, v in columns.items()}
        scores[start : start + len(p)] = model.score(p, texts, **cols)
    table.proxy[name] = scores
    if path is not None:
        _save(path, {"proxy": scores})
    return scores
