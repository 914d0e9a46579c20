"""Shipped MiniLM embeddings of the shipped corpus, stored as 8-bit codes.

Embedding the ~13,000 corpus prompts with all-MiniLM-L6-v2 takes minutes on two CPU cores,
too long for the first ``safety-rlhf train`` on a fresh install. So the package ships them:
``minilm_embeddings.npz`` next to ``prompts.jsonl`` holds, for every prompt of the corpus
(and the few response texts the learned reward model embeds),

* ``keys``: ``uint64``, the first 8 bytes of the SHA-256 of the UTF-8 text (big-endian),
  sorted, so a look-up is a binary search and the file holds no text;
* ``codes``: ``int8 (n, 384)``, the embedding quantised per row (see :func:`quantize`);
* ``scales``: ``float32 (n,)``, each row's step.

The ``minilm`` encoder quantises *every* embedding it computes the same way (live or
shipped), so a text gets the same observation whether it came from this file or from the
model: the two can differ only where float rounding differs between machines, by one step
(at most 1/254 of a row's largest coordinate). Eight bits per coordinate keep the file
under 5 MB; the rounding error is at most half a step.

The file is read with ``numpy.load(allow_pickle=False)``; a file whose arrays have the
wrong names, shapes or dtypes is ignored (every text then goes to the model), never
trusted. ``python -m safety_rlhf.reward.shipped_embeddings`` rebuilds it.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "SHIPPED_EMBEDDINGS",
    "EmbeddingTable",
    "dequantize",
    "quantize",
    "text_keys",
]

#: The shipped table.
SHIPPED_EMBEDDINGS = Path(__file__).resolve().parent / "minilm_embeddings.npz"
_LEVELS = 127


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric 8-bit quantisation: ``codes = round(x / step)``,
    ``step = max|x| / 127`` (a zero row gets step 1).

    >>> codes, steps = quantize(np.array([[0.5, -0.25, 0.0]], dtype=np.float32))
    >>> codes.tolist(), round(float(steps[0]) * 127, 6)
    ([[127, -64, 0]], 0.5)
    """
    x = np.asarray(vectors, dtype=np.float32)
    peak = np.abs(x).max(axis=1) if x.size else np.zeros(len(x), np.float32)
    steps = np.where(peak > 0, peak / _LEVELS, 1.0).astype(np.float32)
    codes = np.clip(np.rint(x / steps[:, None]), -_LEVELS, _LEVELS).astype(np.int8)
    return codes, steps


def dequantize(codes: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The float32 vectors that :func:`quantize`'s codes stand for."""
    return codes.astype(np.float32) * np.asarray(steps, dtype=np.float32)[:, None]


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """``uint64`` keys of ``texts``: the first 8 bytes of each text's SHA-256."""
    return np.fromiter(
        (
            int.from_bytes(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:8], "big")
            for t in texts
        ),
        dtype=np.uint64,
        count=len(texts),
    )


class EmbeddingTable:
    """A read-only map from text to quantised embedding (see the module docstring).

    :param keys: sorted ``uint64`` text keys.
    :param codes: ``int8 (n, dim)``.
    :param steps: ``float32 (n,)``.
    """

    def __init__(self, keys: np.ndarray, codes: np.ndarray, steps: np.ndarray) -> None:
        self.keys, self.codes, self.steps = keys, codes, steps

    @property
    def dim(self) -> int:
        """Embedding width."""
        return int(self.codes.shape[1])

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(found, vectors)``: a boolean mask over ``texts`` and the float32 vectors of
        the texts found, in order."""
        wanted = text_keys(texts)
        pos = np.searchsorted(self.keys, wanted)
        inside = pos < len(self.keys)
        found = np.zeros(len(texts), dtype=bool)
        found[inside] = self.keys[pos[inside]] == wanted[inside]
        rows = pos[found]
        return found, dequantize(self.codes[rows], self.steps[rows])

    @classmethod
    def build(cls, texts: Sequence[str], vectors: np.ndarray) -> EmbeddingTable:
        """A table of ``texts`` (distinct) and their float vectors, quantised."""
        keys = text_keys(texts)
        if len(np.unique(keys)) != len(keys):
            raise ValueError("embedding table: duplicate texts (or a 64-bit key collision)")
        order = np.argsort(keys)
        codes, steps = quantize(np.asarray(vectors, dtype=np.float32)[order])
        return cls(keys[order], codes, steps)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save (``keys``, ``codes``, ``scales``)."""
        return {"keys": self.keys, "codes": self.codes, "scales": self.steps}

    @classmethod
    def load(cls, path: str | Path, dim: int) -> EmbeddingTable | None:
        """The table in ``path``, or ``None`` when it is missing or malformed."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return None
        if set(arrays) != {"keys", "codes", "scales"}:
            return None
        keys, codes, steps = arrays["keys"], arrays["codes"], arrays["scales"]
        n = len(keys)
        if not (
            keys.dtype == np.uint64
            and keys.shape == (n,)
            and codes.dtype == np.int8
            and codes.shape == (n, dim)
            and steps.dtype == np.float32
            and steps.shape == (n,)
            and bool(np.isfinite(steps).all())
            and bool((keys[1:] > keys[:-1]).all())
        ):
            return None
        return cls(keys, codes, steps)
