"""scikit-learn's hashing of word n-grams, with the per-token work done once per word.

``HashingVectorizer(alternate_sign=False, norm="l2").transform`` tokenises and hashes
every n-gram of every document in Python. Profiling batch scoring of a Bradley-Terry model
on the ``hashing`` encoder showed that work as the largest cost. :class:`NgramHasher`
gives the same matrix (a test compares the two on the corpus) with less work per token:

- words come from a byte table (ASCII text; other text uses scikit-learn's token regex);
- each distinct word gets an integer id once per process, and each distinct n-gram its
  MurmurHash3 bucket (scikit-learn's ``murmurhash3_32``, seed 0) once;
- n-grams of up to three words are looked up as integer keys with NumPy
  (``searchsorted``), counted with ``np.unique`` and L2-normalised with array operations.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["NgramHasher"]

#: scikit-learn's default ``token_pattern``: runs of two or more word characters.
TOKEN = re.compile(r"(?u)\b\w\w+\b")
#: Every byte but the ASCII word characters (``\w``) becomes a space.
_ASCII_WORDS = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or chr(c) == "_") else 32 for c in range(256)
)
_ID_BITS = 21  # word ids per key slot: n-grams of up to 3 words fit in an int64
_MAX_FAST_N = 3


def tokens(text: str) -> list[bytes]:
    """The words of ``text`` as scikit-learn's ``word`` analyzer finds them (lower case,
    runs of two or more word characters), UTF-8 encoded."""
    lowered = text.lower()
    if lowered.isascii():  # a byte table instead of the regex: about 3x faster
        return [w for w in lowered.encode().translate(_ASCII_WORDS).split() if len(w) > 1]
    return [w.encode() for w in TOKEN.findall(lowered)]


class _Vocabulary:
    """Word ids, shared by every hasher in the process."""

    def __init__(self) -> None:
        self.ids: dict[bytes, int] = {}
        self.words: list[bytes] = []

    def lookup(self, words: list[bytes]) -> np.ndarray:
        ids = np.fromiter(map(self.ids.get, words, itertools.repeat(-1)), np.int64, len(words))
        for i in np.flatnonzero(ids < 0).tolist():
            word = words[i]
            found = self.ids.get(word)
            if found is None:
                found = self.ids[word] = len(self.words)
                self.words.append(word)
            ids[i] = found
        return ids


_VOCABULARY = _Vocabulary()


class NgramHasher:
    """Hash the word n-grams of texts into ``dim`` buckets, as scikit-learn does.

    :param dim: number of buckets.
    :param ngram_range: ``(low, high)`` n-gram sizes.
    """

    def __init__(self, dim: int, ngram_range: tuple[int, int]) -> None:
        self.dim = int(dim)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        # per n: sorted integer keys of the n-grams seen so far, and their buckets
        self._keys = {n: np.empty(0, np.int64) for n in range(1, _MAX_FAST_N + 1)}
        self._buckets = {n: np.empty(0, np.int64) for n in range(1, _MAX_FAST_N + 1)}
        self._slow: dict[tuple[bytes, ...], int] = {}
        self._murmurhash: Any = None

    def transform(self, texts: Sequence[str], l2: bool = True) -> Any:
        """L2-normalised n-gram counts (``l2=False``: the counts themselves, as
        ``HashingVectorizer(norm=None)`` gives them), a float32 SciPy CSR matrix
        ``(len(texts), dim)``."""
        from scipy.sparse import csr_matrix

        per_text = [tokens(t) for t in texts]
        counts = np.fromiter(map(len, per_text), np.int64, len(per_text))
        words = list(itertools.chain.from_iterable(per_text))
        ids = _VOCABULARY.lookup(words)
        row = np.repeat(np.arange(len(per_text)), counts)
        left = np.repeat(np.cumsum(counts), counts) - np.arange(len(words))  # words to text end
        cells = []  # row * dim + bucket of every n-gram
        low, high = self.ngram_range
        for n in range(low, high + 1):
            start = np.flatnonzero(left >= n)  # positions where an n-gram starts
            if n <= _MAX_FAST_N and len(_VOCABULARY.words) < 2**_ID_BITS:
                buckets = self._fast_buckets(n, ids, start)
            else:
                buckets = self._slow_buckets(n, words, start)
            cells.append(row[start] * self.dim + buckets)
        cell, count = np.unique(np.concatenate(cells), return_counts=True)
        rows = cell // self.dim
        if l2:
            # L2 norm per row in float64, then float32, as sklearn's normalize does for float32
            norm = np.sqrt(np.bincount(rows, weights=count.astype(np.float64) ** 2))
            data = (count / norm[rows]).astype(np.float32)
        else:
            data = count.astype(np.float32)
        indptr = np.zeros(len(per_text) + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=len(per_text)), out=indptr[1:])
        return csr_matrix(
            (data, (cell % self.dim).astype(np.int32), indptr), shape=(len(per_text), self.dim)
        )

    def _fast_buckets(self, n: int, ids: np.ndarray, start: np.ndarray) -> np.ndarray:
        key = np.zeros(len(start), np.int64)
        for k in range(n):
            key = (key << _ID_BITS) | ids[start + k]
        known, buckets = self._keys[n], self._buckets[n]
        pos = np.searchsorted(known, key)
        hit = pos < len(known)
        hit[hit] = known[pos[hit]] == key[hit]
        if not hit.all():  # first seen: hash each new n-gram once, then merge
            new = np.unique(key[~hit])
            new_buckets = np.empty(len(new), np.int64)
            mask = (1 << _ID_BITS) - 1
            for i, k in enumerate(new.tolist()):
                parts = [(k >> (_ID_BITS * (n - 1 - j))) & mask for j in range(n)]
                new_buckets[i] = self._hash(b" ".join(_VOCABULARY.words[p] for p in parts))
            at = np.searchsorted(known, new)
            known = self._keys[n] = np.insert(known, at, new)
            buckets = self._buckets[n] = np.insert(buckets, at, new_buckets)
            pos = np.searchsorted(known, key)
        return buckets[pos]

    def _slow_buckets(self, n: int, words: list[bytes], start: np.ndarray) -> np.ndarray:
        out = np.empty(len(start), np.int64)
        for i, p in enumerate(start.tolist()):
            gram = tuple(words[p : p + n])
            bucket = self._slow.get(gram)
            if bucket is None:
                bucket = self._slow[gram] = self._hash(b" ".join(gram))
            out[i] = bucket
        return out

    def _hash(self, gram: bytes) -> int:
        """scikit-learn's bucket: ``abs(murmurhash3_32(gram, seed=0)) % dim``."""
        if self._murmurhash is None:
            from sklearn.utils import murmurhash3_32

            self._murmurhash = murmurhash3_32
        return abs(int(self._murmurhash(gram, seed=0))) % self.dim
