"""Text reward models trained on the first N text preference pairs (the size study).

:func:`size_reward_models` trains, with
:func:`~safety_rlhf.reward.text_reward_training.train_text_reward_model` (the settings and
seed of ``learned-text``: the shipped strategy pairs plus the first N shipped text pairs),
one reward model per N into ``folder/text-pairs-<N>/``, or reuses one already there. The
size study's "all pairs" model is the shipped default itself (``train_text_reward_model(None,
0, ...)`` reproduces it), so it is not trained again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from safety_rlhf.reward.text_reward_model import LEARNED_TEXT_PATH
from safety_rlhf.reward.text_reward_training import train_text_reward_model

__all__ = ["heldout_accuracy", "size_reward_models"]


def size_reward_models(
    folder: Path, sizes: Sequence[int], seed: int = 0, log: Callable[[str], Any] = print
) -> dict[int, str]:
    """Text pairs -> ``bradley-terry:PATH`` spec of a model trained on that many pairs."""
    out = {}
    for n in sizes:
        path = Path(folder) / f"text-pairs-{int(n)}"
        if not (path / "config.json").is_file():
            start = time.perf_counter()
            log(f"train a text reward model on the first {n:,} text pairs -> {path}")
            train_text_reward_model(int(n), seed, path)
            log(f"  trained in {time.perf_counter() - start:.0f} s")
        out[int(n)] = f"bradley-terry:{path}"
    return out


def heldout_accuracy(spec: str) -> float | None:
    """The held-out text-pair accuracy in the ``eval.json`` of ``learned-text`` or of a
    ``bradley-terry:PATH`` folder (``None`` for other specs, or without one)."""
    if spec == "learned-text":
        path = LEARNED_TEXT_PATH / "eval.json"
    elif spec.startswith("bradley-terry:"):
        path = Path(spec.split(":", 1)[1]) / "eval.json"
    else:
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("text_heldout_accuracy")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, int | float) else None
