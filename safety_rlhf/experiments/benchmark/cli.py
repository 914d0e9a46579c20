"""``safety-rlhf benchmark``: the command line of the benchmark grid."""

from __future__ import annotations

import argparse
import math
import shlex
import sys

from safety_rlhf.agents.interrupts import signals_raise
from safety_rlhf.experiments.benchmark.grid import ERROR_FILE, BenchmarkConfig
from safety_rlhf.experiments.benchmark.report import iqm_table
from safety_rlhf.experiments.benchmark.runner import BenchmarkInterrupted, run_benchmark
from safety_rlhf.experiments.cli_errors import reported
from safety_rlhf.experiments.config_flags import parse_key_values
from safety_rlhf.experiments.ray_backend import BACKENDS, RAY_INSTALL

__all__ = ["add_benchmark_parser"]


def _names(text: str) -> list[str]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _floats(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers like 0,0.01,0.1, got {text!r}"
        ) from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers >= 0, got {text!r}")
    return values


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _cost_limits(text: str) -> list[float | None]:
    values: list[float | None] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part == "none":
            values.append(None)
            continue
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated limits like none,0.05, got {text!r}"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"expected none or numbers >= 0, got {text!r}")
        values.append(value)
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated limits, got {text!r}")
    return values


def add_benchmark_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``benchmark`` subcommand to ``sub``."""
    d = BenchmarkConfig()
    p = sub.add_parser(
        "benchmark",
        help="train a grid of algorithms x KL coefficients x cost limits x seeds and report "
        "rliable stats",
        description="Train every (algorithm, KL coefficient, cost limit, cost model, seed) cell "
        "in parallel processes (each with its own TensorBoard log under OUT/runs/; a re-run "
        "reuses a finished cell only if everything that determines its result is unchanged: "
        "settings, resolved hyperparameters, package source and versions), then aggregate "
        "the final test-split gold_success, proxy_reward and over_refusal over seeds: IQM "
        "with 95% stratified-bootstrap CIs (rliable), mean, "
        "std, gold-success performance profiles. Writes results.csv, results.md, curves.png, "
        "intervals.png and profiles.png into OUT.",
    )
    p.add_argument(
        "--algos",
        type=_names,
        default=d.algos,
        help=f"comma-separated SB3 algorithms (default: {','.join(d.algos)})",
    )
    p.add_argument(
        "--seeds", type=_positive, default=d.seeds, help=f"seeds 0..N-1 (default: {d.seeds})"
    )
    p.add_argument(
        "--timesteps",
        type=_positive,
        default=d.timesteps,
        help="training steps per run (default: n_timesteps of each hyperparameter YAML)",
    )
    p.add_argument(
        "--reward-model",
        default=d.reward_model,
        help="reward-model spec: rule, gold, learned, NAME:ARG, ... (default: the env's)",
    )
    p.add_argument("--env", default=d.env, help=f"env id (default: {d.env})")
    p.add_argument(
        "--kl-coefs",
        type=_floats,
        default=d.kl_coefs,
        help="comma-separated KL penalties to the reference policy, e.g. 0,0.01,0.1,0.5 "
        "(default: 0)",
    )
    p.add_argument(
        "--cost-limits",
        type=_cost_limits,
        default=d.cost_limits,
        help="comma-separated cost limits of the Lagrangian constraint, none for "
        "unconstrained, e.g. none,0.05 (default: none)",
    )
    p.add_argument(
        "--cost-models",
        type=_names,
        default=d.cost_models,
        help="comma-separated cost models of the constrained cells, e.g. learned-cost,gold "
        "(gold is the oracle; default: train's default)",
    )
    p.add_argument(
        "--config",
        nargs="+",
        metavar="ALGO:YAML",
        default=None,
        help="hyperparameter YAML (rl-zoo3 format) per algorithm, e.g. ppo:my_ppo.yml",
    )
    p.add_argument(
        "--env-kwargs",
        nargs="+",
        metavar="KEY:VALUE",
        default=None,
        help="gym.make keyword arguments of every cell, e.g. encoder:minilm (values read as YAML)",
    )
    p.add_argument(
        "--hyperparams",
        nargs="+",
        metavar="KEY:VALUE",
        default=None,
        help="overrides of every algorithm's YAML entry, e.g. learning_rate:1e-3 "
        "(values read as YAML)",
    )
    p.add_argument(
        "--jobs",
        type=_positive,
        default=d.jobs,
        help="worker processes; with --backend ray and no --address, the CPUs of the local "
        "Ray instance (default: CPU count)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=d.backend,
        help="where the cells run: local worker processes, or Ray tasks (needs "
        f"{RAY_INSTALL!r}; default: {d.backend})",
    )
    p.add_argument(
        "--address",
        default=d.address,
        metavar="HOST:PORT",
        help="with --backend ray: join the Ray cluster there (started with 'ray start "
        "--head'); default: start a local Ray instance",
    )
    p.add_argument(
        "--cpus-per-run",
        type=_positive_float,
        default=d.cpus_per_run,
        help=f"with --backend ray: CPUs each cell requests (default: {d.cpus_per_run:g})",
    )
    p.add_argument("--out", default=d.out, help=f"output folder (default: {d.out})")
    p.add_argument(
        "--eval-freq",
        type=_positive,
        default=d.eval_freq,
        help="test evaluation every N steps, for the learning curves "
        "(default: timesteps/20, or 10000)",
    )
    p.add_argument(
        "--reps",
        type=_positive,
        default=d.reps,
        help=f"bootstrap resamples (default: {d.reps})",
    )
    p.set_defaults(func=_run_benchmark_cli)


@reported("benchmark")
def _run_benchmark_cli(args: argparse.Namespace) -> int:
    configs = parse_key_values(args.config or [], "--config")
    cfg = BenchmarkConfig(
        algos=args.algos,
        seeds=args.seeds,
        timesteps=args.timesteps,
        reward_model=args.reward_model,
        env=args.env,
        kl_coefs=args.kl_coefs,
        cost_limits=args.cost_limits,
        cost_models=args.cost_models,
        jobs=args.jobs,
        out=args.out,
        eval_freq=args.eval_freq,
        reps=args.reps,
        env_kwargs=parse_key_values(args.env_kwargs or [], "--env-kwargs"),
        hyperparams=parse_key_values(args.hyperparams or [], "--hyperparams"),
        configs={str(k).lower(): str(v) for k, v in configs.items()},
        backend=args.backend,
        address=args.address,
        cpus_per_run=args.cpus_per_run,
    )
    argv = getattr(args, "argv", None)
    try:
        with signals_raise():
            result = run_benchmark(cfg, argv=argv)
    except BenchmarkInterrupted as exc:
        command = shlex.join(["safety-rlhf", *(sys.argv[1:] if argv is None else argv)])
        print(
            f"safety-rlhf benchmark: interrupted by {exc.name}: {exc.finished} of {exc.total} "
            f"cell(s) finished, every worker stopped; to continue, run the same command: "
            f"{command}",
            file=sys.stderr,
        )
        return exc.exit_status
    if result.aggregate is not None:
        print(f"\nIQM [95% CI] over seeds, test split:\n\n{iqm_table(result.aggregate)}\n")
        print(
            f"results: {result.out}/results.md, results.csv, curves.png, intervals.png, "
            f"profiles.png  ({result.seconds:.0f} s)"
        )
        print(f"tensorboard --logdir {result.out / 'runs'}")
    if result.failures:
        print(f"\n{len(result.failures)} cell(s) failed:", file=sys.stderr)
        for name, error in result.failures.items():
            print(
                f"  {name}: {error} (see {result.out / 'runs' / name / ERROR_FILE})",
                file=sys.stderr,
            )
        return 1
    return 0
