"""Training of Bradley-Terry reward models (the only part that needs torch).

:func:`train_bradley_terry` fits the MLP described in :mod:`safety_rlhf.reward.bradley_terry`
with torch and returns a :class:`~safety_rlhf.reward.bradley_terry.BradleyTerryRewardModel`
holding the trained weights as NumPy arrays; loading and scoring never import torch.

With one encoder the pair features are built once as dense arrays. With a separate response
encoder (``response_encoder``, e.g. MiniLM prompts and ``hashing`` responses), each distinct
text is encoded once into a table and the first layer is computed side by side
(:class:`SideTable`): a sparse side through ``embedding_bag`` over its non-zero features, the
prompt side once per pair for both responses. That keeps 100k+ pairs of text with
thousands of hashed features in memory and fast on a CPU.
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
from safety_rlhf.reward.encoders import TextEncoder, make_encoder
from safety_rlhf.reward.pair_features import is_sparse, strip_restatement

__all__ = [
    "BradleyTerryNet",
    "SideTable",
    "TrainHistory",
    "check_fit_settings",
    "train_bradley_terry",
]


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

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """The MLP from the first layer's pre-activation ``h`` on."""
        return self.mlp[1:](h).squeeze(-1)


class SideTable:
    """One side (prompts or responses) of the pairs: each distinct text encoded once, and
    the first linear layer on rows of the table.

    :param encoder: the side's encoder; a sparse one (``encode_sparse``) is kept as CSR
        arrays and multiplied with ``embedding_bag``, a dense one as a float32 tensor.
    :param texts: the side's text of every pair.
    """

    def __init__(self, encoder: TextEncoder, texts: Sequence[str]) -> None:
        unique = {t: i for i, t in enumerate(dict.fromkeys(texts))}
        #: Row of the table of each pair's text.
        self.rows = torch.from_numpy(
            np.fromiter(map(unique.__getitem__, texts), np.int64, len(texts))
        )
        self.dim = encoder.dim
        self.sparse = is_sparse(encoder)
        if self.sparse:
            csr = encoder.encode_sparse(list(unique))  # type: ignore[attr-defined]
            self.indptr = torch.from_numpy(np.asarray(csr.indptr, np.int64))
            self.indices = torch.from_numpy(np.asarray(csr.indices, np.int64))
            self.data = torch.from_numpy(np.asarray(csr.data, np.float32))
        else:
            self.dense = torch.from_numpy(encoder.encode(list(unique)))

    def layer(self, pairs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``encoding @ weight.T`` for the pairs ``pairs``: ``(len(pairs), out)``.

        :param weight: ``(out, dim)``, the first layer's columns that read this side.
        """
        rows = self.rows[pairs]
        if not self.sparse:
            return self.dense[rows] @ weight.T
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        offsets = torch.cumsum(lengths, 0) - lengths
        total = int(lengths.sum())
        # position in the CSR arrays of every non-zero of the selected rows, in row order
        pos = torch.arange(total) + torch.repeat_interleave(starts - offsets, lengths)
        return nn.functional.embedding_bag(
            self.indices[pos],
            weight.T,
            offsets,
            mode="sum",
            per_sample_weights=self.data[pos],
        )


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


def check_fit_settings(cfg: FitSettings, who: str) -> None:
    """Refuse training settings :func:`fit` cannot run with, before any data is read.

    :raises ValueError: naming ``who`` and the setting, for ``epochs``, ``batch_size`` or
        ``patience`` that is not a whole number of at least 1.
    """
    for name in ("epochs", "batch_size", "patience"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{who}: {name} must be a whole number >= 1, got {value!r}")


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


def _encoders(cfg: BradleyTerryConfig) -> tuple[TextEncoder, TextEncoder | None]:
    """The prompt encoder and the separate response encoder (``None``: the same) of ``cfg``."""
    encoder = make_encoder(cfg.encoder, **({} if cfg.dim is None else {"dim": cfg.dim}))
    if cfg.response_encoder is None:
        if cfg.response_dim is not None or cfg.response_options:
            raise ValueError(
                "BradleyTerryConfig: response_dim and response_options need a response_encoder"
            )
        return encoder, None
    kwargs = {} if cfg.response_dim is None else {"dim": cfg.response_dim}
    return encoder, make_encoder(cfg.response_encoder, **kwargs, **cfg.response_options)


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
    check_fit_settings(cfg, "train_bradley_terry")
    if not len(prompts) == len(chosen) == len(rejected) or not len(prompts):
        raise ValueError("train_bradley_terry: need equally many prompts, chosen and rejected (>0)")
    encoder, response_encoder = _encoders(cfg)
    train_idx, val_idx = split_by_prompt(prompts, cfg.val_fraction, cfg.seed, "train_bradley_terry")
    torch.manual_seed(cfg.seed)
    if response_encoder is None:
        x_c = torch.from_numpy(pair_features(encoder, prompts, chosen))
        x_r = torch.from_numpy(pair_features(encoder, prompts, rejected))
        net = BradleyTerryNet(x_c.shape[1], cfg.hidden)

        def rewards(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return net(x_c[idx]), net(x_r[idx])

    else:
        side_p = SideTable(encoder, prompts)
        # row i: pair i's chosen response, row n + i: its rejected one
        pairs = zip([*prompts, *prompts], [*chosen, *rejected], strict=True)
        stripped = [strip_restatement(p, r) for p, r in pairs]
        side_r = SideTable(response_encoder, stripped)
        n = len(prompts)
        net = BradleyTerryNet(encoder.dim + response_encoder.dim, cfg.hidden)
        first = net.mlp[0]
        assert isinstance(first, nn.Linear)

        def rewards(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            w = first.weight
            h = side_p.layer(idx, w[:, : encoder.dim]) + first.bias  # once for both responses
            w_r = w[:, encoder.dim :]
            return net.head(h + side_r.layer(idx, w_r)), net.head(h + side_r.layer(idx + n, w_r))

    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)

    def evaluate(idx: torch.Tensor) -> tuple[float, float]:
        """(Bradley-Terry loss, pairwise accuracy) on the pairs ``idx``."""
        with torch.no_grad():
            diff = torch.cat([torch.sub(*rewards(chunk)) for chunk in idx.split(8192)])
            loss = -nn.functional.logsigmoid(diff - cfg.margin).mean()
            return float(loss), float((diff > 0).float().mean())

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        r_c, r_r = rewards(batch)
        loss = -nn.functional.logsigmoid(r_c - r_r - cfg.margin).mean()
        return loss + cfg.centering * ((r_c + r_r) ** 2).mean()

    history = fit(net, optimizer, generator, train_idx, val_idx, batch_loss, evaluate, cfg,
                  desc="Bradley-Terry", progress=progress)  # fmt: skip
    net.eval()
    encoders = ("encoder", "dim", "response_encoder", "response_dim", "response_options", "hidden")
    meta = {
        "training": {
            **{k: v for k, v in asdict(cfg).items() if k not in encoders},
            "data_sha256": _data_hash(prompts, chosen, rejected),
            "pairs": len(prompts),
            "best_epoch": history.best_epoch + 1,  # counted from 1, as printed
            "val_accuracy": history.best_val_accuracy,
        }
    }
    weights = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    model = BradleyTerryRewardModel.from_weights(weights, encoder, meta, response_encoder)
    return model, history
