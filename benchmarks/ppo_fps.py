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

import torch
from _common import fmt_int, fmt_ratio, machine_line, markdown_table, median
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

import safety_rlhf  # noqa: F401  (registers SafetyRLHF-v0)
from safety_rlhf.agents.algorithms import RUN_KEYS, load_hyperparams

OURS = "SafetyRLHF-v0"
BASELINE = "CartPole-v1"
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


def time_learn(
    env: VecEnv, policy: str, algo_kwargs: dict[str, Any], timesteps: int, seed: int
) -> float:
    """Frames per second of a fresh PPO's ``learn(timesteps)`` on ``env``."""
    model = PPO(policy, env, seed=seed, verbose=0, device="cpu", **algo_kwargs)
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    seconds = time.perf_counter() - start
    return model.num_timesteps / seconds


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
    notes: list[str] = []
    for kind in args.vec_env:
        try:
            make = vec_env_factory(kind)
        except ImportError as exc:
            notes.append(f"{kind}: skipped, the adapter is not available ({exc})")
            continue
        for env_id in (OURS, BASELINE):
            try:
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
            fps[kind, env_id] = median(runs)

    rows = []
    for kind in args.vec_env:
        if (kind, OURS) not in fps:
            rows.append([kind, "skipped", "skipped", "n/a"])
            continue
        ours, base = fps[kind, OURS], fps.get((kind, BASELINE))
        ratio = fmt_ratio(ours, base)
        if base is None and fps.get(("dummy", BASELINE)) is not None:
            ratio = fmt_ratio(ours, fps["dummy", BASELINE]) + " (vs dummy)"
        rows.append([kind, fmt_int(ours), fmt_int(base), ratio])

    print(
        f"## PPO training fps ({args.timesteps:,} steps, {n_envs} envs, shipped PPO settings, "
        f"1 torch thread, median of {args.repeats})\n"
    )
    print(markdown_table(["vec env", OURS, BASELINE, "ours/CartPole"], rows))
    for note in notes:
        print(f"\n{note}")
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
