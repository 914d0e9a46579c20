"""Single-environment step throughput: ``SafetyRLHF-v0`` against ``CartPole-v1``.

Measures steps per second of ``gym.make(env_id)`` (with Gymnasium's default wrappers:
time limit, order enforcing, passive checker) stepped with random actions, calling
``reset()`` whenever an episode ends (terminated or truncated). The actions are drawn ahead
of time from a seeded ``np.random.default_rng`` and converted to Python ints, so neither
sampling nor NumPy scalar handling is timed. Env creation is not timed. Both envs are timed
in the same run, alternately, ``--repeats`` times each after a warm-up; the table shows the
median (and the spread of the repeats) and the ratio ours / CartPole.

Run (about 15 s with the defaults)::

    python benchmarks/env_steps.py
    python benchmarks/env_steps.py --steps 200000 --repeats 5
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from _common import fmt_int, fmt_ratio, machine_line, markdown_table, median

import safety_rlhf  # noqa: F401  (registers SafetyRLHF-v0)

OURS = "SafetyRLHF-v0"
BASELINE = "CartPole-v1"


def run_steps(env: gym.Env, actions: list[int]) -> float:
    """Step ``env`` through ``actions`` (resetting at episode ends); return the seconds taken."""
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per env")
    parser.add_argument("--warmup-steps", type=int, default=2_000, help="untimed steps first")
    parser.add_argument("--seed", type=int, default=0, help="seed of the actions and resets")
    args = parser.parse_args(argv)

    envs: dict[str, gym.Env] = {}
    actions: dict[str, list[int]] = {}
    for i, env_id in enumerate((OURS, BASELINE)):
        env = gym.make(env_id)
        env.reset(seed=args.seed)
        env.action_space.seed(args.seed)
        n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
        rng = np.random.default_rng([args.seed, i])
        actions[env_id] = rng.integers(0, n_actions, size=args.steps).tolist()
        run_steps(env, actions[env_id][: args.warmup_steps])
        envs[env_id] = env

    times: dict[str, list[float]] = {env_id: [] for env_id in envs}
    for _ in range(max(1, args.repeats)):  # alternate, so load changes hit both envs alike
        for env_id, env in envs.items():
            env.reset(seed=args.seed)
            times[env_id].append(run_steps(env, actions[env_id]))
    for env in envs.values():
        env.close()

    rate = {k: args.steps / median(v) for k, v in times.items()}
    spread = {
        k: f"{fmt_int(args.steps / max(v))} - {fmt_int(args.steps / min(v))}"
        for k, v in times.items()
    }
    print(f"## Single-env steps per second ({args.steps:,} steps, median of {args.repeats})\n")
    print(
        markdown_table(
            ["env", "steps/s (median)", "range over repeats", f"vs {BASELINE}"],
            [
                [
                    env_id,
                    fmt_int(rate[env_id]),
                    spread[env_id],
                    fmt_ratio(rate[env_id], rate[BASELINE]),
                ]
                for env_id in envs
            ],
        )
    )
    print(f"\nratio ours/CartPole: {fmt_ratio(rate[OURS], rate[BASELINE])}")
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
