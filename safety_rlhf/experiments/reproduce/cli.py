"""``safety-rlhf reproduce``: one subcommand per published experiment."""

from __future__ import annotations

import argparse

from safety_rlhf.experiments.cli_errors import reported
from safety_rlhf.experiments.reproduce.behavior_controlled import reproduce_behavior_controlled

__all__ = ["add_reproduce_parser"]


def add_reproduce_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``reproduce`` subcommand (one subcommand per experiment) to ``sub``."""
    p = sub.add_parser(
        "reproduce",
        help="re-run a published experiment and say whether its figures hold",
        description="Re-run a published experiment this project starts from.",
    )
    exp = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    b = exp.add_parser(
        "behavior-controlled",
        help="behavior-controlled RLHF: one-parameter policy, then PPO / TRPO",
        description="(a) the published one-parameter policy on its four prompts, (b) PPO "
        "and TRPO on the same prompts and reward, (c) all of them on the full corpus with "
        "the gold reward; the published 'safety score' (refusal share) next to "
        "gold_success. Writes results.json and results.md into a run folder.",
    )
    b.add_argument("--epochs", type=int, default=20, help="epochs (default: 20)")
    b.add_argument("--seed", type=int, default=1, help="seed (default: 1, as published)")
    b.add_argument("--lr", type=float, default=0.1, help="update step of p (default: 0.1)")
    b.add_argument("--p0", type=float, default=0.25, help="initial p (default: 0.25, published)")
    b.add_argument(
        "--timesteps",
        type=int,
        default=30_000,
        help="agent training steps on the full corpus (default: 30000)",
    )
    b.add_argument(
        "--toy-timesteps",
        type=int,
        default=4_000,
        help="agent training steps on the four prompts (default: 4000)",
    )
    b.add_argument("--log-dir", default="runs", help="runs folder (default: runs)")
    b.add_argument("--no-agents", action="store_true", help="skip PPO / TRPO (seconds)")
    b.set_defaults(func=_run_behavior_controlled)


@reported("reproduce")
def _run_behavior_controlled(args: argparse.Namespace) -> int:
    reproduce_behavior_controlled(
        epochs=args.epochs,
        seed=args.seed,
        lr=args.lr,
        p0=args.p0,
        timesteps=args.timesteps,
        toy_timesteps=args.toy_timesteps,
        log_dir=args.log_dir,
        agents=() if args.no_agents else ("ppo", "trpo"),
    )
    return 0
