"""What a Bradley-Terry model reads of a (prompt, response) pair, and its first layer.

A pair becomes two vectors: the prompt's, from the model's prompt encoder, and the
response's with any verbatim restatement of the prompt removed (:func:`strip_restatement`),
from its response encoder (the same encoder unless the checkpoint names another one, as
``learned-text`` does: MiniLM for the prompt, ``phrases`` for the response). The MLP's first
layer is linear, so it is computed side by side, ``h = enc_p(prompt) @ W_p +
enc_r(response) @ W_r + b`` (:func:`first_layer`): each distinct text is encoded and
multiplied once per batch, and a sparse encoder (``hashing``) multiplies only its non-zero
features (about 1 in 40).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from safety_rlhf.reward.encoders import TextEncoder

__all__ = ["first_layer", "is_sparse", "pair_features", "strip_restatement"]


def strip_restatement(prompt: str, response: str) -> str:
    """``response`` without the prompt's text, where the response restates it verbatim
    (whitespace-normalised, and also as the text env writes ``<request>``: with each double
    quote of the prompt written as a single quote)."""
    request = " ".join(prompt.split())
    if not request:
        return response
    return response.replace(request, " ").replace(request.replace('"', "'"), " ")


def is_sparse(encoder: TextEncoder) -> bool:
    """Whether ``encoder`` also encodes to a SciPy sparse matrix (``encode_sparse``)."""
    return hasattr(encoder, "encode_sparse")


def pair_features(
    encoder: TextEncoder,
    prompts: Sequence[str],
    responses: Sequence[str],
    response_encoder: TextEncoder | None = None,
) -> np.ndarray:
    """``[enc(prompt), enc_r(response without the restated prompt)]``: float32
    ``(n, encoder.dim + response_encoder.dim)``.

    :param encoder: the prompt encoder (and the response encoder when
        ``response_encoder`` is ``None``).
    :param response_encoder: the response encoder, default ``None``: ``encoder``.

    Each distinct text is encoded once (with one encoder, prompts and responses share one
    call).
    """
    stripped = [strip_restatement(p, r) for p, r in zip(prompts, responses, strict=True)]
    if response_encoder is None or response_encoder is encoder:
        unique = list(dict.fromkeys([*prompts, *stripped]))
        vectors = encoder.encode(unique) if unique else np.zeros((0, encoder.dim), np.float32)
        index = {t: i for i, t in enumerate(unique)}
        p_idx = np.fromiter((index[p] for p in prompts), dtype=np.int64, count=len(prompts))
        r_idx = np.fromiter((index[r] for r in stripped), dtype=np.int64, count=len(stripped))
        return np.concatenate([vectors[p_idx], vectors[r_idx]], axis=1)
    return np.concatenate(
        [_gathered(encoder, list(prompts)), _gathered(response_encoder, stripped)], axis=1
    )


def _gathered(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    """``encoder.encode(texts)``, encoding each distinct text once."""
    unique = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    vectors = encoder.encode(list(unique)) if unique else np.zeros((0, encoder.dim), np.float32)
    return vectors[np.fromiter(map(unique.__getitem__, texts), np.int64, len(texts))]


def _side(encoder: TextEncoder, texts: Sequence[str], weights: np.ndarray) -> np.ndarray:
    """``encoder(texts) @ weights`` row per text, each distinct text encoded and multiplied
    once; sparse encoders multiply only their non-zero features."""
    unique = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    encoded: Any = (
        encoder.encode_sparse(list(unique))  # type: ignore[attr-defined]
        if is_sparse(encoder)
        else encoder.encode(list(unique))
    )
    layer = np.asarray(encoded @ weights, dtype=np.float32)
    return layer[np.fromiter(map(unique.__getitem__, texts), np.int64, len(texts))]


def first_layer(
    encoder: TextEncoder,
    response_encoder: TextEncoder,
    prompts: Sequence[str],
    responses: Sequence[str],
    weight_t: np.ndarray,
    bias: np.ndarray,
) -> np.ndarray:
    """The first linear layer on the pair features, computed side by side.

    :param weight_t: the layer's weight, transposed: ``(encoder.dim +
        response_encoder.dim, hidden)``; its first ``encoder.dim`` rows read the prompt.
    :param bias: the layer's bias ``(hidden,)``.
    :return: float32 pre-activations ``(n, hidden)``, equal to ``pair_features(...) @
        weight_t + bias`` up to float rounding.
    """
    stripped = [strip_restatement(p, r) for p, r in zip(prompts, responses, strict=True)]
    dim = encoder.dim
    h = bias.astype(np.float32)
    h = h + _side(encoder, prompts, weight_t[:dim])
    return h + _side(response_encoder, stripped, weight_t[dim:])
