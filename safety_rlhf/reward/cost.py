"""Cost models: how harmful a response is, for the constraint of safe RL (as Safe RLHF does).

A cost model has the reward models' interface, ``score(prompts, responses, **columns) ->
float32 array``, with *higher = more harmful*. Built-in ones, by spec
(:func:`make_cost_model`, which runs the reward models' spec machinery on its own
registry):

- ``learned-cost``: the classifier shipped with the package, trained on the simulated
  safety annotations of :mod:`safety_rlhf.data.safety_annotations` (label-free: it reads
  text only); it scores the probability that a response is harmful;
- ``classifier:PATH``: a classifier checkpoint trained with ``safety-rlhf cost-model
  train`` (or :func:`~safety_rlhf.reward.cost_training.train_cost_model`);
- ``gold``: the oracle, the gold cost (1.0 where a response helps with a harmful prompt):
  it reads the gold labels, so it is the upper bound, never a learned signal;
- ``package.module:object``, a callable or a :class:`~safety_rlhf.reward.RewardModel`
  instance, as for reward models.

The classifier is the Bradley-Terry architecture
(:mod:`safety_rlhf.reward.bradley_terry`: MiniLM embeddings of the prompt and of the
response without the restated prompt, an MLP to a scalar) read as a logit:
``cost = sigmoid(mlp(features))``, trained with the logistic loss. Its checkpoint is the
same ``model.safetensors`` + ``config.json`` pair, with ``"output": "probability"`` in the
config so that a reward checkpoint is not taken for a cost model (or the reverse).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.data.prompts import PromptSet
from safety_rlhf.data.safety_annotations import SafetyAnnotatorConfig
from safety_rlhf.reward.base import RewardModel, RewardModelError, ScoreFn
from safety_rlhf.reward.bradley_terry import BradleyTerryRewardModel, load_checkpoint
from safety_rlhf.reward.detectors import response_style
from safety_rlhf.reward.registry import check_spec_from_file, make_from_registry, register_in
from safety_rlhf.task.gold_tables import cost_table
from safety_rlhf.task.strategies import ANSWERED, Strategy, render_responses

__all__ = [
    "LEARNED_COST_PATH",
    "ClassifierCostModel",
    "CostModelConfig",
    "GoldCostModel",
    "LearnedCostModel",
    "check_cost_spec_from_file",
    "cost_model_metrics",
    "list_cost_models",
    "make_cost_model",
    "register_cost_model",
    "roc_auc",
]

#: The checkpoint behind ``"learned-cost"``.
LEARNED_COST_PATH = Path(__file__).with_name("checkpoints") / "learned-cost"
#: ``config.json`` value that marks a cost classifier checkpoint.
PROBABILITY = "probability"

_COST_REGISTRY: dict[str, type[RewardModel]] = {}


def register_cost_model(name: str) -> Callable[[Any], Any]:
    """Class decorator adding a cost model to the cost registry under ``name``.

    :raises ValueError: if ``name`` is already taken.
    """
    return register_in(_COST_REGISTRY, name, "cost model")


def list_cost_models() -> list[str]:
    """Names of the registered cost models, sorted."""
    return sorted(_COST_REGISTRY)


def check_cost_spec_from_file(
    spec: object, source: str, base_dir: str | os.PathLike[str] | None = None
) -> str:
    """:func:`~safety_rlhf.reward.registry.check_spec_from_file` for cost-model specs: only
    registered cost models (and their checkpoint paths inside ``base_dir``)."""
    return check_spec_from_file(spec, source, _COST_REGISTRY, "cost model", base_dir)


def make_cost_model(spec: str | RewardModel | ScoreFn, **kwargs: Any) -> RewardModel:
    """Build a cost model from a spec (see the module docstring): a registered name
    (``"learned-cost"``, ``"gold"``), ``"name:argument"`` (``"classifier:PATH"``),
    ``"package.module:object"``, a callable or an instance.

    :raises RewardModelError: naming the spec when it cannot be resolved.
    """
    return make_from_registry(spec, _COST_REGISTRY, "cost model", kwargs)


@dataclass
class CostModelConfig:
    """How to build and train a cost classifier (the ``learned-cost`` defaults)."""

    encoder: str = "minilm"
    """Text encoder name (``hashing`` or ``minilm``)."""
    dim: int | None = None
    """Encoder dimension (``None``: the encoder's default)."""
    hidden: tuple[int, ...] = (128, 32)
    """Hidden layer sizes of the MLP."""
    epochs: int = 60
    """Most epochs to train."""
    batch_size: int = 256
    """Annotated pairs per gradient step."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 1e-4
    """Adam weight decay (L2)."""
    val_fraction: float = 0.1
    """Share of training prompts held out for validation and early stopping."""
    patience: int = 8
    """Epochs without a lower validation loss before stopping."""
    seed: int = 0
    """Seed of the initial weights, the validation split and the batch order."""


@register_cost_model("gold")
class GoldCostModel(RewardModel):
    """Oracle: the gold cost, 1.0 where a response helps with (answers) a harmful prompt.

    The strategy is recovered from the text as the ``gold`` reward model does (exactly for
    the six rendered responses, else by
    :func:`~safety_rlhf.reward.detectors.response_style`). It reads the ``label`` column:
    the upper bound a learned cost model is measured against.
    """

    reads_gold_columns = True

    @property
    def identity(self) -> str:
        return "gold-cost:v1"

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        labels = columns.get("label")
        if labels is None:
            raise RewardModelError("cost model 'gold' needs the 'label' column")
        out = np.empty(len(prompts), dtype=np.float32)
        for i, (prompt, response, label) in enumerate(zip(prompts, responses, labels, strict=True)):
            if label is None:
                raise RewardModelError(
                    f"cost model 'gold': pair {i} (prompt={prompt[:60]!r}) has no gold label; "
                    "use a label-free cost model (e.g. 'learned-cost') for unlabelled prompts"
                )
            rendered = render_responses(prompt)
            strategy = (
                Strategy(rendered.index(response))
                if response in rendered
                else response_style(prompt, response)
            )
            out[i] = float(label == "harmful" and strategy in ANSWERED)
        return out


@register_cost_model("classifier")
class ClassifierCostModel(BradleyTerryRewardModel):
    """A cost classifier loaded from a checkpoint folder (``classifier:PATH``): the
    probability ``sigmoid(mlp(features))`` that the response is harmful.

    :param path: checkpoint folder (``config.json`` with ``"output": "probability"`` +
        ``model.safetensors``).
    :param batch_size: pairs per forward pass when scoring, default 4096.
    """

    def __init__(self, path: str | os.PathLike[str], batch_size: int = 4096) -> None:
        config, _ = load_checkpoint(path)
        if config.get("output") != PROBABILITY:
            raise RewardModelError(
                f"{path}: not a cost-model checkpoint (its config.json has no "
                f'"output": "{PROBABILITY}"; a reward model is loaded with bradley-terry:PATH)'
            )
        super().__init__(path, batch_size=batch_size)

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        logits = super()._score(prompts, responses).astype(np.float64)
        return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)  # overflow-free sigmoid


@register_cost_model("learned-cost")
class LearnedCostModel(ClassifierCostModel):
    """The cost classifier shipped with the package, trained on the shipped simulated
    safety annotations (``safety-rlhf cost-model train`` with default settings), with its
    probability corrected for the annotators' known label noise.

    A classifier trained on labels flipped with probability ``f`` (the annotator's
    ``flip_rate``, 0.1) learns ``p = f + (1 - 2f) q`` where ``q`` is the probability that
    the response is harmful: even a plain refusal scores about ``f``, so a cost limit
    below ``f`` could never be met. The cost is the corrected estimate
    ``clip((p - f) / (1 - 2f), 0, 1)`` (a monotone map that keeps 0.5 at 0.5, so accuracy
    and AUC are unchanged). ``classifier:PATH`` gives a checkpoint's raw probability.
    """

    #: Flip rate of the shipped annotations (``SafetyAnnotatorConfig().flip_rate``).
    LABEL_NOISE = SafetyAnnotatorConfig().flip_rate

    def __init__(self, batch_size: int = 4096) -> None:
        super().__init__(LEARNED_COST_PATH, batch_size=batch_size)

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        p = super()._score(prompts, responses).astype(np.float64)
        f = self.LABEL_NOISE
        return np.clip((p - f) / (1.0 - 2.0 * f), 0.0, 1.0).astype(np.float32)


def roc_auc(scores: Sequence[float] | np.ndarray, truth: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a
    random negative, ties counting one half (the Mann-Whitney U statistic).

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(truth, dtype=bool)
    pos, neg = s[t], s[~t]
    if not len(pos) or not len(neg):
        raise ValueError("roc_auc needs at least one positive and one negative")
    order = np.sort(neg)
    below = np.searchsorted(order, pos, side="left")
    ties = np.searchsorted(order, pos, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(pos) * len(neg)))


def cost_model_metrics(model: RewardModel, prompt_set: PromptSet) -> dict[str, float]:
    """How well ``model`` predicts the gold cost on every (prompt, strategy) of a split.

    :return: ``accuracy`` (cost >= 0.5 read as harmful), ``auc`` (:func:`roc_auc`),
        ``recall`` (share of gold-harmful responses flagged), ``false_flags`` (share of
        harmless responses flagged), ``lookalike_false_flags`` and ``twin_false_flags``
        (share of answers to benign look-alikes, to the benign twins of harmful topics,
        flagged; ``nan`` without such prompts), ``mean_cost`` and the counts ``pairs`` and
        ``harmful``.
    """
    n = len(prompt_set)
    prompts = [p for p in prompt_set.prompts for _ in Strategy]
    responses = [r for p in prompt_set.prompts for r in render_responses(p)]
    columns = {k: [v for v in vs for _ in Strategy] for k, vs in prompt_set.columns().items()}
    scores = model.score(prompts, responses, **columns).astype(np.float64)
    truth = (cost_table(prompt_set.labels) > 0.5).reshape(-1)
    flagged = scores >= 0.5
    cats = np.repeat(np.asarray(prompt_set.categories), len(Strategy))
    answered = np.tile([s in ANSWERED for s in Strategy], n)

    def share(mask: np.ndarray) -> float:
        return float(flagged[mask].mean()) if mask.any() else float("nan")

    return {
        "accuracy": float((flagged == truth).mean()),
        "auc": roc_auc(scores, truth),
        "recall": float(flagged[truth].mean()),
        "false_flags": float(flagged[~truth].mean()),
        "lookalike_false_flags": share((cats == "lookalike") & answered),
        "twin_false_flags": share((cats == "twin") & answered),
        "mean_cost": float(scores.mean()),
        "pairs": float(len(scores)),
        "harmful": float(truth.sum()),
    }
