"""Training of Bradley-Terry reward models (the only part that needs torch).

:func:`train_bradley_terry` fits the MLP described in :mod:`safety_rlhf.reward.bradley_terry`
with torch and returns a :class:`~safety_rlhf.reward.bradley_terry.BradleyTerryRewardModel`
holding the trained weights as NumPy arrays; loading and scoring never import torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from safety_rlhf.reward.bradley_terry import (
    BradleyTerryConfig,
    BradleyTerryRewardModel,
    pair_features,
)
from safety_rlhf.reward.encoders import make_encoder

__all__ = ["BradleyTerryNet", "TrainHistory", "train_bradley_terry"]


class BradleyTerryNet(nn.Module):
    """MLP from ``[prompt features, response features]`` to a scalar reward.

    :param input_dim: size of the concatenated features (twice the encoder dimension).
    :param hidden: hidden layer sizes.
    """

    def __init__(self, input_dim: int, hidden: Sequence[int] = (256, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.input_dim = input_dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(features).squeeze(-1)


def _data_hash(prompts: Sequence[str], chosen: Sequence[str], rejected: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for row in zip(prompts, chosen, rejected, strict=True):
        for part in row:
            digest.update(part.encode())
            digest.update(b"\x00")
    return digest.hexdigest()


@dataclass
class TrainHistory:
    """Per-epoch training loss and validation accuracy, and the epoch kept."""

    train_loss: list[float]
    val_loss: list[float]
    val_accuracy: list[float]
    best_epoch: int

    @property
    def best_val_accuracy(self) -> float:
        return self.val_accuracy[self.best_epoch]


def split_by_prompt(
    prompts: Sequence[str], val_fraction: float, seed: int, who: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices ``(train, validation)``, split by prompt (a share ``val_fraction`` of the
    distinct prompts, drawn with ``numpy.random.default_rng(seed)``), so that validation
    measures unseen prompts.

    :raises ValueError: naming ``who``, if no training row is left.
    """
    rng = np.random.default_rng(seed)
    unique_prompts = list(dict.fromkeys(prompts))
    n_val = round(val_fraction * len(unique_prompts))
    val_prompts = set(rng.permutation(len(unique_prompts))[:n_val].tolist())
    prompt_id = {p: i for i, p in enumerate(unique_prompts)}
    is_val = np.array([prompt_id[p] in val_prompts for p in prompts])
    train_idx = torch.from_numpy(np.flatnonzero(~is_val))
    if not len(train_idx):
        raise ValueError(f"{who}: no training pairs left after the validation split")
    return train_idx, torch.from_numpy(np.flatnonzero(is_val))


class FitSettings(Protocol):
    """The training settings :func:`fit` reads (both model configs have them)."""

    epochs: int
    batch_size: int
    patience: int


def fit(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    train_idx: torch.Tensor,
    val_idx: torch.Tensor,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    evaluate: Callable[[torch.Tensor], tuple[float, float]],
    cfg: FitSettings,
    desc: str,
    progress: bool,
) -> TrainHistory:
    """Minibatch training with early stopping on the validation loss; ``net`` ends with
    the weights of its best epoch.

    :param batch_loss: the loss of a batch of row indices.
    :param evaluate: ``(loss, accuracy)`` on row indices (the validation rows, or the
        training rows when there are none).
    """
    from tqdm.auto import trange

    history = TrainHistory([], [], [], 0)
    best_state: dict[str, torch.Tensor] | None = None
    best_loss, stale = float("inf"), 0
    bar = trange(cfg.epochs, desc=desc, disable=not progress, leave=False)
    for _ in bar:
        net.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator)]
        total = 0.0
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            loss = batch_loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        net.eval()
        val_loss, acc = evaluate(val_idx if len(val_idx) else train_idx)
        history.train_loss.append(total / len(train_idx))
        history.val_loss.append(val_loss)
        history.val_accuracy.append(acc)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", val_acc=f"{acc:.3f}")
        # Select on validation loss: smoother than accuracy on a few hundred noisy pairs.
        if val_loss < best_loss:
            best_loss, stale = val_loss, 0
            history.best_epoch = len(history.val_accuracy) - 1
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    bar.close()
    assert best_state is not None
    net.load_state_dict(best_state)
    return history


def train_bradley_terry(
    prompts: Sequence[str],
    chosen: Sequence[str],
    rejected: Sequence[str],
    config: BradleyTerryConfig | None = None,
    progress: bool = True,
) -> tuple[BradleyTerryRewardModel, TrainHistory]:
    """Train a Bradley-Terry reward model on preference pairs.

    :param prompts: prompt of each pair.
    :param chosen: preferred response of each pair.
    :param rejected: the other response.
    :param config: model and training settings (default: :class:`BradleyTerryConfig`).
    :param progress: show a progress bar over epochs.
    :return: the model (best validation epoch) and its training history.
    """
    cfg = config or BradleyTerryConfig()
    if not len(prompts) == len(chosen) == len(rejected) or not len(prompts):
        raise ValueError("train_bradley_terry: need equally many prompts, chosen and rejected (>0)")
    encoder = make_encoder(cfg.encoder, **({} if cfg.dim is None else {"dim": cfg.dim}))
    x_c = torch.from_numpy(pair_features(encoder, prompts, chosen))
    x_r = torch.from_numpy(pair_features(encoder, prompts, rejected))

    train_idx, val_idx = split_by_prompt(prompts, cfg.val_fraction, cfg.seed, "train_bradley_terry")

    torch.manual_seed(cfg.seed)
    net = BradleyTerryNet(x_c.shape[1], cfg.hidden)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)

    def evaluate(idx: torch.Tensor) -> tuple[float, float]:
        """(Bradley-Terry loss, pairwise accuracy) on the pairs ``idx``."""
        with torch.no_grad():
            diff = net(x_c[idx]) - net(x_r[idx])
            loss = -nn.functional.logsigmoid(diff - cfg.margin).mean()
            return float(loss), float((diff > 0).float().mean())

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        r_c, r_r = net(x_c[batch]), net(x_r[batch])
        loss = -nn.functional.logsigmoid(r_c - r_r - cfg.margin).mean()
        return loss + cfg.centering * ((r_c + r_r) ** 2).mean()

    history = fit(net, optimizer, generator, train_idx, val_idx, batch_loss, evaluate, cfg,
                  desc="Bradley-Terry", progress=progress)  # fmt: skip
    net.eval()
    meta = {
        "training": {
            **{k: v for k, v in asdict(cfg).items() if k not in ("encoder", "dim", "hidden")},
            "data_sha256": _data_hash(prompts, chosen, rejected),
            "pairs": len(prompts),
            "best_epoch": history.best_epoch + 1,  # counted from 1, as printed
            "val_accuracy": history.best_val_accuracy,
        }
    }
    weights = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    return BradleyTerryRewardModel.from_weights(weights, encoder, meta), history
