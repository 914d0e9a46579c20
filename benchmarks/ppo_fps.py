"""PPO training speed: SB3 frames per second on ``SafetyRLHF-v0`` vs ``CartPole-v1``.

Both envs are trained with the *same* PPO settings and network, the shipped ones for
``SafetyRLHF-v0`` (``safety_rlhf/agents/hyperparams/ppo.yml`` via
``safety_rlhf.agents.algorithms.load_hyperparams``: 8 envs, n_steps 64, batch 128, 10
epochs, lr 3e-3, gamma 0, linear heads ``net_arch: []``), so the difference is the env's
cost (and its observation size: 1,024 hashed features against CartPole's 4). ``SafetyRLHF-v0``
uses its default reward model (``learned``); torch runs on one thread, as the training CLI
sets it.

The vec env is built (not timed) in one of two ways (``--vec-env``, default both):

- ``dummy``: ``stable_baselines3.common.env_util.make_vec_env(id, n_envs=8, seed=0)``, SB3's
  ``DummyVecEnv`` of single envs (``render_mode=None``, as the training CLI);
- ``native``: the project's SB3 adapter over its native vector env,
  ``safety_rlhf.agents.native_vec_env.make_native_vec_env(env_id, n_envs, seed, env_kwargs)``.
  Until that module exists the row says so and is skipped. If the adapter does not take
  CartPole, the row's ratio is against CartPole on ``dummy``.

A third env isolates the observation's width: ``CartPole-v1`` with its 4 features
zero-padded to ``SafetyRLHF-v0``'s 1,024 (``CartPole-padded``), so the network's first layer
is the same size. Each row also gives the share of wall time spent inside the vec env's
``step``/``reset`` (the env's own cost; the rest is the agent).

After a warm-up (a throwaway PPO learning one rollout on the same env),
``PPO("MlpPolicy", env, seed=0, **settings).learn(total_timesteps=--timesteps)`` is timed;
fps = steps learned (``model.num_timesteps``, a whole number of rollouts) / seconds, the
median of ``--repeats`` fresh models.

Run (about 1 minute with the defaults)::

    python benchmarks/ppo_fps.py
    python benchmarks/ppo_fps.py --vec-env dummy --timesteps 60000 --repeats 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from _common import fmt_int, fmt_ratio, machine_line, markdown_table, median
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

import safety_rlhf  # noqa: F401  (registers SafetyRLHF-v0)
from safety_rlhf.agents.algorithms import RUN_KEYS, load_hyperparams

OURS = "SafetyRLHF-v0"
BASELINE = "CartPole-v1"
PADDED = "CartPole-padded"
VEC_ENVS = ("dummy", "native")


def vec_env_factory(kind: str) -> Callable[[str, int, int], VecEnv]:
    """A function ``(env_id, n_envs, seed) -> VecEnv`` for ``kind``; raises ImportError when
    the native adapter is not there."""
    env_kwargs: dict[str, Any] = {"render_mode": None}
    if kind == "dummy":
        return lambda env_id, n, seed: make_vec_env(
            env_id, n_envs=n, seed=seed, env_kwargs=env_kwargs
        )
    from safety_rlhf.agents.native_vec_env import make_native_vec_env  # type: ignore[import]

    return lambda env_id, n, seed: make_native_vec_env(env_id, n, seed, env_kwargs)


class TimedVecEnv(VecEnvWrapper):
    """Adds up the seconds spent in the wrapped vec env's ``reset`` and ``step``."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.seconds = 0.0

    def reset(self) -> Any:
        start = time.perf_counter()
        obs = self.venv.reset()
        self.seconds += time.perf_counter() - start
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        start = time.perf_counter()
        self.venv.step_async(actions)
        self.seconds += time.perf_counter() - start

    def step_wait(self) -> Any:
        start = time.perf_counter()
        out = self.venv.step_wait()
        self.seconds += time.perf_counter() - start
        return out


def padded_cartpole(dim: int) -> Callable[[gym.Env], gym.Env]:
    """A wrapper class-like factory: CartPole's observation zero-padded to ``dim``."""

    def wrap(env: gym.Env) -> gym.Env:
        space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        pad = dim - env.observation_space.shape[0]
        return gym.wrappers.TransformObservation(
            env, lambda obs: np.pad(obs.astype(np.float32), (0, pad)), space
        )

    return wrap


def time_learn(
    env: VecEnv, policy: str, algo_kwargs: dict[str, Any], timesteps: int, seed: int
) -> tuple[float, float]:
    """(frames per second, share of the time inside the env) of a fresh PPO's
    ``learn(timesteps)`` on ``env``."""
    timed = TimedVecEnv(env)
    model = PPO(policy, timed, seed=seed, verbose=0, device="cpu", **algo_kwargs)
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    seconds = time.perf_counter() - start
    return model.num_timesteps / seconds, timed.seconds / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=30_000, help="steps per timed learn")
    parser.add_argument("--vec-env", nargs="+", choices=VEC_ENVS, default=list(VEC_ENVS))
    parser.add_argument("--repeats", type=int, default=1, help="timed learns per cell")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    hyper = load_hyperparams("ppo", OURS)
    n_envs = int(hyper.get("n_envs", 8))
    policy = str(hyper.get("policy", "MlpPolicy"))
    algo_kwargs = {k: v for k, v in hyper.items() if k not in RUN_KEYS}
    rollout = n_envs * int(algo_kwargs.get("n_steps", 2048))
    torch.set_num_threads(1)

    fps: dict[tuple[str, str], float | None] = {}
    share: dict[tuple[str, str], float] = {}
    notes: list[str] = []
    obs_dim = int(gym.make(OURS).observation_space.shape[0])
    for kind in args.vec_env:
        try:
            make = vec_env_factory(kind)
        except ImportError as exc:
            notes.append(f"{kind}: skipped, the adapter is not available ({exc})")
            continue
        for env_id in (OURS, BASELINE, PADDED):
            try:
                if env_id == PADDED:
                    if kind != "dummy":
                        continue
                    env = make_vec_env(
                        BASELINE, n_envs=n_envs, seed=args.seed,
                        wrapper_class=padded_cartpole(obs_dim),
                    )  # fmt: skip
                else:
                    env = make(env_id, n_envs, args.seed)
            except Exception as exc:  # e.g. the native adapter takes SafetyRLHF envs only
                why = f"{type(exc).__name__}: {exc}"
                if env_id == BASELINE and kind != "dummy":
                    why += f"; the {OURS} figure of this row is compared with {BASELINE} on dummy"
                notes.append(f"{kind}: cannot build {env_id} ({why})")
                fps[kind, env_id] = None
                continue
            try:
                time_learn(env, policy, algo_kwargs, rollout, args.seed)  # warm-up
                runs = [
                    time_learn(env, policy, algo_kwargs, args.timesteps, args.seed)
                    for _ in range(max(1, args.repeats))
                ]
            finally:
                env.close()
            fps[kind, env_id] = median([f for f, _ in runs])
            share[kind, env_id] = median([s for _, s in runs])

    def cell(kind: str, env_id: str) -> str:
        value = fps.get((kind, env_id))
        if value is None:
            return "n/a"
        return f"{fmt_int(value)} ({100 * share[kind, env_id]:.0f}% in env)"

    rows = []
    for kind in args.vec_env:
        if (kind, OURS) not in fps:
            rows.append([kind, "skipped", "skipped", "skipped", "n/a", "n/a"])
            continue
        ours = fps[kind, OURS]
        ratios = []
        for env_id in (BASELINE, PADDED):
            base, note = fps.get((kind, env_id)), ""
            if base is None and fps.get(("dummy", env_id)) is not None:
                base, note = fps["dummy", env_id], " (vs dummy)"
            ratios.append(fmt_ratio(ours, base) + note)
        rows.append([kind, cell(kind, OURS), cell(kind, BASELINE), cell(kind, PADDED), *ratios])

    print(
        f"## PPO training fps ({args.timesteps:,} steps, {n_envs} envs, shipped PPO settings, "
        f"1 torch thread, median of {args.repeats})\n"
    )
    headers = ["vec env", OURS, BASELINE, PADDED, "ours/CartPole", "ours/CartPole-padded"]
    print(markdown_table(headers, rows))
    print(f"\n{PADDED}: {BASELINE} with its observation zero-padded to {obs_dim} features.")
    for note in notes:
        print(f"\n{note}")
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
