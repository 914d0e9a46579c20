"""Train an SB3 agent on a safety-rlhf-gym environment and report gold metrics.

A run folder ``<log_dir>/<env>__<algo>__<seed>__<time>/`` receives the TensorBoard events,
the saved model (``model.zip``), the resolved configuration with the seed (``config.yaml``),
the command line (``command.txt``), the Python, platform, package versions and git commit
(``environment.json``) and the final metrics on the train and test splits
(``metrics.json``).
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from gymnasium.envs.registration import EnvSpec, load_env_creator
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.algorithms import (
    RUN_KEYS,
    check_hyperparams,
    get_algorithm,
    load_hyperparams,
)
from safety_rlhf.agents.callbacks import EvaluationHook
from safety_rlhf.agents.checkpoints import (
    RunCheckpointCallback,
    load_replay_buffer,
    read_checkpoint,
    restore_rng,
    resume_seed,
)
from safety_rlhf.agents.env_kinds import evaluate_on_prompts, make_eval_env, make_metrics_callback
from safety_rlhf.agents.interrupts import (
    Interrupted,
    StopOnSignal,
    SubprocVecEnvIgnoringSigint,
)
from safety_rlhf.agents.kl_penalty import KLPenaltyCallback, check_kl_coef
from safety_rlhf.agents.lagrangian import (
    LagrangeMultiplier,
    LagrangianCallback,
    VecLagrangianCostWrapper,
)
from safety_rlhf.agents.native_vec_env import make_native_vec_env
from safety_rlhf.agents.reference_init import check_imitate_reference, imitate_reference
from safety_rlhf.agents.safe_load import load_model
from safety_rlhf.data.atomic_files import atomic_write_text, write_json, write_yaml
from safety_rlhf.experiments.resume import resume_config
from safety_rlhf.experiments.run_files import make_run_dir, run_environment
from safety_rlhf.experiments.train_config import (
    VEC_ENVS,
    TrainConfig,
    TrainResult,
    check_train_config,
)
from safety_rlhf.reward.cost import make_cost_model

__all__ = [
    "VEC_ENVS",
    "TrainConfig",
    "TrainResult",
    "make_train_vec_env",
    "resume_config",
    "train",
]


def _env_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    kwargs = dict(cfg.env_kwargs)
    if cfg.reward_model is not None:
        kwargs["reward_model"] = cfg.reward_model
    if cfg.cost_limit is not None:
        kwargs["cost_model"] = cfg.cost_model
    return kwargs


def _spec(env_id: str) -> EnvSpec:
    """The registered spec of ``env_id``, importing ``module`` first for ``module:id``."""
    module, _, name = env_id.rpartition(":")
    if module:
        importlib.import_module(module)
    return gym.spec(name)


def resolve_vec_env(kind: str, env_id: str) -> str:
    """``kind``, with ``"auto"`` resolved: ``"native"`` if ``env_id`` has a vector entry
    point, else ``"dummy"``."""
    if kind not in VEC_ENVS:
        raise ValueError(f"vec_env must be one of {', '.join(VEC_ENVS)}, got {kind!r}")
    if kind == "auto":
        return "native" if _spec(env_id).vector_entry_point is not None else "dummy"
    return kind


def make_train_vec_env(
    kind: str, env_id: str, n_envs: int, seed: int, env_kwargs: dict[str, Any]
) -> VecEnv:
    """The ``n_envs`` training environments, run as ``kind`` (one of :data:`VEC_ENVS`),
    worker ``i`` seeded with ``seed + i``."""
    spec = _spec(env_id)
    kind = resolve_vec_env(kind, env_id)
    if kind == "native":
        return make_native_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
    if kind == "subproc" and isinstance(spec.entry_point, str) and ":" not in env_id:
        # SubprocVecEnv's workers start afresh (forkserver) and would not know the id:
        # "package:id" makes gym.make import the registering package in each worker.
        env_id = f"{spec.entry_point.split('.')[0].split(':')[0]}:{spec.id}"
    # render_mode=None: make_vec_env would otherwise ask every env for "rgb_array".
    return make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        env_kwargs={**env_kwargs, "render_mode": None},
        vec_env_cls=SubprocVecEnvIgnoringSigint if kind == "subproc" else DummyVecEnv,
    )


def resolve(cfg: TrainConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Resolve the YAML defaults and the overrides into (run settings, algorithm kwargs).

    The YAML entry (``cfg.config`` or the shipped one) is overridden by ``cfg.hyperparams``,
    then by ``cfg.timesteps`` and ``cfg.n_envs``. A config made by :func:`resume_config`
    carries the run's saved, resolved settings in ``hyperparams``; no YAML is read then.
    """
    check_train_config(cfg)  # seed, budgets, shares, frequencies: types and ranges
    try:
        spec = _spec(cfg.env)
    except (gym.error.Error, ImportError) as exc:
        raise ValueError(f"unknown env id {cfg.env!r}: {exc}") from exc
    if not str(spec.entry_point).startswith("safety_rlhf."):  # CartPole-v1 has no prompts
        ours = [k for k, s in gym.registry.items() if str(s.entry_point).startswith("safety_rlhf.")]
        raise ValueError(f"env {cfg.env!r} is not a safety-rlhf-gym env; train takes {ours}")
    _check_env_kwargs(spec, cfg.env_kwargs)
    make_cost_model(cfg.cost_model)  # an unknown spec fails here, before the run folder
    cls = get_algorithm(cfg.algo)
    check_kl_coef(cfg.kl_coef, cls)  # off-policy algorithms have no sampling log-probability
    hyper = {} if cfg.resume is not None else load_hyperparams(cfg.algo, cfg.env, cfg.config)
    # the same check as the YAML's: types, ranges, private keys, network size
    where = "hyperparams" if cfg.resume is None else f"{cfg.resume}/config.yaml: algo_kwargs"
    hyper.update(copy.deepcopy(check_hyperparams(cls, cfg.hyperparams, where)))
    run = {
        "n_envs": int(cfg.n_envs if cfg.n_envs is not None else hyper.get("n_envs", 1)),
        "n_timesteps": int(
            cfg.timesteps if cfg.timesteps is not None else hyper.get("n_timesteps", 50_000)
        ),
        "policy": hyper.get("policy", "MlpPolicy"),
        "imitate_reference": check_imitate_reference(
            cfg.imitate_reference,
            load_env_creator(spec.entry_point)
            if isinstance(spec.entry_point, str)
            else spec.entry_point,
        ),
    }
    run["vec_env"] = resolve_vec_env(cfg.vec_env, cfg.env)
    if hyper.get("normalize"):
        raise ValueError(f"{cfg.algo}: 'normalize' is not supported by safety-rlhf train")
    algo_kwargs = {k: v for k, v in hyper.items() if k not in RUN_KEYS}
    return run, algo_kwargs


def _check_env_kwargs(spec: EnvSpec, env_kwargs: dict[str, Any]) -> None:
    """Refuse keyword arguments the env's constructor does not take (one line, not a
    ``TypeError`` from deep inside ``gym.make``)."""
    if not env_kwargs or not isinstance(spec.entry_point, str):
        return
    creator = gym.envs.registration.load_env_creator(spec.entry_point)
    params = inspect.signature(creator).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(env_kwargs) - set(params) - {"self"})
    if unknown:
        raise ValueError(
            f"env_kwargs: unknown key(s) {unknown} for {spec.id}; it takes "
            f"{', '.join(p for p in params if p != 'self')}"
        )


def train(
    cfg: TrainConfig,
    argv: list[str] | None = None,
    callbacks: Sequence[BaseCallback] = (),
    on_evaluation: EvaluationHook | None = None,
) -> TrainResult:
    """Train, save and evaluate one agent; see the module docstring for the outputs.

    With ``cfg.resume`` (a run folder), the run's own settings are read back
    (:func:`resume_config`) and training continues from its last checkpoint, in the same
    folder and on the same TensorBoard step axis, up to the run's ``n_timesteps``. Torch
    runs on ``cfg.torch_threads`` threads throughout (fitting, training, evaluation).
    ``callbacks`` run after the package's own (e.g. SB3's ``CheckpointCallback``, or the
    text studies' snapshots); they see the policy fitted to ``pi_ref`` at training start.
    ``on_evaluation(num_timesteps, metrics)`` is called after every test-split evaluation
    (every ``cfg.eval_freq`` steps and at the end; ``safety-rlhf tune`` reports and prunes
    there). Whatever stops training (an exception from a callback or ``on_evaluation``,
    SIGINT, SIGTERM) closes the training envs and the TensorBoard writer and propagates.
    """
    check_train_config(cfg)  # torch_threads among them, before it is used
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.torch_threads)
    try:
        return _train(cfg, argv, list(callbacks), on_evaluation)
    finally:
        torch.set_num_threads(threads)


def _train(
    cfg: TrainConfig,
    argv: list[str] | None,
    extra_callbacks: list[BaseCallback],
    on_evaluation: EvaluationHook | None,
) -> TrainResult:
    start = time.perf_counter()
    checkpoint: dict[str, Any] | None = None
    if cfg.resume is not None:
        checkpoint = read_checkpoint(cfg.resume)
        cfg = resume_config(cfg.resume)
    run, algo_kwargs = resolve(cfg)
    env_kwargs = _env_kwargs(cfg)
    multiplier = None  # checked before the run folder is made
    if cfg.cost_limit is not None:
        multiplier = LagrangeMultiplier(cfg.cost_limit, lr=cfg.lagrange_lr, init=cfg.lagrange_init)
    done = 0 if checkpoint is None else int(checkpoint["num_timesteps"])
    # a resumed run's envs start a new, seeded stream (resume_seed: seed and steps done)
    env_seed = cfg.seed if checkpoint is None else resume_seed(cfg.seed, done)
    set_random_seed(env_seed)
    vec_env = make_train_vec_env(run["vec_env"], cfg.env, run["n_envs"], env_seed, env_kwargs)
    if multiplier is not None:
        vec_env = VecLagrangianCostWrapper(vec_env, multiplier)
    cls = get_algorithm(cfg.algo)
    if checkpoint is not None:
        model = load_model(cls, checkpoint["model"], device=cfg.device, env=vec_env)
        if checkpoint.get("buffer"):
            load_replay_buffer(model.replay_buffer, checkpoint["buffer"])
        restore_rng(checkpoint)
        if multiplier is not None and "lagrange_multiplier" in checkpoint:
            multiplier.value = float(checkpoint["lagrange_multiplier"])
        run_dir = Path(cfg.resume or ".")
    else:
        try:  # SB3 checks the hyperparameters' values and types here (asserts, TypeErrors)
            # a copy: SB3 edits some in place (A2C puts its optimizer class in policy_kwargs)
            kwargs = copy.deepcopy(algo_kwargs)
            model = cls(
                run["policy"], vec_env, seed=cfg.seed, device=cfg.device, verbose=0, **kwargs
            )
        except (AssertionError, TypeError, ValueError) as exc:
            vec_env.close()
            source = cfg.config or f"the shipped {cfg.algo}.yml"
            raise ValueError(
                f"{source}: {cls.__name__} refused the hyperparameters: {exc}"
            ) from exc
        # Only now, with everything checked, the run folder.
        run_dir = make_run_dir(cfg.log_dir, cfg.env, cfg.algo, cfg.seed)
        command = shlex.join(["safety-rlhf", *(sys.argv[1:] if argv is None else argv)])
        atomic_write_text(run_dir / "command.txt", command + "\n")
        write_yaml(
            run_dir / "config.yaml",
            {"run": {**asdict(cfg), **run}, "algo_kwargs": algo_kwargs, "env_kwargs": env_kwargs},
        )
        write_json(run_dir / "environment.json", run_environment())
    try:  # whatever stops training, the envs and the TensorBoard writer are closed
        model.tensorboard_log = str(run_dir)
        test_env = make_eval_env(cfg.env, split="test", **env_kwargs)
        train_env = make_eval_env(cfg.env, split="train", **env_kwargs)
        if checkpoint is None and run["imitate_reference"]:
            imitate_reference(model, train_env, run["imitate_reference"], seed=cfg.seed)  # type: ignore[arg-type]
        callback = make_metrics_callback(
            test_env,
            cfg.eval_freq,
            {
                "algo": cfg.algo,
                "env": cfg.env,
                "reward_model": cfg.reward_model or "default",
                "seed": cfg.seed,
                "kl_coef": cfg.kl_coef,
                **(
                    {}
                    if multiplier is None
                    else {
                        "cost_limit": cfg.cost_limit,
                        "cost_model": cfg.cost_model,
                        "lagrange_lr": cfg.lagrange_lr,
                    }
                ),
                **{k: v for k, v in algo_kwargs.items() if k != "policy_kwargs"},
            },
            cfg.seed,
            on_evaluation,
        )
        callbacks: list[BaseCallback] = [callback]
        if multiplier is not None:
            # first, so that its last record is in SafetyMetricsCallback's final dump
            callbacks.insert(0, LagrangianCallback(multiplier))
        if cfg.kl_coef > 0:
            # first: every other callback's rollout end sees the penalised rollout
            callbacks.insert(0, KLPenaltyCallback(cfg.kl_coef))
        m = multiplier
        extra = None if m is None else lambda: {"lagrange_multiplier": m.value}
        if cfg.checkpoint_freq > 0:
            callbacks.append(
                RunCheckpointCallback(run_dir / "checkpoint", cfg.checkpoint_freq, extra)
            )
        # first: SIGINT / SIGTERM stop at a rollout boundary, with a checkpoint, before the rest
        stop = StopOnSignal(run_dir / "checkpoint", extra)
        callbacks.insert(0, stop)
        callbacks += extra_callbacks
        stop.arm()
        try:
            model.learn(
                total_timesteps=max(run["n_timesteps"] - done, 0),
                tb_log_name="tb",
                # resumed: keep counting steps, and log into the same TensorBoard folder
                reset_num_timesteps=checkpoint is None,
                progress_bar=cfg.progress_bar,
                callback=CallbackList(callbacks),
                # off-policy algorithms dump logs every log_interval *episodes* (SB3's default:
                # 4); an episode is one prompt, so 64 keeps a dump every 64 prompts
                **({"log_interval": 64} if isinstance(model, OffPolicyAlgorithm) else {}),
            )
        finally:
            stop.disarm()
    except BaseException as exc:
        if isinstance(exc, Interrupted):
            exc.run_dir = run_dir
        if getattr(model, "_logger", None) is not None:  # set once learn has begun
            model.logger.close()
        vec_env.close()
        raise
    model.save(run_dir / ".tmp-model.zip")
    os.replace(run_dir / ".tmp-model.zip", run_dir / "model.zip")
    vec_env.close()

    metrics = {
        "train": evaluate_on_prompts(model, train_env, seed=cfg.seed),
        "test": evaluate_on_prompts(model, test_env, seed=cfg.seed),
    }
    seconds = time.perf_counter() - start
    write_json(run_dir / "metrics.json", {"seconds": seconds, **metrics})
    return TrainResult(run_dir=run_dir, model=model, metrics=metrics, seconds=seconds)
