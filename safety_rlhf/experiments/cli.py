"""The ``safety-rlhf`` console script: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from safety_rlhf.experiments.benchmark import add_benchmark_parser
from safety_rlhf.experiments.cache_cli import add_cache_parser
from safety_rlhf.experiments.cli_errors import reported
from safety_rlhf.experiments.cost_model_cli import add_cost_model_parser
from safety_rlhf.experiments.evaluate import add_evaluate_parser
from safety_rlhf.experiments.reproduce import add_reproduce_parser
from safety_rlhf.experiments.reward_model_cli import add_reward_model_parser
from safety_rlhf.task.metrics import METRIC_NAMES, format_metric

__all__ = ["main"]


def _add_train(sub: argparse._SubParsersAction) -> None:
    from safety_rlhf.experiments.train import VEC_ENVS, TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "train",
        help="train an SB3 agent and print gold metrics on the test split",
        description="Train an SB3 agent on a safety-rlhf-gym env (TensorBoard logs, saved "
        "model, resolved config and command line in the run folder), then print the "
        "gold metrics of its greedy policy on the train and test splits.",
    )
    p.add_argument("--algo", default=d.algo, help=f"SB3 algorithm (default: {d.algo})")
    p.add_argument("--env", default=d.env, help=f"env id (default: {d.env})")
    p.add_argument(
        "--reward-model",
        default=d.reward_model,
        help="reward-model spec: rule, gold, NAME:ARG, package.module:object "
        "(default: the env's default)",
    )
    p.add_argument(
        "--timesteps",
        type=int,
        default=d.timesteps,
        help="training steps (default: n_timesteps of the hyperparameter YAML)",
    )
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed (default: {d.seed})")
    p.add_argument(
        "--kl-coef",
        type=float,
        default=d.kl_coef,
        help="beta of E[r] - beta KL(pi || pi_ref): each rollout's rewards become "
        "r - beta (log pi - log pi_ref); on-policy algorithms only (default: 0)",
    )
    p.add_argument("--n-envs", type=int, default=d.n_envs, help="parallel envs (default: YAML)")
    p.add_argument(
        "--vec-env",
        choices=VEC_ENVS,
        default=d.vec_env,
        help="how the parallel envs run: dummy (SB3's DummyVecEnv, one env object each), "
        "subproc (SubprocVecEnv, one process each), native (the env's own vector env, "
        "all in one array call; same results as dummy) or auto (native if the env has "
        f"one, else dummy) (default: {d.vec_env})",
    )
    p.add_argument("--config", default=d.config, help="hyperparameter YAML (rl-zoo3 format)")
    p.add_argument("--log-dir", default=d.log_dir, help=f"runs folder (default: {d.log_dir})")
    p.add_argument("--no-progress-bar", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--cost-limit",
        type=float,
        default=d.cost_limit,
        help="constrain the mean episode cost (fraction of decisions that help with a harmful "
        "prompt) to this limit with a Lagrange multiplier (default: unconstrained)",
    )
    p.add_argument(
        "--cost-model",
        default=d.cost_model,
        help="cost model the --cost-limit constraint penalises: learned-cost (the shipped "
        "classifier of simulated safety annotations), gold (the oracle, an upper bound), "
        f"classifier:DIR, package.module:object (default: {d.cost_model})",
    )
    p.add_argument(
        "--lagrange-lr",
        type=float,
        default=d.lagrange_lr,
        help=f"dual-ascent step size of the Lagrange multiplier (default: {d.lagrange_lr})",
    )
    p.add_argument(
        "--checkpoint-freq",
        type=int,
        default=d.checkpoint_freq,
        help="write a checkpoint into RUN/checkpoint every N steps; 0: none "
        f"(default: {d.checkpoint_freq})",
    )
    p.add_argument(
        "--resume",
        metavar="RUN",
        default=None,
        help="continue the run folder RUN from its last checkpoint, with its own settings",
    )
    p.set_defaults(func=_run_train, train_parser=p)


@reported("train")
def _run_train(args: argparse.Namespace) -> int:
    from safety_rlhf.experiments.train import TrainConfig, train

    if args.resume is not None:
        # the run's own settings apply; other options would be silently ignored
        parser_defaults = {a.dest: a.default for a in args.train_parser._actions}
        changed = [
            f"--{k.replace('_', '-')}"
            for k, v in vars(args).items()
            if k in parser_defaults
            and k not in ("resume", "no_progress_bar", "help")
            and v != parser_defaults[k]
        ]
        if changed:
            raise ValueError(
                f"--resume continues the run with its own settings; drop {', '.join(changed)}"
            )
        result = train(
            TrainConfig(resume=args.resume, progress_bar=not args.no_progress_bar),
            argv=args.argv,
        )
        return _report(result)
    cfg = TrainConfig(
        algo=args.algo,
        env=args.env,
        reward_model=args.reward_model,
        timesteps=args.timesteps,
        seed=args.seed,
        kl_coef=args.kl_coef,
        n_envs=args.n_envs,
        vec_env=args.vec_env,
        config=args.config,
        log_dir=args.log_dir,
        progress_bar=not args.no_progress_bar,
        cost_limit=args.cost_limit,
        cost_model=args.cost_model,
        lagrange_lr=args.lagrange_lr,
        checkpoint_freq=args.checkpoint_freq,
    )
    return _report(train(cfg, argv=args.argv))


def _report(result: Any) -> int:
    print(f"\nrun folder: {result.run_dir}  ({result.seconds:.0f} s)")
    print(f"tensorboard --logdir {result.run_dir.parent}\n")
    print(metrics_table(result.metrics))
    return 0


def metrics_table(metrics: dict[str, dict[str, float | None]]) -> str:
    """A plain-text table, one row per metric and one column per split."""
    splits = list(metrics)
    width = max(len(n) for n in METRIC_NAMES)
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{s:>7}" for s in splits)]
    lines.append("-" * len(lines[0]))
    extra = [n for n in metrics[splits[0]] if n not in METRIC_NAMES]  # proxy_cost
    for name in (*METRIC_NAMES, *extra):
        cells = "  ".join(f"{format_metric(metrics[s].get(name)):>7}" for s in splits)
        lines.append(f"{name:<{width}}  {cells}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The ``safety-rlhf`` argument parser."""
    from safety_rlhf import __version__

    parser = argparse.ArgumentParser(
        prog="safety-rlhf",
        description="The prompt/response safety task of RLHF as Gymnasium environments.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    add_reward_model_parser(sub)
    add_cache_parser(sub)
    add_cost_model_parser(sub)
    add_evaluate_parser(sub)
    add_reproduce_parser(sub)
    add_benchmark_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``safety-rlhf`` command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
