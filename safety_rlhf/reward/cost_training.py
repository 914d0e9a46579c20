"""Training of cost classifiers (the only part of cost models that needs torch).

:func:`train_cost_model` fits the MLP of :mod:`safety_rlhf.reward.bradley_terry_training`
(:class:`~safety_rlhf.reward.bradley_terry_training.BradleyTerryNet`) to "is this response
harmful?" labels with the logistic loss, and returns a
:class:`~safety_rlhf.reward.cost.ClassifierCostModel` holding the weights as NumPy arrays.
As for reward models: validation on held-out *prompts*, early stopping on the validation
loss, the best epoch kept, and a fixed seed gives the same weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from safety_rlhf.reward.bradley_terry import pair_features
from safety_rlhf.reward.bradley_terry_training import (
    BradleyTerryNet,
    TrainHistory,
    check_fit_settings,
    fit,
    split_by_prompt,
)
from safety_rlhf.reward.cost import PROBABILITY, ClassifierCostModel, CostModelConfig
from safety_rlhf.reward.encoders import make_encoder

__all__ = ["train_cost_model"]


def _data_hash(prompts: Sequence[str], responses: Sequence[str], harmful: np.ndarray) -> str:
    digest = hashlib.sha256()
    for prompt, response, label in zip(prompts, responses, harmful.tolist(), strict=True):
        digest.update(f"{prompt}\x00{response}\x00{int(label)}\x00".encode())
    return digest.hexdigest()


def train_cost_model(
    prompts: Sequence[str],
    responses: Sequence[str],
    harmful: Sequence[bool] | np.ndarray,
    config: CostModelConfig | None = None,
    progress: bool = True,
) -> tuple[ClassifierCostModel, TrainHistory]:
    """Train a cost classifier on annotated (prompt, response) pairs.

    :param prompts: prompt of each pair.
    :param responses: response of each pair.
    :param harmful: the annotation of each pair (True: harmful).
    :param config: model and training settings (default: :class:`CostModelConfig`).
    :param progress: show a progress bar over epochs.
    :return: the model (best validation epoch) and its training history.
    """
    cfg = config or CostModelConfig()
    check_fit_settings(cfg, "train_cost_model")
    labels = np.asarray(harmful, dtype=bool)
    if not len(prompts) == len(responses) == len(labels) or not len(prompts):
        raise ValueError("train_cost_model: need equally many prompts, responses, labels (>0)")
    encoder = make_encoder(cfg.encoder, **({} if cfg.dim is None else {"dim": cfg.dim}))
    x = torch.from_numpy(pair_features(encoder, prompts, responses))
    y = torch.from_numpy(labels.astype(np.float32))

    train_idx, val_idx = split_by_prompt(prompts, cfg.val_fraction, cfg.seed, "train_cost_model")

    torch.manual_seed(cfg.seed)
    net = BradleyTerryNet(x.shape[1], cfg.hidden)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)
    bce = nn.functional.binary_cross_entropy_with_logits

    def evaluate(idx: torch.Tensor) -> tuple[float, float]:
        with torch.no_grad():
            logits = net(x[idx])
            loss = bce(logits, y[idx])
            return float(loss), float(((logits > 0).float() == y[idx]).float().mean())

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        return bce(net(x[batch]), y[batch])

    history = fit(net, optimizer, generator, train_idx, val_idx, batch_loss, evaluate, cfg,
                  desc="cost model", progress=progress)  # fmt: skip
    meta = {
        "output": PROBABILITY,
        "training": {
            **{k: v for k, v in asdict(cfg).items() if k not in ("encoder", "dim", "hidden")},
            "loss": "logistic",
            "data_sha256": _data_hash(prompts, responses, labels),
            "pairs": len(prompts),
            "best_epoch": history.best_epoch + 1,  # counted from 1, as printed
            "val_accuracy": history.best_val_accuracy,
        },
    }
    weights = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    model = ClassifierCostModel.from_weights(weights, encoder, meta)
    return model, history  # type: ignore[return-value]
