"""``SafetyRLHF-Text-v0`` throughput, next to CartPole, and the env's share of PPO's time.

Three measurements, in one run, with the env's default reward model unless
``--reward-model`` says otherwise:

1. single env: steps per second of ``gym.make("SafetyRLHF-Text-v0")`` and of
   ``gym.make("CartPole-v1")`` (default wrappers), resetting at every episode end;
2. vector env at ``--num-envs`` (default 256): env-steps per second of the native vector env
   (``vector_entry_point``, same-step autoreset) and of Gymnasium's ``CartPoleVectorEnv``;
3. PPO: wall-clock of ``PPO.learn`` on the native vector env (the text YAML's settings, 16
   envs) and the share of it spent inside the env's ``step`` (reward model included).

The text env is fed realistic responses, not uniform random tokens (which would almost
never write ``<eos>`` and so would call the reward model once per 48 steps): each env writes
responses sampled from ``pi_ref`` ahead of time, token by token, and starts the next one
when its episode ends; that bookkeeping is timed with the env. CartPole gets seeded random
actions drawn ahead of time. Env creation is not timed; each cell is the median of
``--repeats`` timed runs after a warm-up.

Run (about 2 minutes with the defaults)::

    python benchmarks/text_env.py
    python benchmarks/text_env.py --reward-model rule --repeats 5
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from _common import fmt_int, fmt_ratio, machine_line, markdown_table, median
from stable_baselines3 import PPO

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.algorithms import load_hyperparams
from safety_rlhf.agents.native_vec_env import make_native_vec_env
from safety_rlhf.envs.text_env import TEXT_REWARD_MODEL
from safety_rlhf.task.reference_lm import ReferenceLM
from safety_rlhf.task.reference_policy import reference_probs

OURS = "SafetyRLHF-Text-v0"


def responses(env: Any, n: int, seed: int) -> np.ndarray:
    """``n`` responses sampled from ``pi_ref`` for random prompts of ``env``: int ``(n, 48)``."""
    rng = np.random.default_rng(seed)
    prompts = [env.prompt_set.prompts[i] for i in rng.integers(len(env.prompt_set), size=n)]
    ids, _ = ReferenceLM.default().sample(np.log(reference_probs(prompts)), rng, max_tokens=48)
    return ids


def single_steps(kwargs: dict[str, Any], steps: int, repeats: int, seed: int) -> float:
    env = gym.make(OURS, **kwargs)
    texts = responses(env.unwrapped, 4096, seed)

    def run() -> float:
        env.reset(seed=seed)
        row, pos = 0, 0
        start = time.perf_counter()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(int(texts[row, pos]))
            pos += 1
            if terminated or truncated:
                env.reset()
                row, pos = (row + 1) % len(texts), 0
        return time.perf_counter() - start

    run()
    return steps / median([run() for _ in range(repeats)])


def cartpole_steps(steps: int, repeats: int, seed: int) -> float:
    env = gym.make("CartPole-v1")
    actions = np.random.default_rng(seed).integers(2, size=steps).tolist()

    def run() -> float:
        env.reset(seed=seed)
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return time.perf_counter() - start

    run()
    return steps / median([run() for _ in range(repeats)])


def vector_steps(kwargs: dict[str, Any], n: int, steps: int, repeats: int, seed: int) -> float:
    envs = gym.make_vec(
        OURS, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode="same_step",
        **kwargs,
    )  # fmt: skip
    texts = responses(envs.unwrapped, 4 * n, seed)
    cols = np.arange(n)

    def run() -> float:
        envs.reset(seed=seed)
        row, pos = cols.copy(), np.zeros(n, dtype=np.int64)
        start = time.perf_counter()
        for _ in range(steps):
            _, _, terminated, truncated, _ = envs.step(texts[row, pos])
            pos += 1
            done = terminated | truncated
            row[done] = (row[done] + n) % len(texts)
            pos[done] = 0
        return time.perf_counter() - start

    run()
    return steps * n / median([run() for _ in range(repeats)])


def cartpole_vector_steps(n: int, steps: int, repeats: int, seed: int) -> float:
    envs = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
    actions = np.random.default_rng(seed).integers(2, size=(steps, n))

    def run() -> float:
        envs.reset(seed=seed)
        start = time.perf_counter()
        for a in actions:
            envs.step(a)
        return time.perf_counter() - start

    run()
    return steps * n / median([run() for _ in range(repeats)])


def ppo_share(kwargs: dict[str, Any], timesteps: int, seed: int) -> tuple[float, float]:
    """Seconds of ``PPO.learn(timesteps)`` and the share spent in the env's step."""
    hyper = load_hyperparams("ppo", OURS)
    n_envs = int(hyper.pop("n_envs"))
    for key in ("n_timesteps", "policy", "imitate_reference"):
        hyper.pop(key, None)
    venv = make_native_vec_env(OURS, n_envs=n_envs, seed=seed, env_kwargs=kwargs)
    inner = venv.venv  # type: ignore[attr-defined]
    spent = [0.0]
    step_wait = inner.step_wait

    def timed_step_wait() -> Any:
        start = time.perf_counter()
        out = step_wait()
        spent[0] += time.perf_counter() - start
        return out

    inner.step_wait = timed_step_wait
    model = PPO("MlpPolicy", venv, seed=seed, **hyper)
    model.learn(1024)  # warm-up
    spent[0] = 0.0
    start = time.perf_counter()
    model.learn(timesteps, reset_num_timesteps=False)
    total = time.perf_counter() - start
    return total, spent[0] / total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reward-model", default=None, help="reward model (default: the env's)")
    parser.add_argument("--num-envs", type=int, default=256, help="vector env size")
    parser.add_argument("--steps", type=int, default=20_000, help="single-env steps per run")
    parser.add_argument("--vector-steps", type=int, default=200, help="vector steps per run")
    parser.add_argument("--ppo-steps", type=int, default=16_384, help="PPO timesteps timed")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per cell")
    parser.add_argument("--seed", type=int, default=0, help="seed of actions and resets")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads for PPO")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.torch_threads)
    kwargs = {} if args.reward_model is None else {"reward_model": args.reward_model}
    n = args.num_envs

    single = single_steps(kwargs, args.steps, args.repeats, args.seed)
    cart = cartpole_steps(args.steps, args.repeats, args.seed)
    vec = vector_steps(kwargs, n, args.vector_steps, args.repeats, args.seed)
    cart_vec = cartpole_vector_steps(n, args.vector_steps * 10, args.repeats, args.seed)
    seconds, share = ppo_share(kwargs, args.ppo_steps, args.seed)
    reward = args.reward_model or f"the env's default ({TEXT_REWARD_MODEL})"
    print(f"{machine_line()}; reward model: {reward}\n")
    print(
        markdown_table(
            ["env", "SafetyRLHF-Text-v0 steps/s", "CartPole steps/s", "ratio"],
            [
                ["single (gym.make)", fmt_int(single), fmt_int(cart), fmt_ratio(single, cart)],
                [f"vector, {n} envs", fmt_int(vec), fmt_int(cart_vec), fmt_ratio(vec, cart_vec)],
            ],
        )
    )
    print(
        f"\nPPO on the native vector env ({args.ppo_steps:,} steps, text YAML settings): "
        f"{seconds:.1f} s, {args.ppo_steps / seconds:,.0f} steps/s; "
        f"env step (reward model included): {share:.1%} of the wall-clock"
    )


if __name__ == "__main__":
    main()
