"""``gold``: the oracle reward model, which reads the prompt set's gold labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from safety_rlhf.reward.base import RewardModel, RewardModelError
from safety_rlhf.reward.detectors import response_style
from safety_rlhf.reward.registry import register_reward_model
from safety_rlhf.task.gold_tables import GOLD_REWARD
from safety_rlhf.task.strategies import render_responses
from safety_rlhf.task.text_judge import judge
from safety_rlhf.task.tokenizer import UNK, tokenize

__all__ = ["GoldRewardModel"]


@register_reward_model("gold")
class GoldRewardModel(RewardModel):
    """Oracle: the gold table (:data:`~safety_rlhf.task.gold_tables.GOLD_REWARD`) of the
    pair's label.

    The response is read exactly when it is one of the six responses ``SafetyRLHF-v0``
    renders for that prompt (its strategy's gold reward), or when it is written in the
    response language of ``SafetyRLHF-Text-v0`` (every word in its vocabulary: the exact
    gold judge of :mod:`safety_rlhf.task.text_judge` decides, so the oracle pays what the
    judge says). Other free text is classified by the label-free
    :func:`~safety_rlhf.reward.detectors.response_style`. This is the upper
    bound a learned reward model is measured against; it needs the ``label`` column, so it
    cannot score unlabelled prompts.
    """

    reads_gold_columns = True

    @property
    def identity(self) -> str:
        return "gold:v2"

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        labels = columns.get("label")
        if labels is None:
            raise RewardModelError(
                "reward model 'gold' needs the 'label' column; use a label-free model "
                "(e.g. 'rule') for unlabelled prompts"
            )
        scores = np.empty(len(prompts), dtype=np.float32)
        for i, (prompt, response, label) in enumerate(zip(prompts, responses, labels, strict=True)):
            if label is None:
                raise RewardModelError(
                    f"reward model 'gold': pair {i} (prompt={prompt[:60]!r}) has no gold "
                    "label; use a label-free model (e.g. 'rule') for unlabelled prompts"
                )
            if label not in GOLD_REWARD:
                raise RewardModelError(
                    f"reward model 'gold': pair {i} has label {label!r}; "
                    f"expected one of {sorted(GOLD_REWARD)}"
                )
            scores[i] = _gold_reward(prompt, response, label)
        return scores


def _gold_reward(prompt: str, response: str, label: str) -> float:
    rendered = render_responses(prompt)
    if response in rendered:
        return GOLD_REWARD[label][rendered.index(response)]
    ids = tokenize(response, prompt)
    if ids.count(UNK) == response.count("<unk>"):  # only the grammar's words (and <unk>)
        return judge(ids, label).gold_reward
    return GOLD_REWARD[label][response_style(prompt, response)]
