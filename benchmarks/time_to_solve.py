"""Time to solve: steps and seconds until PPO's greedy policy reaches a gold-success target.

Trains PPO with the shipped ``safety-rlhf train`` defaults (algorithm ``ppo``, the env's
default ``learned`` reward, the settings of ``safety_rlhf/agents/hyperparams/ppo.yml``
resolved by ``safety_rlhf.experiments.train.resolve``: 8 ``DummyVecEnv`` envs, one torch
thread) for ``--seeds`` seeds, up to ``--max-steps`` env steps each. Every ``--eval-every``
steps an SB3 callback evaluates the greedy policy on every prompt of the tracked splits
(``safety_rlhf.agents.prompt_evaluation.evaluate_policy_on_prompts``) and records
``gold_success``; a split is *solved* at the first evaluation with gold success >=
``--threshold`` (default 0.90).

``--split both`` (default) tracks the train and the test split; the default target is
0.90, the one issue 12 set for the test split. The test split holds out whole topics and
phrasings, and on it the greedy policy ends near 0.80 with the shipped defaults: about what
a classifier fitted *with the gold labels* on the same observations reaches
(``benchmarks/observation_ceiling.py``), so the 0.90 target is not reached and the best
value is the figure to read; ``--threshold 0.78`` times how fast PPO gets within a few
points of that ceiling.

Seconds are training wall-clock from the start of ``learn`` with the evaluations' time
subtracted; "total s" is the whole ``learn`` including them; building the envs and the
model ("setup s") is not in either. A seed stops early once every tracked split is solved
(``--no-early-stop`` runs the full budget). Seeds run in parallel worker processes
(``--jobs``, default 2, ``spawn``, one torch thread each); with more jobs than free cores
the seconds grow, the steps do not.

Printed: one row per (seed, split): solved?, steps, seconds, best gold success and its
step; then per split the median and range (min-max) over the seeds that solved it of
steps and seconds, or "not reached" with the best value seen.

Steps to reach are a multiple of ``--eval-every`` (the first evaluation at or above the
target), so they are only as fine as the evaluation grid; seconds are read at the same
evaluation.

Run (about 2.5 minutes with the defaults on an otherwise idle 2-core machine: 5 seeds x
120,000 steps on 2 jobs, about 45 s per seed; twice that when other work shares the cores,
then ``--max-steps 90000`` or fewer ``--seeds`` keep it short)::

    python benchmarks/time_to_solve.py
    python benchmarks/time_to_solve.py --max-steps 90000 --eval-every 2500
    python benchmarks/time_to_solve.py --seeds 3 --split train
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from _common import fmt_float, fmt_int, machine_line, markdown_table, median

SPLITS = {"both": ("train", "test"), "train": ("train",), "test": ("test",)}


@dataclass
class SeedResult:
    """What one seed's run measured."""

    seed: int
    steps: int = 0
    """Env steps trained in all."""
    setup_seconds: float = 0.0
    train_seconds: float = 0.0
    """``learn`` wall-clock without the evaluations."""
    total_seconds: float = 0.0
    """``learn`` wall-clock with the evaluations."""
    evals: list[tuple[int, float, dict[str, float]]] = field(default_factory=list)
    """(step, training seconds so far, {split: gold success}) per evaluation."""
    solved: dict[str, tuple[int, float]] = field(default_factory=dict)
    """split -> (step, training seconds) of the first evaluation at or above the target."""

    def best(self, split: str) -> tuple[float, int]:
        """(best gold success, its step) on ``split``; (NaN, 0) without evaluations."""
        scores = [(e[2][split], e[0]) for e in self.evals]
        if not scores:
            return float("nan"), 0
        value = max(s for s, _ in scores)
        return value, next(step for s, step in scores if s == value)


def run_seed(
    seed: int,
    splits: tuple[str, ...],
    max_steps: int,
    eval_every: int,
    threshold: float,
    early_stop: bool,
    env_kwargs: dict[str, Any],
) -> SeedResult:
    """Train one seed with the ``safety-rlhf train`` defaults; evaluate every ``eval_every``."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import set_random_seed

    import safety_rlhf  # noqa: F401  (registers SafetyRLHF-v0)
    from safety_rlhf.agents.algorithms import get_algorithm
    from safety_rlhf.agents.prompt_evaluation import evaluate_policy_on_prompts, make_strategy_env
    from safety_rlhf.experiments.train import TrainConfig, make_train_vec_env, resolve

    torch.set_num_threads(1)
    result = SeedResult(seed)
    start = time.perf_counter()
    cfg = TrainConfig(seed=seed, progress_bar=False)
    run, algo_kwargs = resolve(cfg)
    set_random_seed(seed)
    vec_env = make_train_vec_env(run["vec_env"], cfg.env, run["n_envs"], seed, env_kwargs)
    model = get_algorithm(cfg.algo)(
        run["policy"], vec_env, seed=seed, device=cfg.device, verbose=0, **algo_kwargs
    )
    eval_envs = {s: make_strategy_env(cfg.env, split=s, **env_kwargs) for s in splits}
    result.setup_seconds = time.perf_counter() - start

    class SolveCallback(BaseCallback):
        """Evaluates every ``eval_every`` steps, timing the evaluations apart."""

        def _on_training_start(self) -> None:
            self.t0 = time.perf_counter()
            self.eval_seconds = 0.0
            self.next_eval = eval_every

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_eval:
                return True
            t = time.perf_counter()
            trained = t - self.t0 - self.eval_seconds
            scores = {
                s: float(evaluate_policy_on_prompts(self.model, env)["gold_success"] or 0.0)
                for s, env in eval_envs.items()
            }
            result.evals.append((self.num_timesteps, trained, scores))
            for s, value in scores.items():
                if value >= threshold and s not in result.solved:
                    result.solved[s] = (self.num_timesteps, trained)
            while self.next_eval <= self.num_timesteps:
                self.next_eval += eval_every
            self.eval_seconds += time.perf_counter() - t
            return not (early_stop and len(result.solved) == len(splits))

    callback = SolveCallback()
    model.learn(total_timesteps=max_steps, callback=callback)
    result.total_seconds = time.perf_counter() - callback.t0
    result.train_seconds = result.total_seconds - callback.eval_seconds
    result.steps = model.num_timesteps
    vec_env.close()
    return result


def spread(values: list[float], fmt: Any) -> str:
    """``median (min-max)`` of ``values``, each formatted with ``fmt``."""
    return f"{fmt(median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...)")
    parser.add_argument("--max-steps", type=int, default=120_000, help="step budget per seed")
    parser.add_argument("--eval-every", type=int, default=5_000, help="steps between evaluations")
    parser.add_argument("--threshold", type=float, default=0.90, help="target gold success")
    parser.add_argument("--split", choices=sorted(SPLITS), default="both", help="splits tracked")
    parser.add_argument("--jobs", type=int, default=2, help="seeds trained in parallel")
    parser.add_argument(
        "--no-early-stop", action="store_true", help="train the full budget even once solved"
    )
    parser.add_argument(
        "--encoder",
        default=None,
        help="observation encoder of the env (default: the env's, minilm); e.g. hashing",
    )
    args = parser.parse_args(argv)
    splits = SPLITS[args.split]
    env_kwargs: dict[str, Any] = {} if args.encoder is None else {"encoder": args.encoder}

    wall = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
        futures = [
            pool.submit(
                run_seed,
                seed,
                splits,
                args.max_steps,
                args.eval_every,
                args.threshold,
                not args.no_early_stop,
                env_kwargs,
            )
            for seed in range(args.seeds)
        ]
        for future in as_completed(futures):
            r = future.result()
            print(
                f"seed {r.seed} done: {r.steps:,} steps, {r.total_seconds:.0f} s", file=sys.stderr
            )
        results = [f.result() for f in futures]
    wall = time.perf_counter() - wall

    rows = []
    for r in results:
        for s in splits:
            best, at = r.best(s)
            step, secs = r.solved.get(s, (None, None))
            rows.append(
                [
                    r.seed,
                    s,
                    "yes" if s in r.solved else "no",
                    fmt_int(step),
                    fmt_float(secs, 1),
                    fmt_float(best, 3),
                    fmt_int(at),
                    fmt_int(r.steps),
                    fmt_float(r.train_seconds, 1),
                    fmt_float(r.total_seconds, 1),
                    fmt_float(r.setup_seconds, 1),
                ]
            )
    print(
        f"## Time to gold success >= {args.threshold} (PPO defaults, learned reward, "
        f"{args.encoder or 'minilm'} observations, "
        f"budget {args.max_steps:,} steps, evaluation every {args.eval_every:,})\n"
    )
    print(
        markdown_table(
            [
                "seed",
                "split",
                "reached",
                "steps",
                "seconds",
                "best gold",
                "best at step",
                "steps run",
                "train s",
                "total s",
                "setup s",
            ],
            rows,
        )
    )

    summary = []
    for s in splits:
        solved = [r.solved[s] for r in results if s in r.solved]
        bests = [r.best(s)[0] for r in results]
        if solved:
            steps = spread([float(x[0]) for x in solved], fmt_int)
            secs = spread([x[1] for x in solved], lambda v: fmt_float(v, 1))
        else:
            steps = secs = f"not reached (best {fmt_float(max(bests), 3)})"
        summary.append(
            [
                s,
                f"{len(solved)}/{len(results)}",
                steps,
                secs,
                spread(bests, lambda v: fmt_float(v, 3)),
            ]
        )
    print(f"\n### Over {len(results)} seeds: median (min-max), among the seeds that reached it\n")
    print(
        markdown_table(
            ["split", "reached", "steps to reach", "seconds to reach", "best gold success"],
            summary,
        )
    )
    print(
        "\nseconds: training wall-clock without evaluations; total s includes them; setup s "
        f"(envs and model) is in neither. {args.jobs} job(s) in parallel; whole benchmark "
        f"{wall:.0f} s."
    )
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
