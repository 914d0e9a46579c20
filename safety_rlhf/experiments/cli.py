"""The ``safety-rlhf`` console script: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from safety_rlhf import __version__
from safety_rlhf.agents.checkpoints import read_checkpoint
from safety_rlhf.agents.interrupts import Interrupted, signals_raise
from safety_rlhf.experiments.benchmark import add_benchmark_parser
from safety_rlhf.experiments.cache_cli import add_cache_parser
from safety_rlhf.experiments.cli_errors import reported
from safety_rlhf.experiments.config_flags import add_dataclass_flags, config_from_args
from safety_rlhf.experiments.cost_model_cli import add_cost_model_parser
from safety_rlhf.experiments.evaluate import add_evaluate_parser
from safety_rlhf.experiments.metrics_table import metrics_table
from safety_rlhf.experiments.reproduce import add_reproduce_parser
from safety_rlhf.experiments.reward_model_cli import add_reward_model_parser
from safety_rlhf.experiments.text_study import add_text_study_parser
from safety_rlhf.experiments.train import VEC_ENVS, TrainConfig, TrainResult, train
from safety_rlhf.experiments.tune import add_tune_parser

__all__ = ["build_parser", "main", "metrics_table", "train_config_from_args"]


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an SB3 agent and print gold metrics on the test split",
        description="Train an SB3 agent on a safety-rlhf-gym env (TensorBoard logs, saved "
        "model, resolved config and command line in the run folder), then print the "
        "gold metrics of its greedy policy on the train and test splits. Every field of "
        "TrainConfig has a flag; --env-kwargs and --hyperparams take rl-zoo3-style "
        "KEY:VALUE pairs (e.g. --hyperparams learning_rate:1e-3 n_steps:256).",
    )
    names = add_dataclass_flags(p, TrainConfig, extra=TRAIN_FLAG_OPTIONS)
    p.set_defaults(func=_run_train, train_parser=p, train_fields=names)


#: Flag settings that the dataclass cannot say (choices, metavars).
TRAIN_FLAG_OPTIONS: dict[str, dict[str, Any]] = {
    "vec_env": {"choices": VEC_ENVS},
    "resume": {"metavar": "RUN"},
    "algo": {"type": str.lower},
}


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``train`` flags (``--resume`` aside).

    :raises ValueError: for a malformed ``--env-kwargs`` / ``--hyperparams`` item.
    """
    return config_from_args(TrainConfig, args, args.train_fields)


@reported("train")
def _run_train(args: argparse.Namespace) -> int:
    try:
        with signals_raise():
            return _train_command(args)
    except Interrupted as exc:
        print(f"safety-rlhf train: {_interrupted(exc)}", file=sys.stderr)
        return exc.exit_status


def _interrupted(exc: Interrupted) -> str:
    """What an interrupted ``train`` says: where it stopped and how to continue."""
    what = f"interrupted by {exc.name}"
    if exc.run_dir is None:
        return f"{what} before training began"
    resume = shlex.join(["safety-rlhf", "train", "--resume", str(exc.run_dir)])
    if exc.checkpoint is not None:
        steps = json.loads(exc.checkpoint.read_text(encoding="utf-8"))["num_timesteps"]
        return f"{what}: checkpoint saved at step {steps}; continue with: {resume}"
    try:
        steps = read_checkpoint(exc.run_dir)["num_timesteps"]
    except (OSError, ValueError):
        return f"{what} before its first checkpoint: {exc.run_dir} cannot be resumed"
    return f"{what}: the last checkpoint is at step {steps}; continue with: {resume}"


def _train_command(args: argparse.Namespace) -> int:
    if args.resume is not None:
        # the run's own settings apply; other options would be silently ignored
        parser_defaults = {a.dest: a.default for a in args.train_parser._actions}
        changed = [
            f"--{k.replace('_', '-')}"
            for k, v in vars(args).items()
            if k in parser_defaults
            and k not in ("resume", "progress_bar", "help")
            and v != parser_defaults[k]
        ]
        if changed:
            raise ValueError(
                f"--resume continues the run with its own settings; drop {', '.join(changed)}"
            )
        result = train(
            TrainConfig(resume=args.resume, progress_bar=args.progress_bar), argv=args.argv
        )
        return _report(result)
    return _report(train(train_config_from_args(args), argv=args.argv))


def _report(result: TrainResult) -> int:
    print(f"\nrun folder: {result.run_dir}  ({result.seconds:.0f} s)")
    print(f"tensorboard --logdir {result.run_dir.parent}\n")
    print(metrics_table(result.metrics))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``safety-rlhf`` argument parser."""
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
    add_text_study_parser(sub)
    add_tune_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``safety-rlhf`` command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:  # SIGTERM as SIGINT: one line, whatever the command (train and benchmark say more)
        with signals_raise():
            return int(args.func(args))
    except Interrupted as exc:
        if args.debug:
            raise
        print(f"safety-rlhf {args.command}: interrupted by {exc.name}", file=sys.stderr)
        return exc.exit_status


if __name__ == "__main__":
    sys.exit(main())
