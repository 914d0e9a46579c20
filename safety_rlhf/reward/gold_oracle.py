"""``gold``: the oracle reward model, which reads the prompt set's gold labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from safety_rlhf.reward.base import RewardModel, RewardModelError
from safety_rlhf.reward.detectors import response_style
from safety_rlhf.reward.registry import register_reward_model
from safety_rlhf.task.gold_tables import GOLD_REWARD
from safety_rlhf.task.strategies import Strategy, render_responses

__all__ = ["GoldRewardModel"]


@register_reward_model("gold")
class GoldRewardModel(RewardModel):
    """Oracle: the gold table (:data:`~safety_rlhf.task.gold_tables.GOLD_REWARD`) of the
    pair's label.

    The response's strategy is recovered from its text: exactly, when it is one of the six
    responses the environment renders for that prompt, otherwise by the label-free
    :func:`~safety_rlhf.reward.detectors.response_style` classifier. This is the upper
    bound a learned reward model is measured against; it needs the ``label`` column, so it
    cannot score unlabelled prompts.
    """

    reads_gold_columns = True

    @property
    def identity(self) -> str:
        return "gold:v1"

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
            scores[i] = GOLD_REWARD[label][_strategy(prompt, response)]
        return scores


def _strategy(prompt: str, response: str) -> Strategy:
    rendered = render_responses(prompt)
    if response in rendered:
        return Strategy(rendered.index(response))
    return response_style(prompt, response)
