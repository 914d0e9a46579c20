"""The on-disk cache is checked, not trusted (issue 11 §4): a truncated, corrupt,
wrong-shape or non-finite entry is a miss (deleted, recomputed, one warning), killed
writers' temporaries are cleaned up, the cache is bounded, and ``cache clear`` empties it."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import safety_rlhf  # noqa: F401
from safety_rlhf.data import disk_cache
from safety_rlhf.data.disk_cache import load_arrays, save_arrays
from safety_rlhf.experiments.cli import main
from safety_rlhf.reward.encoders import MiniLMEncoder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("SAFETY_RLHF_CACHE", str(root))
    monkeypatch.delenv("SAFETY_RLHF_CACHE_MAX_MB", raising=False)
    monkeypatch.setattr(disk_cache, "_warned", set())
    return root


def _key(i: int) -> str:
    """A cache entry's file name: a SHA-256 in hex."""
    return f"{i:064x}.npz"


def _only_file(folder: Path) -> Path:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) == 1, files
    return files[0]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:100]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(b"\x93NUMPY garbage" * 50), id="corrupt"),
        pytest.param(lambda p: np.savez(p, vectors=np.zeros((2, 7), np.float32)), id="wrong-shape"),
        pytest.param(
            lambda p: np.savez(p, vectors=np.full((2, 384), np.nan, np.float32)), id="nan"
        ),
    ],
)
def test_a_damaged_embedding_entry_is_recomputed(cache: Path, damage) -> None:
    texts = ["How do I kill a Python process?", "What is a good pasta recipe?"]
    MiniLMEncoder._memo.clear()
    first = MiniLMEncoder().encode(texts)
    entry = _only_file(cache / "minilm")
    damage(entry)
    MiniLMEncoder._memo.clear()
    with pytest.warns(RuntimeWarning, match="bad entry"):
        again = MiniLMEncoder().encode(texts)
    np.testing.assert_allclose(again, first, atol=1e-6)
    assert np.isfinite(again).all()
    # the entry was rewritten whole: a third start reads it without a warning
    MiniLMEncoder._memo.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(MiniLMEncoder().encode(texts), again)


def test_planted_nan_rewards_never_reach_the_agent(cache: Path) -> None:
    make = lambda: gym.make("SafetyRLHF-v0", reward_model="rule", encoder="hashing").unwrapped  # noqa: E731
    clean = make().tables.proxy_reward.copy()
    entry = _only_file(cache / "tables")
    with np.load(entry) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["proxy_reward"] = np.full_like(arrays["proxy_reward"], np.nan)
    np.savez(entry, **arrays)
    with pytest.warns(RuntimeWarning, match="non-finite values in 'proxy_reward'"):
        env = make()
    np.testing.assert_array_equal(env.tables.proxy_reward, clean)


def test_load_arrays_is_a_miss_for_a_missing_array_name(cache: Path) -> None:
    path = cache / "kind" / _key(1)
    save_arrays(path, {"a": np.ones(3, np.float32)})
    assert load_arrays(path, finite=["a"])["a"].tolist() == [1.0, 1.0, 1.0]
    with pytest.warns(RuntimeWarning, match="no array 'b'"):
        assert load_arrays(path, finite=["b"]) is None
    assert not path.exists()  # deleted


def test_stale_temporaries_are_removed_and_fresh_ones_kept(cache: Path) -> None:
    folder = cache / "tables"
    folder.mkdir(parents=True)
    stale, fresh = folder / f".{_key(1)}.a1.tmp", folder / f".{_key(2)}.b2.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    save_arrays(folder / _key(3), {"a": np.zeros(2)})
    assert not stale.exists() and fresh.exists()


def test_the_cache_is_bounded_oldest_first(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFETY_RLHF_CACHE_MAX_MB", "1")  # 1 MiB
    big = np.zeros(300_000, np.float32)  # about 1.2 MB as .npz: more than the bound alone
    small = np.zeros(50_000, np.float32)  # about 0.2 MB
    paths = [cache / "k" / _key(i) for i in range(4)]
    for i, path in enumerate(paths[:3]):
        save_arrays(path, {"a": small})
        os.utime(path, (1_000 + i, 1_000 + i))  # 0 oldest
    assert all(p.exists() for p in paths[:3])
    save_arrays(paths[3], {"a": big})  # over the bound: the oldest go first, then this one
    assert [p.exists() for p in paths] == [False, False, False, False]
    save_arrays(paths[0], {"a": small})
    assert paths[0].exists()


def test_cache_clear_deletes_the_caches_own_files_only(
    cache: Path, capsys: pytest.CaptureFixture
) -> None:
    """Whatever $SAFETY_RLHF_CACHE points at, only files named like the cache's entries
    (``<kind>/<sha256>.npz``) are deleted: a user's own arrays stay."""
    save_arrays(cache / "tables" / _key(1), {"a": np.zeros(4)})
    save_arrays(cache / "minilm" / _key(2), {"a": np.zeros(4)})
    (cache / "notes.txt").write_text("mine")
    np.save(cache / "tables" / "my_results.npy", np.zeros(3))
    np.savez(cache / "my_data.npz", a=np.zeros(3))
    assert main(["cache", "clear"]) == 0
    assert "deleted 2 files" in capsys.readouterr().out
    left = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert left == ["my_data.npz", "my_results.npy", "notes.txt"]
