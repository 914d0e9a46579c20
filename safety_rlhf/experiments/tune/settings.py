"""What ``safety-rlhf tune`` is asked (:class:`TuneConfig`), what defines its objective
(:class:`StudySettings`, recorded in the study), and the Optuna storage it keeps trials in.

Optuna is an optional extra (``pip install "safety-rlhf-gym[tune]"``), imported only by
:func:`import_optuna`, when the command runs.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from safety_rlhf.agents.algorithms import ALGORITHMS
from safety_rlhf.data.output_paths import check_output_file
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.ray_backend import BACKENDS
from safety_rlhf.reward.registry import make_reward_model

__all__ = [
    "HEARTBEAT_GRACE",
    "HEARTBEAT_INTERVAL",
    "TUNE_INSTALL",
    "StudySettings",
    "TuneConfig",
    "check_storage_url",
    "import_optuna",
    "open_storage",
    "shown_url",
    "study_settings",
]

#: The pip command that installs Optuna, named by every error about a missing Optuna.
TUNE_INSTALL = 'pip install "safety-rlhf-gym[tune]"'

#: Seconds between a running trial's heartbeats in the storage, and seconds without one
#: after which the next trial to start marks it failed (its command was killed).
HEARTBEAT_INTERVAL = 10
HEARTBEAT_GRACE = 30

#: Database schemes Optuna's RDB storage (SQLAlchemy) is used with here.
_SCHEMES = ("sqlite", "postgresql", "mysql")


def import_optuna() -> ModuleType:
    """The ``optuna`` module.

    :raises ValueError: naming :data:`TUNE_INSTALL` when Optuna is not installed.
    """
    try:
        import optuna  # an optional extra: imported only when tune runs
    except ImportError:
        raise ValueError(f"tune needs Optuna, not installed here: {TUNE_INSTALL}") from None
    return optuna


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
    """CPUs each Ray task requests (with ``backend="ray"``)."""
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
        return f"sqlite:///{(self.out_dir() / 'study.db').absolute()}"

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


def study_settings(cfg: TuneConfig) -> StudySettings:
    """Check ``cfg`` and resolve the settings of its objective.

    :param cfg: what the command was asked.

    :raises ValueError: one line naming the flag, for an unknown algorithm, env or reward
        model, a count out of range, or fewer evaluations per run than ``last_evals``.
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
    if cfg.address is not None and cfg.backend != "ray":
        raise ValueError("--address names a Ray cluster: use it with --backend ray")
    if cfg.timesteps is not None:
        _whole("timesteps", cfg.timesteps, 1)
    # the env id, the YAML entry and the budget, as train resolves them
    run, _ = train_module.resolve(
        train_module.TrainConfig(algo=algo, env=cfg.env, timesteps=cfg.timesteps)
    )
    timesteps = int(run["n_timesteps"])
    eval_freq = cfg.eval_freq if cfg.eval_freq is not None else max(timesteps // 10, 1)
    _whole("eval_freq", eval_freq, 1, timesteps)
    # evaluations every eval_freq steps before the end, and one at the end
    evaluations = math.ceil(timesteps / eval_freq)
    if evaluations < cfg.last_evals:
        raise ValueError(
            f"--last-evals {cfg.last_evals}: a run of {timesteps} steps evaluated every "
            f"{eval_freq} has only {evaluations} evaluation(s); lower --eval-freq"
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


def shown_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``.

    :param url: a database URL.

    >>> shown_url("postgresql://tuner:secret@db:5432/studies")
    'postgresql://tuner:***@db:5432/studies'
    """
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///PATH`` URL (``None`` for other schemes)."""
    scheme = url.split("://", 1)[0]
    if scheme != "sqlite":
        return None
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    if path in ("", ":memory:"):
        raise ValueError(
            f"--storage {url}: an in-memory database cannot be resumed or shared; name a "
            "file, e.g. sqlite:///tune/study.db"
        )
    return path


def check_storage_url(url: str, folder_may_be_missing: bool = False) -> None:
    """Refuse a storage URL that cannot hold a study, before anything is written.

    :param url: the ``--storage`` URL.
    :param folder_may_be_missing: the SQLite file's folder is made by the command (the
        default storage in a new output folder).
    :raises ValueError: one line naming ``--storage``: a scheme other than SQLite,
        PostgreSQL or MySQL, an in-memory SQLite database, a SQLite file in a missing
        folder, or at a path that is a folder, a link or inside the package.
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme.split("+", 1)[0] not in _SCHEMES:
        raise ValueError(
            f"--storage {shown_url(url)}: expected a database URL (sqlite:///PATH on one "
            "machine, postgresql://USER@HOST/DB for a cluster)"
        )
    path = _sqlite_path(url)
    if path is None:
        return
    check_output_file(path, "--storage")
    folder = Path(path).parent
    if not folder_may_be_missing and not folder.is_dir():
        raise ValueError(f"--storage {url}: folder {folder} does not exist")


def open_storage(optuna: ModuleType, url: str) -> Any:
    """Optuna's RDB storage at ``url`` with heartbeats (:data:`HEARTBEAT_INTERVAL`,
    :data:`HEARTBEAT_GRACE`): a trial whose command was killed is marked failed by the
    next trial that starts once its heartbeat is :data:`HEARTBEAT_GRACE` seconds old.

    :param optuna: the ``optuna`` module.
    :param url: the storage URL (checked by :func:`check_storage_url` first).

    :raises ValueError: one line naming ``--storage`` when the database cannot be opened.
    """
    check_storage_url(url)
    # SQLite: wait for the lock (parallel Ray trials write to one file) instead of failing
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=HEARTBEAT_INTERVAL,
                grace_period=HEARTBEAT_GRACE,
            )
    except Exception as exc:  # SQLAlchemy's errors, a missing database driver
        reason = " ".join(str(exc).split("\n")[0].split())
        raise ValueError(
            f"--storage {shown_url(url)}: cannot open the database ({type(exc).__name__}: {reason})"
        ) from None
