"""Training of text reward models like ``learned-text`` (needs torch), and their report.

:func:`train_text_reward_model` trains :data:`~safety_rlhf.reward.text_reward_model.TEXT_CONFIG`
on the shipped strategy preference pairs plus the first ``N`` shipped text preference pairs
and writes the checkpoint folder with its ``eval.json`` (:func:`training_report`): the
reward models of the over-optimisation study (1k, 3k, 10k and all text pairs) come from it,
and so does ``learned-text`` (``n_pairs=None``, seed 0), as
``safety-rlhf reward-model train --text`` does.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from safety_rlhf.data.atomic_files import write_json
from safety_rlhf.data.output_paths import check_output_dir, write_output_dir
from safety_rlhf.data.preferences import PreferenceSet, load_shipped_preferences
from safety_rlhf.reward.bradley_terry import (
    BradleyTerryConfig,
    BradleyTerryRewardModel,
    save_bradley_terry,
)
from safety_rlhf.reward.bradley_terry_training import TrainHistory, train_bradley_terry
from safety_rlhf.reward.text_reward_model import TEXT_CONFIG, heldout_accuracy_by_group

__all__ = [
    "fit_text_reward_model",
    "text_training_pairs",
    "train_text_reward_model",
    "training_report",
]

#: The command name recorded in the output folders (:mod:`safety_rlhf.data.output_paths`).
COMMAND = "reward-model train"


def text_training_pairs(strategy: PreferenceSet, n_pairs: int | None) -> tuple[PreferenceSet, int]:
    """``strategy``'s pairs followed by the first ``n_pairs`` shipped text pairs (``None``:
    all of them), and how many text pairs that is.

    :raises ValueError: if ``n_pairs`` is not in ``1 ..`` the number of shipped text pairs.
    """
    text = load_shipped_preferences("text-train")
    n = len(text) if n_pairs is None else int(n_pairs)
    if not 1 <= n <= len(text):
        raise ValueError(f"n_pairs must be in 1..{len(text):,} (the shipped text pairs), got {n}")
    pairs = PreferenceSet(
        [*strategy.prompts, *text.prompts[:n]],
        [*strategy.chosen, *text.chosen[:n]],
        [*strategy.rejected, *text.rejected[:n]],
        source=f"{strategy.source} + shipped:text-train[:{n}]",
    )
    return pairs, n


def _rounded(by_group: dict[str, tuple[float, int]]) -> dict[str, list[float | int]]:
    return {group: [round(acc, 6), n] for group, (acc, n) in by_group.items()}


def training_report(
    model: BradleyTerryRewardModel,
    history: TrainHistory,
    train_data: str,
    train_pairs: int,
    text_pairs: int | None = None,
) -> dict[str, Any]:
    """The ``eval.json`` of a trained reward model: training summary and held-out accuracy
    on the shipped gold test pairs; with ``text_pairs`` (a text model), also per prompt
    group and on the shipped held-out text pairs.

    :param train_data: what it was trained on (a file name or ``"shipped:train"``).
    :param train_pairs: how many pairs, text pairs included.
    :param text_pairs: how many of them are shipped text pairs (``None``: not a text model).
    """
    strategy = heldout_accuracy_by_group(model, "test")
    report: dict[str, Any] = {
        "train_data": train_data,
        "train_pairs": train_pairs,
        "encoder": model.encoder.config(),
        "epochs_run": len(history.val_accuracy),
        "best_epoch": history.best_epoch + 1,
        "val_accuracy": round(history.best_val_accuracy, 6),
        "heldout": "shipped:test",
        "heldout_pairs": strategy["all"][1],
        "heldout_accuracy": round(strategy["all"][0], 6),
    }
    if text_pairs is None:
        return report
    text = heldout_accuracy_by_group(model, "text-test")
    return {
        **report,
        "response_encoder": model.response_encoder.config(),
        "text_pairs": text_pairs,
        "heldout_by_group": _rounded(strategy),
        "text_heldout": "shipped:text-test",
        "text_heldout_pairs": text["all"][1],
        "text_heldout_accuracy": round(text["all"][0], 6),
        "text_heldout_by_group": _rounded(text),
    }


def fit_text_reward_model(
    n_pairs: int | None = None,
    seed: int = 0,
    config: BradleyTerryConfig | None = None,
    progress: bool = False,
) -> tuple[BradleyTerryRewardModel, dict[str, Any]]:
    """Train a text reward model on the shipped strategy pairs plus the first ``n_pairs``
    shipped text pairs; return it and its :func:`training_report`.

    :param n_pairs: text pairs to use, from the start of the file (``None``: all).
    :param seed: the training seed (weights, validation split, batch order), default 0.
    :param config: settings, default :data:`TEXT_CONFIG` (its ``seed`` is replaced).
    :param progress: show a progress bar over epochs.
    """
    prefs, n_text = text_training_pairs(load_shipped_preferences("train"), n_pairs)
    cfg = replace(config or TEXT_CONFIG, seed=seed)
    model, history = train_bradley_terry(
        prefs.prompts, prefs.chosen, prefs.rejected, cfg, progress=progress
    )
    model.meta["training"]["text_pairs"] = n_text
    return model, training_report(model, history, "shipped:train", len(prefs), n_text)


def train_text_reward_model(
    n_pairs: int | None,
    seed: int,
    out: str | os.PathLike[str],
    config: BradleyTerryConfig | None = None,
    progress: bool = False,
) -> Path:
    """:func:`fit_text_reward_model`, saved: ``model.safetensors``, ``config.json`` and
    ``eval.json`` in the folder ``out`` (new, empty, or an earlier output of this function
    or of ``safety-rlhf reward-model train``; checked before training).

    ``train_text_reward_model(None, 0, out)`` reproduces ``learned-text``; the studies use
    ``n_pairs`` in 1,000, 3,000, 10,000 and ``None`` with the same settings.

    :return: the checkpoint folder, loadable as ``bradley-terry:PATH``.
    """
    check_output_dir(out, COMMAND)
    model, report = fit_text_reward_model(n_pairs, seed, config, progress)

    def fill(folder: Path) -> None:
        save_bradley_terry(model, folder)
        write_json(folder / "eval.json", report)

    return write_output_dir(out, COMMAND, fill)
