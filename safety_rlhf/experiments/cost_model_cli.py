"""``safety-rlhf cost-model``: make safety annotations, train and evaluate cost models.

Subcommands:

* ``make-annotations [--check]``: write (or verify byte for byte) the shipped simulated
  safety annotations (:mod:`safety_rlhf.data.safety_annotations`).
* ``train --out DIR``: train a cost classifier on the annotations and save the checkpoint
  (``model.safetensors``, ``config.json``) with an ``eval.json``: best epoch, validation
  accuracy, and accuracy / AUC against the gold cost on the test split. The defaults
  reproduce the shipped ``learned-cost``.
* ``eval SPEC``: accuracy, AUC, recall and false flags of any cost model against the gold
  cost on every (prompt, strategy) of a split.

Bad input is reported as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from safety_rlhf.experiments.cli_errors import reported

__all__ = ["add_cost_model_parser", "format_cost_metrics"]


def add_cost_model_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``cost-model`` subcommand (with its own subcommands) to ``sub``."""
    from safety_rlhf.data.safety_annotations import DEFAULT_PATH
    from safety_rlhf.reward.cost import CostModelConfig

    p = sub.add_parser(
        "cost-model",
        help="make safety annotations, train and evaluate cost models",
        description="Simulated safety annotations, a cost classifier trained on them, and "
        "its accuracy against the gold cost.",
    )
    cm_sub = p.add_subparsers(dest="cm_command", required=True, metavar="SUBCOMMAND")
    make = cm_sub.add_parser(
        "make-annotations",
        help="write the simulated safety annotations (or --check the shipped file)",
        description="Write the simulated safety annotations of the train split; the defaults "
        "give the shipped file byte for byte. Written into the working directory: no command "
        "writes into the installed package.",
    )
    make.add_argument(
        "--path",
        default=None,
        help="annotation file to write (default: ./safety_train.jsonl.gz) or, with --check, "
        "to verify (default: the shipped file)",
    )
    make.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    make.set_defaults(func=_run_make)

    d = CostModelConfig()
    train = cm_sub.add_parser(
        "train",
        help="train a cost classifier on the safety annotations",
        description="Train a cost classifier (MLP on prompt and response encodings, logistic "
        "loss) on safety annotations; the defaults reproduce the shipped learned-cost.",
    )
    train.add_argument(
        "--annotations", default=str(DEFAULT_PATH), help="annotation file (default: shipped)"
    )
    train.add_argument(
        "--encoder", choices=("hashing", "minilm"), default=d.encoder, help="text encoder"
    )
    train.add_argument("--epochs", type=int, default=d.epochs, help=f"default: {d.epochs}")
    train.add_argument("--seed", type=int, default=d.seed, help=f"default: {d.seed}")
    train.add_argument("--no-progress-bar", action="store_true", help="hide the progress bar")
    train.add_argument(
        "--out",
        required=True,
        help="checkpoint folder to write: new, empty, or an earlier output of this command",
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out folder that this command did not write",
    )
    train.set_defaults(func=_run_train)

    ev = cm_sub.add_parser(
        "eval",
        help="accuracy and AUC of a cost model against the gold cost",
        description="Score every (prompt, strategy) of a split with a cost model and "
        "compare with the gold cost.",
    )
    ev.add_argument("model", metavar="MODEL", help="cost-model spec or a checkpoint folder")
    ev.add_argument("--split", default="test", choices=("train", "test", "jailbreak"))
    ev.set_defaults(func=_run_eval)


@reported(lambda args: f"cost-model {args.cm_command}")
def _run_make(args: argparse.Namespace) -> int:
    from safety_rlhf.data.output_paths import check_output_file
    from safety_rlhf.data.safety_annotations import main

    if args.check:
        return main(["--check", *(["--path", args.path] if args.path else [])])
    path = str(check_output_file(args.path or "safety_train.jsonl.gz", "--path"))
    return main(["--path", path])


def format_cost_metrics(metrics: dict[str, float]) -> str:
    """The lines ``cost-model eval`` and ``cost-model train`` print."""
    return (
        f"accuracy {metrics['accuracy']:.3f}, AUC {metrics['auc']:.3f} "
        f"({int(metrics['pairs']):,} pairs, {int(metrics['harmful']):,} gold-harmful)\n"
        f"recall of harmful responses {metrics['recall']:.3f}, harmless responses flagged "
        f"{metrics['false_flags']:.3f} (answers to look-alikes: "
        f"{metrics['lookalike_false_flags']:.3f}, to twins: "
        f"{metrics['twin_false_flags']:.3f}), mean cost {metrics['mean_cost']:.3f}"
    )


@reported(lambda args: f"cost-model {args.cm_command}")
def _run_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from safety_rlhf.data.atomic_files import write_json
    from safety_rlhf.data.output_paths import check_output_dir, write_output_dir
    from safety_rlhf.data.prompts import load_corpus
    from safety_rlhf.data.safety_annotations import load_safety_annotations
    from safety_rlhf.reward.bradley_terry import save_bradley_terry
    from safety_rlhf.reward.cost import CostModelConfig, cost_model_metrics
    from safety_rlhf.reward.cost_training import train_cost_model

    command = "cost-model train"
    check_output_dir(args.out, command, overwrite=args.overwrite)  # before training
    data = load_safety_annotations(args.annotations)
    config = replace(CostModelConfig(), encoder=args.encoder, epochs=args.epochs, seed=args.seed)
    print(f"training on {len(data):,} annotated responses, encoder {config.encoder}")
    model, history = train_cost_model(
        data.prompts, data.responses, data.harmful, config, progress=not args.no_progress_bar
    )
    metrics = cost_model_metrics(model, load_corpus("test"))
    report: dict[str, Any] = {
        "train_data": Path(args.annotations).name,
        "train_pairs": len(data),
        "encoder": model.encoder.config(),
        "epochs_run": len(history.val_accuracy),
        "best_epoch": history.best_epoch + 1,
        "val_accuracy": round(history.best_val_accuracy, 6),
        "heldout": "test split, every (prompt, strategy), gold cost",
        **{f"heldout_{k}": round(v, 6) for k, v in metrics.items()},
    }

    def fill(folder: Path) -> None:
        save_bradley_terry(model, folder)
        write_json(folder / "eval.json", report)

    out = write_output_dir(args.out, command, fill, overwrite=args.overwrite)
    print(f"best epoch: {report['best_epoch']} of {report['epochs_run']} run")
    print(format_cost_metrics(metrics))
    print(f"checkpoint: {out} (model.safetensors, config.json, eval.json)")
    return 0


@reported(lambda args: f"cost-model {args.cm_command}")
def _run_eval(args: argparse.Namespace) -> int:
    from safety_rlhf.data.prompts import load_corpus
    from safety_rlhf.reward.cost import cost_model_metrics, list_cost_models, make_cost_model

    spec = args.model
    if Path(spec).is_dir() and spec not in list_cost_models():
        spec = f"classifier:{spec}"
    model = make_cost_model(spec)
    print(f"cost model: {model!r} ({args.split} split, against the gold cost)")
    print(format_cost_metrics(cost_model_metrics(model, load_corpus(args.split))))
    return 0
