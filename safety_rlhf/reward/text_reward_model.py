"""``learned-text``: the Bradley-Terry reward model of free text, and the text env's default.

``SafetyRLHF-Text-v0`` pays, at the end of every episode, a reward model's score of the
text the policy wrote: new text at every episode, so scoring must be fast, and text that no
strategy template renders, so the model must have seen such text. ``learned-text`` is the
Bradley-Terry model of :mod:`safety_rlhf.reward.bradley_terry` with

* the prompt read by MiniLM (as ``learned`` reads it: the shipped table covers the corpus,
  other prompts are embedded once and cached),
* the response, without the restated prompt, read by the ``phrases`` encoder
  (:class:`~safety_rlhf.reward.encoders.PhraseEncoder`: how often each phrase of the
  response language occurs, unrecognised tokens, which content kinds are present, the junk
  share and the length; what they are worth, and for which prompt, is learned from the
  pairs alone): a fresh response costs a parse of at most 48 tokens,

trained on the shipped strategy preference pairs *plus* the shipped text preference pairs
(:mod:`safety_rlhf.data.text_preferences`: responses sampled from the text env's ``pi_ref``,
labelled by the simulated annotator with the gold judge as its notion of right). Its
``eval.json`` holds the pairwise accuracy on the held-out pairs of both kinds, overall and
per prompt group. It reads no gold label (``reads_gold_columns`` is false), like every
learned model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safety_rlhf.data.preferences import SHIPPED_SPLITS, load_shipped_preferences
from safety_rlhf.data.prompts import load_corpus
from safety_rlhf.reward.base import RewardModel
from safety_rlhf.reward.bradley_terry import BradleyTerryConfig, BradleyTerryRewardModel
from safety_rlhf.reward.diagnostics import (
    pairwise_accuracy_by_group,
    preference_columns,
    prompt_groups,
)
from safety_rlhf.reward.registry import register_reward_model

__all__ = [
    "LEARNED_TEXT_PATH",
    "TEXT_CONFIG",
    "LearnedTextRewardModel",
    "heldout_accuracy_by_group",
    "is_text_model",
]

#: The checkpoint behind ``"learned-text"``.
LEARNED_TEXT_PATH = Path(__file__).with_name("checkpoints") / "learned-text"

#: The settings of ``learned-text`` (``safety-rlhf reward-model train --text``): MiniLM
#: prompts, the response's phrase features (``phrases``), a (512, 128) MLP, at most 30
#: epochs; the other settings are ``learned``'s.
TEXT_CONFIG = BradleyTerryConfig(
    encoder="minilm",
    response_encoder="phrases",
    hidden=(512, 128),
    epochs=30,
)


@register_reward_model("learned-text")
class LearnedTextRewardModel(BradleyTerryRewardModel):
    """The text reward model shipped with the package (module docstring); scores the
    rendered strategies and free text alike.

    Reproduce the checkpoint (and its ``eval.json``) with::

        safety-rlhf reward-model train --text --out DIR

    which trains :data:`TEXT_CONFIG` on the shipped strategy pairs plus every shipped text
    pair (``text_preferences_train.jsonl.gz``) with seed 0;
    :func:`~safety_rlhf.reward.text_reward_training.train_text_reward_model` does the same
    from Python, also on the first ``N`` text pairs only.

    :param batch_size: pairs per forward pass when scoring, default 4096.
    """

    def __init__(self, batch_size: int = 4096) -> None:
        super().__init__(LEARNED_TEXT_PATH, batch_size=batch_size)


def is_text_model(model: RewardModel) -> bool:
    """Whether ``model`` is a Bradley-Terry model that reads the response with its own
    encoder (``learned-text`` and what ``reward-model train --text`` writes)."""
    return isinstance(model, BradleyTerryRewardModel) and model.separate_response_encoder


def heldout_accuracy_by_group(model: RewardModel, split: str = "test") -> dict[str, Any]:
    """Pairwise accuracy on shipped held-out pairs, per prompt group and overall.

    :param model: any reward model (oracles get the pairs' gold ``label`` column).
    :param split: ``"test"`` (rendered strategies, gold pairs) or ``"text-test"`` (sampled
        free text, the gold judge's pairs), default ``"test"``.
    :return: ``{group: (accuracy, pairs)}`` as
        :func:`~safety_rlhf.reward.diagnostics.pairwise_accuracy_by_group` returns it
        (groups: harmful, twin, benign everyday, look-alike, borderline; then ``"all"``).
    """
    prefs = load_shipped_preferences(split)
    corpus = [load_corpus(s) for s in ("train", "test", "jailbreak")]
    groups = prompt_groups(prefs.prompts, *corpus)
    columns = preference_columns(SHIPPED_SPLITS[split])
    return pairwise_accuracy_by_group(model, prefs, groups, **columns)
