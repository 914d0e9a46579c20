"""``safety-rlhf text-study {overoptimisation,samples,matched-kl}``."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from safety_rlhf.experiments.cli_errors import reported
from safety_rlhf.experiments.text_study.matched_kl import run_matched_kl
from safety_rlhf.experiments.text_study.overoptimisation import run_overoptimisation
from safety_rlhf.experiments.text_study.rm_sizes import size_reward_models
from safety_rlhf.experiments.text_study.samples import run_samples
from safety_rlhf.experiments.text_study.settings import StudySettings, quick_settings

__all__ = ["add_text_study_parser"]

STUDIES = {
    "overoptimisation": "gold and proxy reward against sqrt(KL) for best-of-n and PPO, the "
    "forms of Gao et al. (2022) fitted, and the gold peak against the reward model's data",
    "samples": "what PPO writes with and without the KL penalty (3 seeds), and the exploit",
    "matched-kl": "gold success of pi_ref, best-of-n and PPO at the same KL",
}


def add_text_study_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``text-study`` and its three studies to ``sub``."""
    p = sub.add_parser(
        "text-study",
        help="the studies of SafetyRLHF-Text-v0 (over-optimisation, samples, matched KL)",
        description="The studies of SafetyRLHF-Text-v0. The commands share PPO runs and "
        "pi_ref samples through --runs (default OUT/runs): give them the same --runs to "
        "train each run once; an interrupted command continues where it stopped.",
    )
    studies = p.add_subparsers(dest="study", required=True, metavar="STUDY")
    for name, text in STUDIES.items():
        s = studies.add_parser(name, help=text, description=text + ".")
        s.add_argument("--out", required=True, help="output folder (results.md, .csv, .png)")
        s.add_argument("--runs", default=None, help="runs and caches (default: OUT/runs)")
        s.add_argument("--quick", action="store_true", help="a tiny version (seconds)")
        s.add_argument("--reward-model", default=None, help="the proxy (default: the env's)")
        s.add_argument("--timesteps", type=int, default=None, help="PPO steps per run")
        s.add_argument("--prompts", type=int, default=None, help="test prompts of the study")
        if name == "overoptimisation":
            s.add_argument(
                "--no-rm-sizes",
                action="store_true",
                help="skip the reward-model size study (1k, 3k, 10k pairs)",
            )
        s.set_defaults(func=_run)


def _settings(args: argparse.Namespace, runs: Path) -> StudySettings:
    settings = quick_settings(runs, args.reward_model) if args.quick else StudySettings()
    if args.reward_model is not None:
        settings = replace(settings, reward_model=args.reward_model)
    if args.timesteps is not None:
        if not 1 <= args.timesteps <= 10**8:
            raise ValueError(f"--timesteps must be from 1 to 100,000,000, got {args.timesteps}")
        settings = replace(settings, timesteps=args.timesteps)
    if args.prompts is not None:
        if not 1 <= args.prompts <= 100_000:
            raise ValueError(f"--prompts must be from 1 to 100,000, got {args.prompts}")
        settings = replace(settings, n_prompts=args.prompts)
    return settings


@reported(lambda args: f"text-study {args.study}")
def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    runs = Path(args.runs) if args.runs is not None else out / "runs"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        settings = _settings(args, runs)
        argv = getattr(args, "argv", None)
        if args.study == "overoptimisation":
            if args.no_rm_sizes:
                settings = replace(settings, rm_sizes=())
            sizes = size_reward_models(runs / "reward_models", settings.rm_sizes)
            run_overoptimisation(out, settings, runs, sizes, argv=argv, started=started)
        elif args.study == "samples":
            run_samples(out, settings, runs, argv=argv, started=started)
        else:
            run_matched_kl(out, settings, runs, argv=argv, started=started)
    finally:
        torch.set_num_threads(threads)
    return 0
