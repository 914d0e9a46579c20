"""The benchmark grid: its cells, what makes two cells the same work, and running them.

The grid is (algorithm, KL coefficient, cost limit, cost model, seed); the cost model only
varies where a cost limit is set. Every cell is one :func:`~safety_rlhf.experiments.train.train`
run in its own folder ``OUT/runs/<cell>/`` (TensorBoard events, model, config), run in
parallel worker processes (``spawn``, one torch thread each). A finished cell gets a
``done.json`` marker, written atomically last, holding its final metrics, the commit that
produced it and its *key*: everything that determines its result (every ``TrainConfig``
field but the output folder and the progress bar, the resolved hyperparameters and run
settings as :func:`~safety_rlhf.experiments.train.resolve` gives them, the package
version, the digest of the package's source and data files, and the versions of the
libraries a run depends on). A re-run reuses a finished cell only when its key is
unchanged; a cell whose key changed in what the command does not say (another YAML
value, another commit's code, another library version) runs again, while a finished cell
made with other settings of the command (``--timesteps``, ``--hyperparams``, ...) belongs
to another benchmark and is refused (use another ``--out``). A failing cell is reported
(its traceback goes to ``error.txt`` in its folder) and the others go on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safety_rlhf import __version__
from safety_rlhf.agents.algorithms import ALGORITHMS, get_algorithm
from safety_rlhf.agents.kl_penalty import check_kl_coef
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.ray_backend import BACKENDS, check_ray
from safety_rlhf.experiments.run_files import run_environment, source_digest

__all__ = [
    "DONE_FILE",
    "ERROR_FILE",
    "BenchmarkConfig",
    "Cell",
    "cell_key",
    "cell_name",
    "grid_cells",
    "software",
    "validate",
]

DONE_FILE = "done.json"
ERROR_FILE = "error.txt"

#: TrainConfig fields that do not change a cell's result: where it is written, how it
#: shows progress, and the path of the YAML (its resolved content is in the key).
_NOT_IN_KEY = frozenset({"log_dir", "progress_bar", "resume", "config"})


@dataclass
class BenchmarkConfig:
    """What to run. Every field has a command-line flag."""

    algos: list[str] = field(default_factory=lambda: ["ppo", "trpo", "a2c", "dqn"])
    """SB3 algorithm names (see ``safety_rlhf.agents.ALGORITHMS``)."""
    seeds: int = 5
    """Seeds per group: ``0 .. seeds - 1``."""
    timesteps: int | None = None
    """Environment steps per run; ``None`` takes ``n_timesteps`` from each algorithm's YAML."""
    reward_model: str | None = None
    """Reward-model spec; ``None`` keeps the environment's default."""
    env: str = "SafetyRLHF-v0"
    """Registered env id."""
    kl_coefs: list[float] = field(default_factory=lambda: [0.0])
    """KL penalties to the reference policy (one group per algorithm and coefficient)."""
    cost_limits: list[float | None] = field(default_factory=lambda: [None])
    """Cost limits of the Lagrangian constraint; ``None``: unconstrained."""
    cost_models: list[str] = field(default_factory=list)
    """Cost models of the constrained cells (``learned-cost``, ``gold``, ...); empty: the
    train default. Only cells with a cost limit vary over them."""
    jobs: int | None = None
    """Worker processes; ``None``: the number of CPUs; 1: run the cells in this process."""
    out: str = "experiments/results/benchmark"
    """Folder that receives ``runs/`` and the result files."""
    eval_freq: int | None = None
    """Test evaluation period in steps; ``None``: ``timesteps // 20`` (or 10,000)."""
    reps: int = 2000
    """Bootstrap resamples of the confidence intervals and performance profiles."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for ``gym.make`` (e.g. ``obs_dim``)."""
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """Overrides of every algorithm's YAML entry (each key must suit every algorithm)."""
    configs: dict[str, str] = field(default_factory=dict)
    """Algorithm -> hyperparameter YAML used instead of the shipped one."""
    backend: str = "local"
    """Where the cells run: ``"local"`` (worker processes of this machine) or ``"ray"``
    (Ray tasks; :mod:`~safety_rlhf.experiments.benchmark.ray_cells`)."""
    address: str | None = None
    """The Ray cluster to join (``HOST:PORT``); ``None`` starts a local Ray instance with
    ``jobs`` CPUs (default: the machine's). Only with ``backend="ray"``."""
    cpus_per_run: float = 1.0
    """CPUs each cell requests from Ray. Only with ``backend="ray"``."""

    def resolved_eval_freq(self) -> int:
        """The evaluation period: ``eval_freq``, or a twentieth of ``timesteps``."""
        if self.eval_freq is not None:
            return int(self.eval_freq)
        if self.timesteps is not None:
            return max(int(self.timesteps) // 20, 1)
        return 10_000


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def cell_name(
    algo: str,
    kl_coef: float,
    seed: int,
    cost_limit: float | None = None,
    cost_model: str | None = None,
) -> str:
    """The folder name of a grid cell.

    >>> cell_name("ppo", 0.0, 0), cell_name("a2c", 0.01, 4)
    ('ppo__kl0__seed0', 'a2c__kl0.01__seed4')
    >>> cell_name("ppo", 0.0, 1, cost_limit=0.05, cost_model="gold")
    'ppo__kl0__cost0.05-gold__seed1'
    """
    cost = ""
    if cost_limit is not None:
        cost = f"__cost{cost_limit:g}" + ("" if cost_model is None else f"-{_slug(cost_model)}")
    return f"{algo}__kl{kl_coef:g}{cost}__seed{seed}"


@dataclass
class Cell:
    """One grid cell: its name, its training run and its axes."""

    name: str
    train: train_module.TrainConfig
    cost_limit: float | None = None
    cost_model: str | None = None


def grid_cells(cfg: BenchmarkConfig) -> list[Cell]:
    """The cells of ``cfg``, in order: algorithm, KL coefficient, cost limit, cost model, seed."""
    runs = Path(cfg.out) / "runs"
    cells = []
    for algo in cfg.algos:
        for kl_coef in cfg.kl_coefs:
            for limit in cfg.cost_limits:
                models: list[str | None] = (
                    list(cfg.cost_models) if limit is not None and cfg.cost_models else [None]
                )
                for model in models:
                    for seed in range(cfg.seeds):
                        name = cell_name(algo, kl_coef, seed, limit, model)
                        extra: dict[str, Any] = {} if model is None else {"cost_model": model}
                        tcfg = train_module.TrainConfig(
                            algo=algo,
                            env=cfg.env,
                            reward_model=cfg.reward_model,
                            timesteps=cfg.timesteps,
                            seed=seed,
                            kl_coef=float(kl_coef),
                            config=cfg.configs.get(algo),
                            log_dir=str(runs / name),
                            progress_bar=False,
                            eval_freq=cfg.resolved_eval_freq(),
                            env_kwargs=dict(cfg.env_kwargs),
                            hyperparams=dict(cfg.hyperparams),
                            cost_limit=None if limit is None else float(limit),
                            **extra,
                        )
                        cells.append(Cell(name, tcfg, limit, model))
    return cells


def software() -> dict[str, Any]:
    """The code a cell's result depends on: package version, source digest, and the
    versions of :data:`~safety_rlhf.experiments.run_files.PACKAGES`."""
    versions = run_environment()["packages"]
    return {"safety_rlhf": __version__, "source_digest": source_digest(), "packages": versions}


def cell_key(tcfg: train_module.TrainConfig, code: Mapping[str, Any]) -> dict[str, Any]:
    """Everything that determines a cell's result (see the module docstring), as JSON data.

    :param tcfg: the cell's training run.
    :param code: :func:`software` (computed once per benchmark).
    :raises ValueError: when the run's settings do not resolve (bad YAML, unknown key, ...).
    """
    run, algo_kwargs = train_module.resolve(tcfg)
    config = {k: v for k, v in asdict(tcfg).items() if k not in _NOT_IN_KEY}
    key = {"train": config, "run": run, "algo_kwargs": algo_kwargs, "software": dict(code)}
    return json.loads(json.dumps(key, sort_keys=True, default=repr))


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths where two keys differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += differences(old.get(k), new.get(k), f"{path}.{k}" if path else k)
        return out
    return [] if old == new else [path or "(all)"]


def validate(cfg: BenchmarkConfig) -> None:
    """Refuse a bad setting of ``cfg`` before anything runs or is written.

    :raises ValueError: one line naming the setting; for the Ray backend also when Ray is
        not installed, no Ray cluster at ``cfg.address`` accepts this driver, or no node
        has ``cfg.cpus_per_run`` CPUs (:func:`~safety_rlhf.experiments.ray_backend.check_ray`).
    """
    if not cfg.algos:
        raise ValueError("no algorithm given")
    unknown = [a for a in cfg.algos if a not in ALGORITHMS]
    if unknown:
        raise ValueError(f"unknown algorithm(s) {unknown}; choose from {', '.join(ALGORITHMS)}")
    if cfg.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {cfg.seeds}")
    if not cfg.kl_coefs or any(not math.isfinite(b) or b < 0 for b in cfg.kl_coefs):
        raise ValueError(f"KL coefficients must be finite numbers >= 0, got {cfg.kl_coefs}")
    for algo in cfg.algos:  # before any cell runs: off-policy algorithms refuse kl_coef > 0
        check_kl_coef(max(cfg.kl_coefs), get_algorithm(algo))
    limits = [c for c in cfg.cost_limits if c is not None]
    if not cfg.cost_limits or any(not math.isfinite(c) or c < 0 for c in limits):
        raise ValueError(f"cost limits must be none or finite numbers >= 0, got {cfg.cost_limits}")
    if cfg.cost_models and not limits:
        raise ValueError("cost models vary only constrained cells: give a cost limit too")
    if cfg.timesteps is not None and cfg.timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {cfg.timesteps}")
    if cfg.reps < 1:
        raise ValueError(f"reps must be >= 1, got {cfg.reps}")
    axes: dict[str, Sequence[Any]] = {
        "algorithms": cfg.algos,
        "KL coefficients": cfg.kl_coefs,
        "cost limits": cfg.cost_limits,
        "cost models": cfg.cost_models,
    }
    for name, values in axes.items():
        if len(set(values)) != len(values):
            raise ValueError(f"{name} must not repeat, got {values}")
    if cfg.backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {cfg.backend!r}")
    if cfg.backend != "ray" and (cfg.address is not None or cfg.cpus_per_run != 1.0):
        raise ValueError("--address and --cpus-per-run need --backend ray")
    if not (math.isfinite(cfg.cpus_per_run) and cfg.cpus_per_run > 0):
        raise ValueError(f"cpus_per_run must be a number > 0, got {cfg.cpus_per_run}")
    stray = sorted(set(cfg.configs) - set(cfg.algos))
    if stray:
        raise ValueError(f"configs: YAML files given for algorithm(s) {stray} not in the grid")
    if cfg.backend == "ray":  # before anything is written: Ray installed, the cluster there
        check_ray(cfg.address, cfg.cpus_per_run, cfg.jobs)
