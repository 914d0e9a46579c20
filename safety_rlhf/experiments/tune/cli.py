"""``safety-rlhf tune``: the command line of the hyperparameter search."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from safety_rlhf.agents.interrupts import signals_raise
from safety_rlhf.experiments.cli_errors import reported
from safety_rlhf.experiments.config_flags import add_dataclass_flags, config_from_args
from safety_rlhf.experiments.ray_backend import BACKENDS
from safety_rlhf.experiments.tune.runner import TuneInterrupted, run_tune
from safety_rlhf.experiments.tune.settings import TuneConfig
from safety_rlhf.experiments.tune.storage import shown_url
from safety_rlhf.experiments.tune.study import MAX_FAILURES

__all__ = ["add_tune_parser"]

#: Flag settings that the dataclass cannot say.
_TRIALS_HELP = (
    "finished trials (complete or pruned) the study must hold; a re-run runs only the missing ones"
)
_FLAG_OPTIONS: dict[str, dict[str, Any]] = {
    "algo": {"type": str.lower, "required": True, "help": "SB3 algorithm to tune"},
    "trials": {"required": True, "help": _TRIALS_HELP},
    "backend": {"choices": BACKENDS},
    "address": {"metavar": "HOST:PORT"},
    "storage": {"metavar": "URL"},
    "out": {"metavar": "DIR"},
}


def add_tune_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``tune`` subcommand to ``sub``."""
    p = sub.add_parser(
        "tune",
        help="search an algorithm's hyperparameters with Optuna (resumable, pruned, on Ray)",
        description="Search the hyperparameters of one algorithm with Optuna (TPE sampler, "
        "median pruner). Each trial trains one run per seed and scores the mean test-split "
        "gold_success of each run's last evaluations; the study lives in an Optuna storage "
        "(default sqlite:///OUT/study.db), so the same command continues a stopped study. "
        "Writes the best trial's settings as OUT/<algo>.yml for 'safety-rlhf train --config'. "
        'Needs Optuna: pip install "safety-rlhf-gym[tune]".',
    )
    names = add_dataclass_flags(p, TuneConfig, extra=_FLAG_OPTIONS)
    p.set_defaults(func=_run_tune_cli, tune_fields=names)


@reported("tune")
def _run_tune_cli(args: argparse.Namespace) -> int:
    cfg = config_from_args(TuneConfig, args, args.tune_fields)
    argv = getattr(args, "argv", None)
    try:
        with signals_raise():
            result = run_tune(cfg, argv=argv)
    except TuneInterrupted as exc:
        command = shlex.join(["safety-rlhf", *exc.argv])  # the storage password hidden
        print(
            f"safety-rlhf tune: interrupted by {exc.name}: {exc.finished} of {exc.total} "
            f"trial(s) finished and kept in the storage; to continue, run the same command: "
            f"{command}",
            file=sys.stderr,
        )
        return exc.exit_status
    c = result.counts
    print(
        f"\ntrials: {c['COMPLETE']} complete, {c['PRUNED']} pruned, {c['FAIL']} failed "
        f"({result.seconds:.0f} s)"
    )
    if result.yaml is not None:
        print(f"best: trial {result.best_number}, value {result.best_value:.4f}")
        print(f"hyperparameters: {result.yaml}")
    print(f"optuna-dashboard {shown_url(result.url)}")
    if len(result.failures) >= MAX_FAILURES:
        print(
            f"safety-rlhf tune: stopped after {len(result.failures)} failed trials (see "
            f"{result.out / 'runs'}/trial-*/error.txt)",
            file=sys.stderr,
        )
        return 1
    if result.yaml is None:
        print("safety-rlhf tune: no trial completed; no hyperparameters written", file=sys.stderr)
        return 1
    return 0
