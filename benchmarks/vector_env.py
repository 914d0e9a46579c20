"""Vector-env throughput: native ``SafetyRLHF-v0`` vector env vs ``CartPoleVectorEnv`` vs Sync.

For each ``num_envs`` n (default 1, 16, 256, 1024) measures env-steps per second (vector
steps x n) of three vector envs made with ``gym.make_vec``:

- native: ``gym.make_vec("SafetyRLHF-v0", num_envs=n, vectorization_mode="vector_entry_point")``,
  the project's own batched env (``safety_rlhf/envs/vector_env.py``). Until that env is
  registered, ``make_vec`` fails; the script says so and shows the column as ``n/a``;
- CartPoleVectorEnv: ``gym.make_vec("CartPole-v1", ..., "vector_entry_point")``, Gymnasium's
  NumPy-batched CartPole, the reference for a native vector env;
- SyncVectorEnv: ``gym.make_vec("SafetyRLHF-v0", ..., vectorization_mode="sync")``, n copies
  of the single env stepped in a Python loop, in the native env's autoreset mode
  (``same_step``): a ``SafetyRLHF-v0`` episode is one prompt, and in Gymnasium's default
  ``next_step`` mode every other call would be a reset that answers nothing, so both columns
  count answered prompts.

Each cell steps ``max(--env-steps / n, --min-vector-steps)`` vector steps with integer
actions of shape ``(n,)`` precomputed from a seeded ``np.random.default_rng`` (sampling is
not timed, nor is env creation), after a warm-up, and reports the median of ``--repeats``.
Episodes end and restart by the vector env's own autoreset. SyncVectorEnv gets a smaller
budget (``--sync-env-steps``): it is slow at large n. Building it is slower still (each copy
loads its prompt tables: about 0.1 s and 11 MiB per copy here), so it is skipped above
``--sync-max-envs`` (default 256; 1024 copies take about 2 minutes and 11 GiB to build).

Run (about 1.5 minutes with the defaults, mostly building the 256 Sync copies)::

    python benchmarks/vector_env.py
    python benchmarks/vector_env.py --num-envs 1 16 --repeats 5
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from _common import fmt_int, fmt_ratio, machine_line, markdown_table, median

import safety_rlhf  # noqa: F401  (registers SafetyRLHF-v0)

OURS = "SafetyRLHF-v0"
BASELINE = "CartPole-v1"


def make_native(env_id: str, n: int) -> gym.vector.VectorEnv:
    """The env's own batched implementation (its ``vector_entry_point``)."""
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")


def make_sync(env_id: str, n: int) -> gym.vector.VectorEnv:
    """``n`` copies of the single env in Gymnasium's ``SyncVectorEnv``."""
    return gym.make_vec(
        env_id,
        num_envs=n,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
    )


def measure(
    make: Callable[[], gym.vector.VectorEnv],
    n: int,
    vector_steps: int,
    repeats: int,
    seed: int,
) -> float:
    """Median env-steps per second of ``make()`` over ``repeats`` runs of ``vector_steps``."""
    env = make()
    try:
        n_actions = int(env.single_action_space.n)  # type: ignore[attr-defined]
        rng = np.random.default_rng([seed, n])
        actions = rng.integers(0, n_actions, size=(vector_steps, n))
        env.reset(seed=seed)
        for a in actions[: max(1, vector_steps // 10)]:  # warm-up
            env.step(a)
        times = []
        for _ in range(max(1, repeats)):
            env.reset(seed=seed)
            start = time.perf_counter()
            for a in actions:
                env.step(a)
            times.append(time.perf_counter() - start)
    finally:
        env.close()
    return vector_steps * n / median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 16, 256, 1024])
    parser.add_argument(
        "--env-steps",
        type=int,
        default=100_000,
        help="env-steps per timed repeat (native, CartPole)",
    )
    parser.add_argument(
        "--sync-env-steps", type=int, default=30_000, help="env-steps per timed repeat (Sync)"
    )
    parser.add_argument(
        "--min-vector-steps", type=int, default=100, help="fewest vector steps per repeat"
    )
    parser.add_argument(
        "--sync-max-envs", type=int, default=256, help="skip SyncVectorEnv above this num_envs"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per cell")
    parser.add_argument("--seed", type=int, default=0, help="seed of the actions and resets")
    args = parser.parse_args(argv)

    native_error: str | None = None
    try:
        make_native(OURS, 1).close()
    except Exception as exc:  # the native vector env is not registered (yet)
        native_error = f"{type(exc).__name__}: {exc}"
        print(f"native vector env not available: {native_error}", file=sys.stderr)

    def steps_for(budget: int, n: int) -> int:
        return max(budget // n, args.min_vector_steps)

    rows = []
    for n in args.num_envs:
        native = None
        if native_error is None:
            try:
                native = measure(
                    lambda n=n: make_native(OURS, n),
                    n,
                    steps_for(args.env_steps, n),
                    args.repeats,
                    args.seed,
                )
            except Exception as exc:  # a half-finished native env: report it, go on
                native_error = f"failed at num_envs={n}: {type(exc).__name__}: {exc}"
                print(f"native vector env {native_error}", file=sys.stderr)
        cartpole = measure(
            lambda n=n: make_native(BASELINE, n),
            n,
            steps_for(args.env_steps, n),
            args.repeats,
            args.seed,
        )
        sync = None
        if n <= args.sync_max_envs:
            sync = measure(
                lambda n=n: make_sync(OURS, n),
                n,
                steps_for(args.sync_env_steps, n),
                args.repeats,
                args.seed,
            )
        rows.append(
            [
                n,
                fmt_int(native),
                fmt_int(cartpole),
                fmt_int(sync) if n <= args.sync_max_envs else "skipped",
                fmt_ratio(native, cartpole),
                fmt_ratio(native, sync),
            ]
        )
        print(f"done num_envs={n}", flush=True, file=sys.stderr)

    print(f"## Vector env: env-steps per second (median of {args.repeats})\n")
    print(
        markdown_table(
            ["n", "native", "CartPoleVectorEnv", "SyncVectorEnv", "native/CartPole", "native/Sync"],
            rows,
        )
    )
    if native_error is not None:
        print(f"\nnative: not available ({native_error})")
    if any(n > args.sync_max_envs for n in args.num_envs):
        print(f"\nSyncVectorEnv skipped above {args.sync_max_envs} envs (--sync-max-envs).")
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
