"""What ``safety-rlhf tune`` is asked (:class:`TuneConfig`) and what defines its objective
(:class:`StudySettings`, recorded in the study); its storage is :mod:`.storage`.

Optuna is an optional extra (``pip install "safety-rlhf-gym[tune]"``), imported only by
:func:`import_optuna`, when the command runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from safety_rlhf.agents.algorithms import ALGORITHMS
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.extras import import_extra
from safety_rlhf.experiments.ray_backend import BACKENDS
from safety_rlhf.experiments.tune.storage import sqlite_url
from safety_rlhf.reward.registry import make_reward_model

__all__ = [
    "TUNE_INSTALL",
    "StudySettings",
    "TuneConfig",
    "count_evaluations",
    "import_optuna",
    "study_settings",
]

#: The pip command that installs Optuna, named by every error about a missing Optuna.
TUNE_INSTALL = 'pip install "safety-rlhf-gym[tune]"'


def import_optuna() -> ModuleType:
    """The ``optuna`` module.

    :raises ValueError: naming :data:`TUNE_INSTALL` when Optuna is not installed.
    """
    return import_extra("optuna", "tune", TUNE_INSTALL)


@dataclass
class TuneConfig:
    """What to tune. Every field has a command-line flag of the same name."""

    algo: str = "ppo"
    """SB3 algorithm name (see ``safety_rlhf.agents.ALGORITHMS``)."""
    env: str = "SafetyRLHF-v0"
    """Registered env id."""
    reward_model: str | None = None
    """Reward-model spec of every run; ``None`` keeps the environment's default."""
    trials: int = 20
    """Finished trials (complete or pruned) the study must hold when the command ends."""
    storage: str | None = None
    """Optuna RDB storage URL; ``None``: ``sqlite:///OUT/study.db``."""
    study_name: str | None = None
    """Study name in the storage; ``None``: ``<algo>-<env>``."""
    backend: str = "local"
    """``"local"``: trials one after another in this process; ``"ray"``: one Ray task each."""
    address: str | None = None
    """Ray cluster ``HOST:PORT`` (with ``backend="ray"``); ``None`` starts a local Ray."""
    cpus_per_trial: int = 1
    """CPUs each Ray task requests (only with ``backend="ray"``)."""
    seeds: int = 2
    """Training runs per trial, seeds ``0 .. seeds - 1``."""
    timesteps: int | None = None
    """Environment steps per run; ``None``: ``n_timesteps`` of the shipped YAML entry."""
    eval_freq: int | None = None
    """Test evaluation every this many steps; ``None``: a tenth of ``timesteps``."""
    last_evals: int = 3
    """Evaluations at the end of each run whose mean is that run's score."""
    seed: int = 0
    """Seed of the TPE sampler."""
    out: str | None = None
    """Output folder; ``None``: ``tune/<algo>`` in the working folder."""

    def out_dir(self) -> Path:
        """The output folder."""
        return Path(self.out if self.out is not None else Path("tune") / self.algo.lower())

    def storage_url(self) -> str:
        """The storage URL: ``storage``, or the SQLite file ``OUT/study.db`` (absolute)."""
        if self.storage is not None:
            return self.storage
        return sqlite_url(self.out_dir() / "study.db")

    def name(self) -> str:
        """The study name: ``study_name``, or ``<algo>-<env>``."""
        return self.study_name or f"{self.algo.lower()}-{self.env.split(':', 1)[-1]}"


@dataclass(frozen=True)
class StudySettings:
    """What defines a study's objective, stored in the study as user attributes: a study
    resumed with other settings would compare trials that measured different things."""

    algo: str
    env: str
    reward_model: str | None
    seeds: int
    timesteps: int
    eval_freq: int
    last_evals: int

    def as_attrs(self) -> dict[str, Any]:
        """The settings as study user attributes."""
        return asdict(self)

    def differences(self, attrs: dict[str, Any]) -> list[str]:
        """``"key X there, Y here"`` for every setting that differs from ``attrs``.

        :param attrs: a stored study's user attributes.
        """
        return [
            f"{key} {attrs.get(key)!r} there, {value!r} here"
            for key, value in self.as_attrs().items()
            if attrs.get(key) != value
        ]


def _whole(name: str, value: Any, low: int, high: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"--{name.replace('_', '-')} must be a whole number from {low:,} to "
                         f"{high:,}, got {value!r}")  # fmt: skip
    return value


def _check_study_name(name: str) -> None:
    if not name:
        raise ValueError("--study-name is empty; name the study, or leave the flag out "
                         "for <algo>-<env>")  # fmt: skip
    if not name.isprintable():
        raise ValueError(f"--study-name {name!r}: has a control character (a newline, a "
                         "tab); use printable characters")  # fmt: skip


def count_evaluations(timesteps: int, eval_freq: int, n_envs: int) -> int:
    """The test evaluations of a run, by the rule of the metrics callback
    (``SafetyMetricsCallback._on_step``): the step count grows by ``n_envs`` per vector
    step; an evaluation is due once ``eval_freq`` steps have passed since the last one
    (before the budget is reached), and one more comes at the end.

    :param timesteps: the run's budget.
    :param eval_freq: steps between evaluations.
    :param n_envs: parallel environments.

    >>> count_evaluations(256, 64, 8), count_evaluations(256, 60, 8)
    (4, 4)
    """
    evaluations, last = 1, 0  # the one at the end
    for steps in range(n_envs, timesteps, n_envs):  # the steps before the budget's
        if steps - last >= eval_freq:
            evaluations, last = evaluations + 1, steps
    return evaluations


def study_settings(cfg: TuneConfig) -> StudySettings:
    """Check ``cfg`` and resolve the settings of its objective.

    :param cfg: what the command was asked.

    :raises ValueError: one line naming the flag, for an unknown algorithm, env or reward
        model, a count out of range, Ray flags without ``--backend ray``, an empty study
        name or one with a control character, or fewer evaluations per run than
        ``last_evals``.
    """
    algo = cfg.algo.lower()
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {cfg.algo!r}; choose from {', '.join(ALGORITHMS)}")
    _whole("trials", cfg.trials, 1)
    _whole("seeds", cfg.seeds, 1, 1_000)
    _whole("last_evals", cfg.last_evals, 1, 10_000)
    _whole("cpus_per_trial", cfg.cpus_per_trial, 1, 1_024)
    _whole("seed", cfg.seed, 0, 2**32 - 1)
    if cfg.backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {cfg.backend!r}")
    if cfg.backend != "ray" and (cfg.address is not None or cfg.cpus_per_trial != 1):
        raise ValueError("--address and --cpus-per-trial need --backend ray")
    if cfg.study_name is not None:
        _check_study_name(cfg.study_name)
    if cfg.timesteps is not None:
        _whole("timesteps", cfg.timesteps, 1)
    # the env id, the YAML entry and the budget, as train resolves them
    run, _ = train_module.resolve(
        train_module.TrainConfig(algo=algo, env=cfg.env, timesteps=cfg.timesteps)
    )
    timesteps, n_envs = int(run["n_timesteps"]), int(run["n_envs"])
    eval_freq = cfg.eval_freq if cfg.eval_freq is not None else max(timesteps // 10, 1)
    _whole("eval_freq", eval_freq, 1, timesteps)
    evaluations = count_evaluations(timesteps, eval_freq, n_envs)
    if evaluations < cfg.last_evals:
        raise ValueError(
            f"--last-evals {cfg.last_evals}: a run of {timesteps} steps ({n_envs} env(s)) "
            f"evaluated every {eval_freq} has only {evaluations} evaluation(s); lower "
            "--eval-freq"
        )
    if cfg.reward_model is not None:
        make_reward_model(cfg.reward_model)  # an unknown spec fails here, not in every trial
    return StudySettings(
        algo=algo,
        env=cfg.env,
        reward_model=cfg.reward_model,
        seeds=cfg.seeds,
        timesteps=timesteps,
        eval_freq=eval_freq,
        last_evals=cfg.last_evals,
    )
