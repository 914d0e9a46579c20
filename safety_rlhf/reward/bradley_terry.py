"""Bradley-Terry reward models: learned from preference pairs, saved as safetensors + JSON.

The model reads a (prompt, response) pair as two encoder vectors: the prompt's, and the
response's with any restatement of the prompt removed (so the response features say *how*
it answers, the prompt features *what* was asked). A small MLP maps their concatenation to
a scalar reward ``r``. Training minimises the Bradley-Terry loss on preference pairs,

    loss = -log sigmoid(r_chosen - r_rejected - margin) + centering * (r_chosen + r_rejected)^2

the second term (an auxiliary "reward centering" loss, as in Eisenstein et al., 2023,
*Helping or Herding?*) keeps rewards near zero, since the Bradley-Terry likelihood fixes only
differences. Loss and accuracy on a validation split (held-out *prompts*, not just pairs) are
measured each epoch; training stops early when the validation loss has not improved for
``patience`` epochs, and the best epoch's weights are kept. A fixed seed gives the same weights.

A checkpoint is a folder with ``model.safetensors`` (weights) and ``config.json`` (encoder
names and parameters, architecture, training settings and the SHA-256 of the training
data; see :mod:`safety_rlhf.reward.bradley_terry_checkpoint`). The response may be read
with another encoder than the prompt (``response_encoder``: ``learned-text`` reads the
prompt with MiniLM and the response with ``phrases``, see
:mod:`safety_rlhf.reward.text_reward_model`). ``make_reward_model("bradley-terry:PATH")``
loads one; ``"learned"`` is the checkpoint shipped with the package, trained on the shipped
preferences.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.reward.base import RewardModel, RewardModelError
from safety_rlhf.reward.bradley_terry_checkpoint import (
    FORMAT_VERSION,
    load_checkpoint,
    mlp_layers,
    rebuild_encoders,
    save_bradley_terry,
)
from safety_rlhf.reward.encoders import TextEncoder
from safety_rlhf.reward.pair_features import (
    first_layer,
    is_sparse,
    pair_features,
    strip_restatement,
)
from safety_rlhf.reward.registry import register_reward_model

__all__ = [
    "LEARNED_PATH",
    "BradleyTerryConfig",
    "BradleyTerryRewardModel",
    "LearnedRewardModel",
    "load_checkpoint",
    "mlp_layers",
    "pair_features",
    "save_bradley_terry",
    "strip_restatement",
]

#: The checkpoint behind ``"learned"``.
LEARNED_PATH = Path(__file__).with_name("checkpoints") / "learned"


@dataclass
class BradleyTerryConfig:
    """How to build and train a Bradley-Terry reward model (the ``learned`` defaults)."""

    encoder: str = "minilm"
    """Text encoder name (``hashing`` or ``minilm``) of the prompt, and of the response
    unless :attr:`response_encoder` is set."""
    dim: int | None = None
    """Encoder dimension (``None``: the encoder's default)."""
    response_encoder: str | None = None
    """Text encoder of the response (``None``: :attr:`encoder`, with :attr:`dim`)."""
    response_dim: int | None = None
    """Dimension of :attr:`response_encoder` (``None``: its default); only with
    :attr:`response_encoder`."""
    response_options: dict[str, Any] = field(default_factory=dict)
    """More keyword arguments of :attr:`response_encoder` (e.g. ``{"norm": None}`` for raw
    ``hashing`` counts); only with :attr:`response_encoder`."""
    hidden: tuple[int, ...] = (512, 128)
    """Hidden layer sizes of the MLP (on the issue-12 corpus, seed 0: 0.830 held-out gold
    pairwise accuracy, against 0.819 for (256, 64) and 0.837 for (1024, 256))."""
    epochs: int = 60
    """Most epochs to train."""
    batch_size: int = 256
    """Pairs per gradient step."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 1e-4
    """Adam weight decay (L2)."""
    margin: float = 0.0
    """Margin in the loss: chosen must beat rejected by at least this much."""
    centering: float = 1e-3
    """Weight of the reward-centering term ``(r_chosen + r_rejected)^2``."""
    val_fraction: float = 0.1
    """Share of training prompts held out for validation accuracy and early stopping."""
    patience: int = 8
    """Epochs without a lower validation loss before stopping."""
    seed: int = 0
    """Seed of the initial weights, the validation split and the batch order."""


@register_reward_model("bradley-terry")
class BradleyTerryRewardModel(RewardModel):
    """A Bradley-Terry reward model loaded from a checkpoint folder (``bradley-terry:PATH``).

    :param path: checkpoint folder (``config.json`` + ``model.safetensors``).
    :param batch_size: pairs per forward pass when scoring, default 4096.

    The checkpoint's encoders are rebuilt from its config; a checkpoint whose weights do
    not match their dimensions is refused. Scoring runs the MLP in NumPy: loading and
    scoring need no deep-learning framework (only training uses torch, see
    :mod:`safety_rlhf.reward.bradley_terry_training`), which keeps environment start-up fast.
    """

    #: The checkpoint folder this model was loaded from (``None``: built in memory).
    path: Path | None
    argument_is_path = True

    def __init__(self, path: str | os.PathLike[str], batch_size: int = 4096) -> None:
        config, state = load_checkpoint(path)
        encoder, response_encoder = rebuild_encoders(config, path)
        reader = response_encoder or encoder
        arch = config["architecture"]
        first = state.get("mlp.0.weight")
        expected = encoder.dim + reader.dim
        got = None if first is None or first.ndim != 2 else first.shape[1]
        if got != expected or arch.get("input_dim") != expected:
            sides = (
                f"encoder {encoder.name!r} with dim {encoder.dim}"
                if response_encoder is None
                else f"encoder {encoder.name!r} (dim {encoder.dim}) and response_encoder "
                f"{reader.name!r} (dim {reader.dim})"
            )
            raise RewardModelError(
                f"{path}: checkpoint expects input dimension {got} (architecture says "
                f"{arch.get('input_dim')}), but {sides} give {expected}; the checkpoint was "
                "made with a different encoder dimension"
            )
        try:
            mlp_layers(state, arch["hidden"], expected)
        except (ValueError, TypeError, KeyError) as exc:
            raise RewardModelError(f"{path}: weights do not fit the architecture: {exc}") from exc
        self._init(state, encoder, config, batch_size, response_encoder)
        self.path = Path(path)

    def _init(
        self,
        weights: dict[str, np.ndarray],
        encoder: TextEncoder,
        config: dict[str, Any],
        batch_size: int,
        response_encoder: TextEncoder | None = None,
    ) -> None:
        self.weights = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
        n_layers = len(self.weights) // 2
        self._layers = [
            (self.weights[f"mlp.{2 * i}.weight"].T.copy(), self.weights[f"mlp.{2 * i}.bias"])
            for i in range(n_layers)
        ]
        self.encoder = encoder
        #: The encoder of the response side (:attr:`encoder` unless the checkpoint names one).
        self.response_encoder = response_encoder or encoder
        self.meta = config
        self.batch_size = int(batch_size)
        self.path = None
        digest = hashlib.sha256()
        for key, value in sorted(self.weights.items()):
            digest.update(key.encode())
            digest.update(value.tobytes())
        self._weights_sha256 = digest.hexdigest()

    @classmethod
    def from_weights(
        cls,
        weights: dict[str, np.ndarray],
        encoder: TextEncoder,
        meta: dict[str, Any] | None = None,
        response_encoder: TextEncoder | None = None,
    ) -> BradleyTerryRewardModel:
        """Wrap trained weights (``mlp.0.weight``, ``mlp.0.bias``, ...) and their encoders
        (``response_encoder``: ``None`` reads the response with ``encoder`` too)."""
        model = cls.__new__(cls)
        model._init(weights, encoder, dict(meta or {}), 4096, response_encoder)
        return model

    @property
    def separate_response_encoder(self) -> bool:
        """Whether the response side has its own encoder (saved as ``response_encoder``)."""
        return self.response_encoder is not self.encoder

    @property
    def input_dim(self) -> int:
        """Size of the pair features: the prompt encoder's dimension plus the response
        encoder's."""
        return int(self._layers[0][0].shape[0])

    @property
    def hidden(self) -> list[int]:
        """Hidden layer sizes of the MLP."""
        return [int(w.shape[1]) for w, _ in self._layers[:-1]]

    def checkpoint_config(self) -> dict[str, Any]:
        """The ``config.json`` content of this model (``response_encoder`` only when the
        response has its own encoder, so older checkpoints are written unchanged)."""
        response = (
            {"response_encoder": self.response_encoder.config()}
            if self.separate_response_encoder
            else {}
        )
        reserved = ("format_version", "encoder", "response_encoder", "architecture")
        return {
            "format_version": FORMAT_VERSION,
            "encoder": self.encoder.config(),
            **response,
            "architecture": {"type": "mlp", "input_dim": self.input_dim, "hidden": self.hidden},
            **{k: v for k, v in self.meta.items() if k not in reserved},
        }

    def features(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """The dense pair features :meth:`forward` reads (:func:`pair_features`)."""
        separate = self.response_encoder if self.separate_response_encoder else None
        return pair_features(self.encoder, prompts, responses, separate)

    def forward(self, features: np.ndarray) -> np.ndarray:
        """The MLP on float32 pair features ``(n, input_dim)``: one reward per row."""
        w_t, b = self._layers[0]
        return self._head(features @ w_t + b)

    def _head(self, h: np.ndarray) -> np.ndarray:
        """The MLP from the first layer's pre-activation ``h`` on."""
        for w_t, b in self._layers[1:]:
            np.maximum(h, 0.0, out=h)
            h = h @ w_t + b
        return h[:, 0]

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        out = np.empty(len(prompts), dtype=np.float32)
        # With a sparse encoder on either side, the first layer is computed side by side
        # (only non-zero features multiplied); else on the dense features, as always.
        split = is_sparse(self.encoder) or is_sparse(self.response_encoder)
        w_t, b = self._layers[0]
        for start in range(0, len(prompts), self.batch_size):
            p, r = (
                prompts[start : start + self.batch_size],
                responses[start : start + self.batch_size],
            )
            if split:
                scores = self._head(first_layer(self.encoder, self.response_encoder, p, r, w_t, b))
            else:
                scores = self.forward(self.features(p, r))
            out[start : start + len(scores)] = scores
        return out

    @property
    def identity(self) -> str:
        encoder = json.dumps(self.encoder.config(), sort_keys=True)
        if self.separate_response_encoder:
            encoder += "+" + json.dumps(self.response_encoder.config(), sort_keys=True)
        return f"{self.name}:{self._weights_sha256}:{encoder}"

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        response = (
            f", response_encoder={self.response_encoder.name!r}"
            if self.separate_response_encoder
            else ""
        )
        return f"{type(self).__name__}(encoder={self.encoder.name!r}{response}{where})"


@register_reward_model("learned")
class LearnedRewardModel(BradleyTerryRewardModel):
    """The Bradley-Terry checkpoint shipped with the package, trained on the shipped
    simulated preferences (``safety-rlhf reward-model train`` with default settings)."""

    def __init__(self, batch_size: int = 4096) -> None:
        super().__init__(LEARNED_PATH, batch_size=batch_size)
