"""What the text studies run: one :class:`StudySettings` for the full studies and a tiny one
for ``--quick``, the studies' test prompts, and the PPO runs they share.

The studies share their runs: the PPO run of a given ``kl_coef``, seed and reward model is
the same folder (``RUNS/<tag>/``) for every command given the same ``--runs``, so
``overoptimisation``, ``samples`` and ``matched-kl`` train each run once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.data.prompts import PromptSet, load_corpus
from safety_rlhf.envs.text_env import TEXT_REWARD_MODEL, SafetyRLHFTextEnv
from safety_rlhf.experiments.text_study.ppo_curves import RunSpec
from safety_rlhf.experiments.text_study.reference_samples import study_prompts, subset

__all__ = [
    "STUDY_REWARD_MODEL",
    "StudySettings",
    "eval_env",
    "quick_settings",
    "run_spec",
    "study_prompt_set",
]

#: The reward model the studies optimise (the text env's default reward model).
STUDY_REWARD_MODEL = TEXT_REWARD_MODEL


@dataclass(frozen=True)
class StudySettings:
    """Budgets and grids of the text studies (the defaults are the committed studies').

    :param n_prompts: test prompts of the studies (a seeded subset of the test split).
    :param prompt_seed: seed of that subset (:func:`~.reference_samples.study_prompts`).
    :param samples: ``M``, responses sampled from ``pi_ref`` per prompt for best-of-n.
    :param sample_seed: seed of those samples.
    :param ns: the ``n`` of best-of-n.
    :param reward_model: the proxy (reward-model spec) of the main curves.
    :param timesteps: PPO training steps per run.
    :param snapshots: policy snapshots per run (step 0, then geometric steps to the end).
    :param eval_samples: sampled responses per prompt and snapshot.
    :param kl_coefs: ``--kl-coef`` of the over-optimisation runs (seed 0).
    :param sample_kl_coefs: ``--kl-coef`` of the ``samples`` study's runs.
    :param seeds: seeds of the ``samples`` study.
    :param rm_sizes: text preference pairs of the reward models of the size study (empty:
        none; the study's own proxy, trained on all pairs, is the last size).
    :param imitate_reference: responses every run's start is fitted to ``pi_ref`` on
        (``None``: ``safety-rlhf train``'s default).
    :param hyperparams: PPO YAML overrides of every run.
    :param env_kwargs: env arguments of every run.
    :param quick: the tiny version (``--quick``).
    """

    n_prompts: int = 300
    prompt_seed: int = 0
    samples: int = 1024
    sample_seed: int = 0
    ns: tuple[int, ...] = tuple(2**k for k in range(10))
    reward_model: str = STUDY_REWARD_MODEL
    timesteps: int = 65_536
    snapshots: int = 14
    eval_samples: int = 16
    kl_coefs: tuple[float, ...] = (0.0, 0.01, 0.05, 0.2)
    sample_kl_coefs: tuple[float, ...] = (0.0, 0.05)
    seeds: tuple[int, ...] = (0, 1, 2)
    rm_sizes: tuple[int, ...] = (1_000, 3_000, 10_000)
    imitate_reference: int | None = None
    hyperparams: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    quick: bool = False

    def describe(self) -> dict[str, Any]:
        """The settings as plain JSON values (for results.md)."""
        return json.loads(json.dumps(self.__dict__))


def quick_settings(runs: Path, reward_model: str | None = None) -> StudySettings:
    """The ``--quick`` version: 6 test prompts, 64 samples each, ``n <= 32``; PPO of 256
    steps on 2 envs from a 16-response imitation, on a prompt file of 24 train prompts written
    into ``runs`` (so that a run's final evaluations take a moment); 3 snapshots."""
    runs.mkdir(parents=True, exist_ok=True)
    train = load_corpus("train")
    rows = [
        {
            "id": train.ids[i],
            "prompt": train.prompts[i],
            "label": train.labels[i],
            "category": train.categories[i],
            "split": "train",
        }
        for i in study_prompts(train, 24, 0).tolist()
    ]
    test = study_prompt_set(6, 0)
    rows += [
        {
            "id": test.ids[i],
            "prompt": test.prompts[i],
            "label": test.labels[i],
            "category": test.categories[i],
            "split": "test",
        }
        for i in range(len(test))
    ]
    path = runs / "quick-prompts.jsonl"
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return replace(
        StudySettings(),
        n_prompts=6,
        samples=64,
        ns=(1, 2, 4, 8, 16, 32),
        reward_model=reward_model or "rule",
        timesteps=256,
        snapshots=3,
        eval_samples=1,
        kl_coefs=(0.0, 0.05),
        seeds=(0, 1),
        rm_sizes=(),
        imitate_reference=16,
        hyperparams={"n_envs": 2, "n_steps": 32, "batch_size": 32},
        env_kwargs={"prompts": str(path)},
        quick=True,
    )


def study_prompt_set(n_prompts: int, seed: int) -> PromptSet:
    """The studies' test prompts: ``n_prompts`` of the test split, drawn with ``seed``."""
    test = load_corpus("test")
    return subset(test, study_prompts(test, n_prompts, seed))


def eval_env(prompts: PromptSet, reward_model: str) -> SafetyRLHFTextEnv:
    """A text env on ``prompts`` paying ``reward_model``: what the snapshots answer."""
    return SafetyRLHFTextEnv(reward_model=reward_model, split="test", prompts=prompts)


def run_spec(settings: StudySettings, kl_coef: float, seed: int, reward_model: str) -> RunSpec:
    """The PPO run of ``kl_coef``, ``seed`` and ``reward_model`` (its tag names all three)."""
    safe_rm = "".join(c if c.isalnum() or c in "-_." else "_" for c in reward_model)[-40:]
    return RunSpec(
        tag=f"ppo_kl{kl_coef:g}_seed{seed}_{safe_rm}",
        kl_coef=float(kl_coef),
        seed=int(seed),
        reward_model=reward_model,
        timesteps=settings.timesteps,
        snapshots=settings.snapshots,
        imitate_reference=settings.imitate_reference,
        hyperparams=dict(settings.hyperparams),
        env_kwargs=dict(settings.env_kwargs),
    )
