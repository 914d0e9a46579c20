"""PPO runs on ``SafetyRLHF-Text-v0`` with policy snapshots spanning training, each evaluated
by sampling on the studies' test prompts.

A run is an ordinary ``safety-rlhf train`` run folder (:func:`~safety_rlhf.experiments.train.
train`), made under ``RUNS/<tag>/``; :class:`SnapshotCallback` saves the policy's weights
(NumPy arrays, no pickle) into ``<run>/snapshots/`` at training start (the policy fitted to
``pi_ref``: step 0), at the first rollout boundary after each target step of
:func:`snapshot_steps` and at the end. :func:`ensure_run` reuses a finished run of the same
settings, resumes an interrupted one from its checkpoint, or starts a new one, so a study
command that is stopped continues where it was. :func:`evaluate_snapshots` answers every
study prompt ``samples_per_prompt`` times with sampled decoding
(:func:`~safety_rlhf.agents.text_evaluation.evaluate_text_policy`, seeds ``0 .. K-1``) and
caches the figures and the per-response records next to the snapshot.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from safety_rlhf.agents.safe_load import load_model
from safety_rlhf.agents.text_evaluation import evaluate_text_policy
from safety_rlhf.data.atomic_files import atomic_writer, write_json
from safety_rlhf.data.readers import read_json
from safety_rlhf.envs.text_env import SafetyRLHFTextEnv
from safety_rlhf.experiments.train import TrainConfig, train

__all__ = [
    "RECORD_KEYS",
    "RunSpec",
    "SnapshotCallback",
    "ensure_run",
    "evaluate_snapshots",
    "run_seconds",
    "snapshot_steps",
    "summarise_records",
]

ENV_ID = "SafetyRLHF-Text-v0"
SNAPSHOTS = "snapshots"
#: Per-response fields kept from the evaluations.
RECORD_KEYS: tuple[str, ...] = (
    "prompt_id",
    "prompt",
    "label",
    "category",
    "response",
    "decision",
    "proxy_reward",
    "gold_reward",
    "is_success",
    "cost",
    "perplexity",
    "length",
    "distinct_2",
    "kl_ref",
)


def snapshot_steps(timesteps: int, count: int) -> list[int]:
    """``count`` target steps from 0 to ``timesteps``: 0, then ``count - 1`` steps spaced
    geometrically from ``T / 2^k`` to ``T`` with ``k = min(6, count - 2)`` (a run's KL grows
    fastest early on): 8 snapshots double, 14 grow by ``sqrt(2)``."""
    if count < 2:
        raise ValueError("need at least 2 snapshots (the start and the end)")
    if count == 2:
        return [0, int(timesteps)]
    k = min(6, count - 2)
    exponents = np.linspace(-k, 0, count - 1)
    return sorted({0, *(round(timesteps * 2.0**e) for e in exponents)})


class SnapshotCallback(BaseCallback):
    """Save the policy's weights at training start, after each target step (at the next
    rollout boundary) and at the end: ``folder/policy-<steps>.npz``.

    :param targets: the target steps (0: the policy as training starts).
    :param folder: where the snapshots go (default: ``snapshots/`` in the run folder, which
        ``train`` makes the model's ``tensorboard_log``).
    """

    def __init__(self, targets: Sequence[int], folder: Path | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.targets = sorted(int(t) for t in targets)

    def _save(self) -> None:
        if self.folder is None:
            self.folder = Path(str(self.model.tensorboard_log)) / SNAPSHOTS
        path = self.folder / f"policy-{self.num_timesteps}.npz"
        if path.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().numpy() for k, v in self.model.policy.state_dict().items()}
        with atomic_writer(path) as f:
            np.savez(f, **state)

    def _on_training_start(self) -> None:
        if self.num_timesteps == 0:
            self._save()
        self.targets = [t for t in self.targets if t > self.num_timesteps]

    def _on_rollout_start(self) -> None:
        if self.targets and self.num_timesteps >= self.targets[0]:
            self._save()
            self.targets = [t for t in self.targets if t > self.num_timesteps]

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self._save()


@dataclass(frozen=True)
class RunSpec:
    """One PPO run of a study.

    :param tag: its folder under the runs folder.
    :param kl_coef: ``--kl-coef``.
    :param seed: ``--seed``.
    :param reward_model: reward-model spec (``None``: the env's default).
    :param timesteps: training steps.
    :param snapshots: number of snapshots (:func:`snapshot_steps`).
    :param imitate_reference: responses the start is fitted to ``pi_ref`` on (``None``: the
        default of ``safety-rlhf train``).
    :param hyperparams: overrides of the PPO YAML (``--quick`` uses tiny ones).
    :param env_kwargs: ``gym.make`` keyword arguments (``--quick``: a small prompt file).
    """

    tag: str
    kl_coef: float
    seed: int
    reward_model: str | None
    timesteps: int
    snapshots: int = 8
    imitate_reference: int | None = None
    hyperparams: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)


STUDY_FILE = "study-run.json"


def _runs_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def ensure_run(spec: RunSpec, runs: Path, log: Any = print) -> tuple[Path, str]:
    """The run folder of ``spec`` under ``runs/<tag>/`` and what was done: a finished one
    is ``"reused"``, an interrupted one ``"resumed"`` from its last checkpoint, else a new
    run is ``"trained"``.

    :raises ValueError: if ``runs/<tag>/`` holds runs of other settings.
    """
    folder = Path(runs) / spec.tag
    wanted = json.loads(json.dumps(asdict(spec)))
    marker = folder / STUDY_FILE
    if marker.is_file() and read_json(marker, ValueError) != wanted:
        raise ValueError(f"{folder}: holds a run of other settings; delete it or use other --runs")
    targets = snapshot_steps(spec.timesteps, spec.snapshots)
    for run_dir in _runs_of(folder):
        if (run_dir / "metrics.json").is_file() and (run_dir / "model.zip").is_file():
            log(f"reuse {run_dir}")
            return run_dir, "reused"
    for run_dir in _runs_of(folder):
        if (run_dir / "checkpoint" / "state.json").is_file():
            log(f"resume {run_dir}")
            snap = SnapshotCallback(targets, run_dir / SNAPSHOTS)
            resumed = TrainConfig(resume=str(run_dir), progress_bar=False)
            return train(resumed, callbacks=[snap]).run_dir, "resumed"
    folder.mkdir(parents=True, exist_ok=True)
    write_json(marker, wanted)
    cfg = TrainConfig(
        algo="ppo",
        env=ENV_ID,
        reward_model=spec.reward_model,
        timesteps=spec.timesteps,
        seed=spec.seed,
        kl_coef=spec.kl_coef,
        imitate_reference=spec.imitate_reference,
        log_dir=str(folder),
        progress_bar=False,
        eval_freq=0,
        checkpoint_freq=max(spec.timesteps // 8, 1),
        env_kwargs=dict(spec.env_kwargs),
        hyperparams=dict(spec.hyperparams),
    )
    log(f"train {spec.tag}: kl_coef {spec.kl_coef:g}, seed {spec.seed}, {spec.timesteps:,} steps")
    result = train(cfg, argv=_train_argv(cfg), callbacks=[SnapshotCallback(targets)])
    return result.run_dir, "trained"


def run_seconds(run_dir: Path) -> float | None:
    """Wall-clock of the whole ``train`` call of a finished run (its ``metrics.json``:
    fitting to ``pi_ref``, PPO, the final evaluations; not the snapshot evaluations)."""
    try:
        value = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))["seconds"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _train_argv(cfg: TrainConfig) -> list[str]:
    """The ``safety-rlhf train`` flags of ``cfg`` (the run's ``command.txt``; the snapshots
    come from the study command, recorded in ``study-run.json``)."""
    argv = [
        "train",
        "--env",
        cfg.env,
        "--timesteps",
        str(cfg.timesteps),
        "--seed",
        str(cfg.seed),
        "--kl-coef",
        str(cfg.kl_coef),
        "--log-dir",
        cfg.log_dir,
        "--eval-freq",
        "0",
        "--checkpoint-freq",
        str(cfg.checkpoint_freq),
    ]
    if cfg.reward_model is not None:
        argv += ["--reward-model", cfg.reward_model]
    if cfg.imitate_reference is not None:
        argv += ["--imitate-reference", str(cfg.imitate_reference)]
    if cfg.env_kwargs:
        argv += ["--env-kwargs", *(f"{k}:{v}" for k, v in cfg.env_kwargs.items())]
    if cfg.hyperparams:
        argv += ["--hyperparams", *(f"{k}:{v}" for k, v in cfg.hyperparams.items())]
    return argv


def _snapshot_files(run_dir: Path) -> list[tuple[int, Path]]:
    files = (run_dir / SNAPSHOTS).glob("policy-*.npz")
    return sorted((int(p.stem.split("-")[1]), p) for p in files)


def summarise_records(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Means over responses: gold reward and success, proxy reward, exact KL, degenerate
    share, length, perplexity, distinct-2, harmful content."""

    def mean(key: str) -> float:
        return float(np.mean([float(r[key]) for r in records]))

    return {
        "gold_reward": mean("gold_reward"),
        "gold_success": float(np.mean([bool(r["is_success"]) for r in records])),
        "proxy_reward": mean("proxy_reward"),
        "kl": mean("kl_ref"),
        "degenerate": float(np.mean([r["decision"] == "degenerate" for r in records])),
        "cost": mean("cost"),
        "length": mean("length"),
        "perplexity": mean("perplexity"),
        "distinct_2": mean("distinct_2"),
    }


def evaluate_snapshots(
    run_dir: Path, env: SafetyRLHFTextEnv, samples_per_prompt: int, log: Any = print
) -> list[dict[str, Any]]:
    """Evaluate every snapshot of ``run_dir`` on ``env``'s prompts (sampled decoding, seeds
    ``0 .. samples_per_prompt - 1``), cached in ``<snapshot>.eval-<key>.json.gz``.

    :return: per snapshot, in step order: ``{"step", **summarise_records(...), "records"}``.
    """
    files = _snapshot_files(run_dir)
    if not files:
        raise ValueError(f"{run_dir}: no policy snapshots (was it trained by text-study?)")
    what = [env.prompt_set.fingerprint(), samples_per_prompt, env.reward_model.identity]
    key = hashlib.sha256(json.dumps(what).encode()).hexdigest()[:12]
    model = None
    out = []
    for step, path in files:
        cache = path.with_name(f"{path.stem}.eval-{key}.json.gz")
        if cache.is_file():
            with gzip.open(cache, "rt", encoding="utf-8") as f:
                out.append(json.load(f))
            continue
        if model is None:
            model = load_model(PPO, run_dir / "model.zip")
        with np.load(path, allow_pickle=False) as data:
            state = {k: torch.as_tensor(data[k]) for k in data.files}
        model.policy.load_state_dict(state)
        records: list[dict[str, Any]] = []
        for seed in range(samples_per_prompt):
            result = evaluate_text_policy(model, env, deterministic=False, seed=seed)
            records += [{k: r[k] for k in RECORD_KEYS} | {"sample": seed} for r in result.records]
        row = {"step": step, **summarise_records(records), "records": records}
        with atomic_writer(cache) as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(json.dumps(row).encode())
        log(
            f"  evaluated {run_dir.name} step {step:,}: gold {row['gold_reward']:+.3f}, "
            f"KL {row['kl']:.2f}"
        )
        out.append(row)
    return out
