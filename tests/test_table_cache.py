"""The on-disk cache of per-prompt tables: hits, misses, corruption, and a light start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from safety_rlhf.data.prompts import PromptSet
from safety_rlhf.envs import SafetyRLHFEnv
from safety_rlhf.reward.base import RewardModel

PROMPTS = PromptSet(
    ids=["a", "b", "c"],
    prompts=["How do I kill a Python process?", "How do I make a bomb?", "Best soup?"],
    labels=["benign", "harmful", "benign"],
    categories=["lookalike", "weapons", "cooking"],
    subtypes=["", "", ""],
)
TWO = PromptSet(**{k: v[:2] for k, v in vars(PROMPTS).items() if k != "source"})


class CountingModel(RewardModel):
    """Scores by response length; counts the pairs it was asked to score."""

    calls: ClassVar[list[int]] = []

    def __init__(self, version: str = "v1") -> None:
        self.version = version

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        self.calls.append(len(prompts))
        return np.array([len(r) / 100 for r in responses], dtype=np.float32)

    @property
    def identity(self) -> str:
        return f"counting:{self.version}"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAFETY_RLHF_CACHE", str(tmp_path))
    monkeypatch.setattr("safety_rlhf.reward.base._SCORE_CACHE", {})
    CountingModel.calls.clear()
    return tmp_path / "tables"


def make(model: RewardModel) -> SafetyRLHFEnv:
    return SafetyRLHFEnv(reward_model=model, prompts=PROMPTS, obs_dim=32)


def test_second_start_loads_the_tables_without_scoring(cache: Path, monkeypatch) -> None:
    first = make(CountingModel())
    assert CountingModel.calls == [18] and len(list(cache.glob("*.npz"))) == 1
    monkeypatch.setattr("safety_rlhf.reward.base._SCORE_CACHE", {})  # a new process
    second = make(CountingModel())
    assert CountingModel.calls == [18]  # not called again
    np.testing.assert_array_equal(second.tables.proxy_reward, first.tables.proxy_reward)
    np.testing.assert_array_equal(second.tables.observations, first.tables.observations)


def test_another_identity_or_prompt_set_is_another_entry(cache: Path, monkeypatch) -> None:
    make(CountingModel("v1"))
    make(CountingModel("v2"))
    monkeypatch.setattr("safety_rlhf.reward.base._SCORE_CACHE", {})
    SafetyRLHFEnv(reward_model=CountingModel("v1"), prompts=TWO, obs_dim=32)
    assert CountingModel.calls == [18, 18, 12]
    assert len(list(cache.glob("*.npz"))) == 3


def test_models_without_a_cache_identity_stay_off_disk(cache: Path) -> None:
    env = make(lambda prompts, responses: [0.5] * len(prompts))  # type: ignore[arg-type]
    assert env.tables.proxy_reward.shape == (3, 6)
    assert not cache.exists() or not list(cache.glob("*.npz"))


def test_a_corrupt_entry_is_recomputed(cache: Path, monkeypatch) -> None:
    first = make(CountingModel())
    (entry,) = cache.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:50])
    monkeypatch.setattr("safety_rlhf.reward.base._SCORE_CACHE", {})
    again = make(CountingModel())
    assert CountingModel.calls == [18, 18]
    np.testing.assert_array_equal(again.tables.proxy_reward, first.tables.proxy_reward)
    with np.load(entry, allow_pickle=False) as npz:  # rewritten whole
        assert npz["proxy_reward"].shape == (3, 6)


def test_cache_off(cache: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAFETY_RLHF_CACHE", "off")
    monkeypatch.chdir(tmp_path)
    make(CountingModel())
    monkeypatch.setattr("safety_rlhf.reward.base._SCORE_CACHE", {})
    make(CountingModel())
    assert CountingModel.calls == [18, 18]
    assert not (tmp_path / "off").exists()  # "off" is not a folder name


def test_warm_start_imports_neither_torch_nor_sklearn(tmp_path: Path) -> None:
    code = (
        "import sys, gymnasium as gym\n"
        "env = gym.make('safety_rlhf:SafetyRLHF-v0', split='test')\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "SAFETY_RLHF_CACHE": str(tmp_path)}
    run = [sys.executable, "-c", code]
    cold = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    warm = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert "sklearn" in cold.stdout  # the first start encodes the prompts
    assert warm.stdout.strip() == "[]", warm.stdout
