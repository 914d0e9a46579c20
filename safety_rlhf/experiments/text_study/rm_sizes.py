"""Reward models trained on the first N text preference pairs (the size study)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["size_reward_models"]


def size_reward_models(folder: Path, sizes: Sequence[int]) -> dict[int, str]:
    """Preference pairs -> reward-model spec of a model trained on that many pairs."""
    if sizes:
        raise ValueError("the text reward model trainer is not available yet")
    return {}
