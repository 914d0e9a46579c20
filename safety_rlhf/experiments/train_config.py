"""What ``safety-rlhf train`` trains (:class:`TrainConfig`, one command-line flag per field)
and what it produced (:class:`TrainResult`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safety_rlhf.agents.algorithms import show

__all__ = ["LIMITS", "VEC_ENVS", "TrainConfig", "TrainResult", "check_train_config"]

#: How ``safety-rlhf train`` can run its parallel environments.
VEC_ENVS = ("auto", "dummy", "subproc", "native")


@dataclass
class TrainConfig:
    """What to train. Every field has a command-line flag of the same name."""

    algo: str = "ppo"
    """SB3 algorithm name (see ``safety_rlhf.agents.ALGORITHMS``)."""
    env: str = "SafetyRLHF-v0"
    """Registered env id (``safety_rlhf:`` prefix optional)."""
    reward_model: str | None = None
    """Reward-model spec; ``None`` keeps the environment's default."""
    timesteps: int | None = None
    """Environment steps to train for; ``None`` takes ``n_timesteps`` from the YAML."""
    seed: int = 0
    """Seed of the agent, the environments and the sampling of prompts (``0 <= seed < 2**32``)."""
    kl_coef: float = 0.0
    """``beta`` of the KL-regularised objective ``E[r] - beta KL(pi || pi_ref)``: each
    rollout's rewards become ``r - beta (log pi(a|s) - log pi_ref(a|s))`` before advantages
    are computed (:class:`~safety_rlhf.agents.kl_penalty.KLPenaltyCallback`). On-policy
    algorithms only; ``ent_coef`` stays the YAML's."""
    n_envs: int | None = None
    """Parallel environments; ``None`` takes ``n_envs`` from the YAML."""
    config: str | None = None
    """A hyperparameter YAML (rl-zoo3 format) to use instead of the shipped one."""
    log_dir: str = "runs"
    """Folder that receives the run folder."""
    progress_bar: bool = True
    """Show a progress bar while training."""
    device: str = "cpu"
    """Torch device of the agent."""
    eval_freq: int = 10_000
    """Evaluate the greedy policy on the test split every this many steps (TensorBoard)."""
    torch_threads: int = 1
    """Torch threads while the agent learns: SB3's small networks run fastest on one, and
    more threads spin against each other when several runs share the cores."""
    vec_env: str = "auto"
    """How the ``n_envs`` environments run (one of :data:`VEC_ENVS`): ``"dummy"``
    (SB3's ``DummyVecEnv``), ``"subproc"`` (``SubprocVecEnv``), ``"native"`` (the env's
    own vector env through :class:`~safety_rlhf.agents.native_vec_env.NativeVecEnv`; the
    same steps as ``"dummy"``, so the same agent, about 14% faster with the PPO defaults)
    or ``"auto"``: native when the env id has a vector entry point, else dummy."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for ``gym.make`` (e.g. ``encoder``, ``obs_dim``)."""
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """Settings that override the hyperparameter YAML's entry (rl-zoo3's
    ``--hyperparams``): constructor arguments of the algorithm or the run keys
    ``n_envs``, ``n_timesteps``, ``policy``."""
    cost_limit: float | None = None
    """Constrain the mean episode cost (the fraction of decisions that help with a harmful
    prompt, so in ``[0, 1]``) to this limit with a Lagrange multiplier
    (``safety_rlhf.agents.lagrangian``); ``None``: unconstrained."""
    cost_model: str = "learned-cost"
    """Cost model whose score (``info["proxy_cost"]``) the ``cost_limit`` constraint
    penalises: ``"learned-cost"`` (the shipped classifier trained on simulated safety
    annotations, as Safe RLHF trains a cost model), ``"gold"`` (the gold cost: the oracle,
    an upper bound, not a learned signal) or any spec of
    :func:`~safety_rlhf.reward.cost.make_cost_model`. Used only with ``cost_limit``."""
    lagrange_lr: float = 0.5
    """Dual-ascent step size of the Lagrange multiplier (with ``cost_limit``). With the
    ``rule`` reward and a limit of 0.05 (PPO defaults, seed 0), 0.05 raised lambda only to
    0.88 in 60k steps, too little to change any decision (train cost stayed 0.196); 0.5
    brought the train cost to 0.008."""
    lagrange_init: float = 0.0
    """Initial Lagrange multiplier (with ``cost_limit``)."""
    checkpoint_freq: int = 10_000
    """Write a checkpoint (model, optimizer, replay buffer, RNG states, step count) into
    ``<run>/checkpoint/`` at the first rollout boundary after every this many steps; 0:
    none. See :mod:`safety_rlhf.agents.checkpoints`."""
    resume: str | None = None
    """A run folder to continue from its last checkpoint, with that run's own settings."""
    imitate_reference: int | None = None
    """``SafetyRLHF-Text-v0``: before RL, fit the policy to ``pi_ref`` on this many responses
    sampled from it (the supervised start of RLHF;
    :func:`~safety_rlhf.agents.reference_init.imitate_reference`); 0: start from a random
    policy. ``None``: 2,000 for the text env (at 2,000 responses and 10 epochs the fitted
    policy sampled the test split at gold success 0.540 against pi_ref's 0.551, sequence
    KL 2.8 nats), 0 for ``SafetyRLHF-v0``, which has no ``pi_ref`` to imitate."""


#: field -> (lowest, highest) of the numeric fields of :class:`TrainConfig`: whole
#: numbers for ``int`` fields, finite numbers for ``float`` ones (``None`` where allowed is
#: not checked). ``seed`` is NumPy's seed range; ``cost_limit`` is a share of decisions.
LIMITS: dict[str, tuple[float, float]] = {
    "seed": (0, 2**32 - 1),
    "timesteps": (1, 10**9),
    "n_envs": (1, 1024),
    "eval_freq": (0, 10**9),
    "checkpoint_freq": (0, 10**9),
    "torch_threads": (1, 1024),
    "imitate_reference": (0, 100_000),
    "cost_limit": (0.0, 1.0),
    "lagrange_lr": (0.0, 1e6),
    "lagrange_init": (0.0, 1e6),
}


def check_train_config(cfg: TrainConfig) -> None:
    """Refuse a numeric field of ``cfg`` of the wrong type or outside :data:`LIMITS`.

    :raises ValueError: one line naming the field, its range and the value.
    """
    for name, (low, high) in LIMITS.items():
        value = getattr(cfg, name)
        if value is None and name in ("timesteps", "n_envs", "cost_limit", "imitate_reference"):
            continue
        whole = isinstance(low, int)
        ok = isinstance(value, int) and not isinstance(value, bool)  # any size: never float()
        if isinstance(value, float) and not whole:
            ok = math.isfinite(value)
        ok = ok and low <= value <= high
        if not ok:
            kind = "a whole number" if whole else "a finite number"
            raise ValueError(f"{name} must be {kind} from {low:,} to {high:,}, got {show(value)}")


@dataclass
class TrainResult:
    """What a training run produced."""

    run_dir: Path
    model: Any
    metrics: dict[str, dict[str, float | None]]
    seconds: float
