"""``safety-rlhf reward-model``: make preference data, train and evaluate reward models.

Subcommands:

* ``make-preferences``: write the preference files (simulated-annotator train pairs, gold
  test pairs). With the defaults it regenerates the shipped files byte for byte.
* ``train``: train a Bradley-Terry reward model on preference pairs, save the checkpoint
  (``model.safetensors``, ``config.json``) and an ``eval.json`` with the best epoch (counted
  from 1), its validation accuracy and the gold pairwise accuracy on the shipped held-out
  test pairs. ``--text`` trains a text reward model (``learned-text``'s recipe: the shipped
  text preference pairs too, its settings, and the held-out text pair accuracy, per prompt
  group, in ``eval.json``).
* ``eval``: pairwise accuracy of any reward model on held-out pairs, and its label x
  strategy table next to gold's: where the two disagree, an agent can exploit the model.
  For text models (and with ``--text``), also the accuracy on the held-out text pairs.

Bad input (a missing or malformed file, an unknown model spec) is reported as one line on
stderr with exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from safety_rlhf.experiments.cli_errors import reported
from safety_rlhf.experiments.preferences_cli import add_make_preferences

__all__ = ["add_reward_model_parser"]

#: The ``train --preferences`` default: the shipped simulated-annotator pairs.
SHIPPED_TRAIN = "shipped:train"


def _hidden(text: str) -> tuple[int, ...]:
    """Parse ``--hidden 256,64`` (empty: no hidden layer)."""
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes like 256,64, got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def add_reward_model_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``reward-model`` subcommand (with its own subcommands) to ``sub``."""
    p = sub.add_parser(
        "reward-model",
        help="make preference data, train and evaluate reward models",
        description="Make preference pairs, train a Bradley-Terry reward model on them, "
        "and evaluate any reward model against the gold standard.",
    )
    rm_sub = p.add_subparsers(dest="rm_command", required=True, metavar="SUBCOMMAND")
    add_make_preferences(rm_sub)
    _add_train(rm_sub)
    _add_eval(rm_sub)


# ----------------------------------------------------------------------------------- train


def _add_train(sub: argparse._SubParsersAction) -> None:
    from safety_rlhf.data.preferences import FORMATS
    from safety_rlhf.reward.bradley_terry import BradleyTerryConfig
    from safety_rlhf.reward.text_reward_model import TEXT_CONFIG

    d, t = BradleyTerryConfig(), TEXT_CONFIG

    def default(name: str) -> str:
        plain, text = getattr(d, name), getattr(t, name)
        if isinstance(plain, tuple):
            plain, text = ",".join(map(str, plain)), ",".join(map(str, text))
        return f"default: {plain}" + ("" if plain == text else f"; with --text: {text}")

    p = sub.add_parser(
        "train",
        help="train a Bradley-Terry reward model on preference pairs",
        description="Train a Bradley-Terry reward model (MLP on prompt and response "
        "encodings) on preference pairs, save it as a checkpoint folder, and report its "
        "gold pairwise accuracy on the shipped held-out test pairs (also in eval.json). "
        "With --text, train the text reward model learned-text: the pairs plus the shipped "
        "pairs of sampled free text, learned-text's settings, and accuracy on the held-out "
        "text pairs too ('safety-rlhf reward-model train --text --out DIR' reproduces it).",
    )
    p.add_argument(
        "--preferences",
        default=SHIPPED_TRAIN,
        help="preference file (.jsonl, .csv, .jsonl.gz, HH-RLHF; default: the shipped train pairs)",
    )
    p.add_argument(
        "--format", choices=FORMATS, default="auto", help="preference file format (default: auto)"
    )
    p.add_argument("--prompt-column", default="prompt", help="prompt column (default: prompt)")
    p.add_argument("--chosen-column", default="chosen", help="chosen column (default: chosen)")
    p.add_argument(
        "--rejected-column", default="rejected", help="rejected column (default: rejected)"
    )
    p.add_argument(
        "--text",
        action="store_true",
        help="also train on the shipped text preference pairs, with learned-text's settings "
        "(flags below override them), and report the held-out text pair accuracy",
    )
    p.add_argument(
        "--text-pairs",
        type=_positive,
        default=None,
        metavar="N",
        help="with --text: only the first N shipped text pairs (default: all)",
    )
    p.add_argument(
        "--encoder",
        choices=("hashing", "minilm"),
        default=None,
        help=f"text encoder of the prompt (and of the response, without --response-encoder; "
        f"{default('encoder')})",
    )
    p.add_argument(
        "--dim", type=int, default=None, help="encoder dimension (default: the encoder's own)"
    )
    p.add_argument(
        "--response-encoder",
        choices=("hashing", "minilm", "phrases"),
        default=None,
        help=f"text encoder of the response ({default('response_encoder')}; "
        "phrases: the response language's phrase counts, for text-env responses)",
    )
    p.add_argument(
        "--response-dim",
        type=int,
        default=None,
        help=f"response encoder dimension ({default('response_dim')})",
    )
    p.add_argument(
        "--epochs",
        type=_positive,
        default=None,
        help=f"most epochs; stops early ({default('epochs')})",
    )
    p.add_argument("--seed", type=int, default=None, help=f"seed ({default('seed')})")
    p.add_argument(
        "--hidden", type=_hidden, default=None, help=f"hidden layer sizes ({default('hidden')})"
    )
    p.add_argument("--margin", type=float, default=None, help=f"loss margin ({default('margin')})")
    p.add_argument(
        "--centering",
        type=float,
        default=None,
        help=f"weight of the reward-centering term ({default('centering')})",
    )
    p.add_argument("--no-progress-bar", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--out",
        required=True,
        help="checkpoint folder to write: new, empty, or an earlier output of this command",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out folder that this command did not write",
    )
    p.set_defaults(func=_run_train)


def _positive(text: str) -> int:
    """Parse a positive whole number (``--text-pairs``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _train_config(args: argparse.Namespace) -> Any:
    """The :class:`BradleyTerryConfig` of ``train``: ``learned``'s defaults, or
    ``learned-text``'s with ``--text``, with every flag given on the command line applied."""
    from dataclasses import replace

    from safety_rlhf.reward.bradley_terry import BradleyTerryConfig
    from safety_rlhf.reward.text_reward_model import TEXT_CONFIG

    base = TEXT_CONFIG if args.text else BradleyTerryConfig()
    names = ("encoder", "dim", "response_encoder", "response_dim", "epochs", "seed", "hidden",
             "margin", "centering")  # fmt: skip
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    config = replace(base, **given)
    if args.response_encoder is not None and args.response_encoder != base.response_encoder:
        config = replace(config, response_options={})  # the options belong to the base's encoder
    return config


@reported(lambda args: f"reward-model {args.rm_command}")
def _run_train(args: argparse.Namespace) -> int:
    from safety_rlhf.data.atomic_files import write_json
    from safety_rlhf.data.output_paths import check_output_dir, write_output_dir
    from safety_rlhf.data.preferences import load_preferences, load_shipped_preferences
    from safety_rlhf.reward.bradley_terry import save_bradley_terry
    from safety_rlhf.reward.bradley_terry_training import train_bradley_terry
    from safety_rlhf.reward.text_reward_training import text_training_pairs, training_report

    command = "reward-model train"
    if args.text_pairs is not None and not args.text:
        raise ValueError("--text-pairs needs --text")
    check_output_dir(args.out, command, overwrite=args.overwrite)  # before hours of training
    if args.preferences == SHIPPED_TRAIN:
        prefs = load_shipped_preferences("train")
        source = "shipped train pairs"
    else:
        prefs = load_preferences(
            args.preferences,
            prompt_column=args.prompt_column,
            chosen_column=args.chosen_column,
            rejected_column=args.rejected_column,
            format=args.format,
        )
        source = str(args.preferences)
    n_text = None
    if args.text:
        prefs, n_text = text_training_pairs(prefs, args.text_pairs)
        source += f" + {n_text:,} shipped text pairs"
    config = _train_config(args)
    encoders = config.encoder + (f" + {config.response_encoder}" if config.response_encoder else "")
    print(f"training on {len(prefs):,} pairs ({source}), encoder {encoders}")
    model, history = train_bradley_terry(
        prefs.prompts, prefs.chosen, prefs.rejected, config, progress=not args.no_progress_bar
    )
    if n_text is not None:
        model.meta["training"]["text_pairs"] = n_text
    train_data = SHIPPED_TRAIN if args.preferences == SHIPPED_TRAIN else Path(args.preferences).name
    report = training_report(model, history, train_data, len(prefs), n_text)

    def fill(folder: Path) -> None:
        save_bradley_terry(model, folder)
        write_json(folder / "eval.json", report)

    out = write_output_dir(args.out, command, fill, overwrite=args.overwrite)
    print(
        f"best epoch: {report['best_epoch']} of {report['epochs_run']} run, "
        f"validation accuracy {history.best_val_accuracy:.3f}"
    )
    print(
        f"held-out gold pairwise accuracy: {report['heldout_accuracy']:.3f} "
        f"({report['heldout_pairs']:,} shipped test pairs)"
    )
    if n_text is not None:
        print(
            f"held-out text pairwise accuracy: {report['text_heldout_accuracy']:.3f} "
            f"({report['text_heldout_pairs']:,} shipped text test pairs)"
        )
    print(f"checkpoint: {out} (model.safetensors, config.json, eval.json)")
    return 0


# ------------------------------------------------------------------------------------ eval


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="pairwise accuracy and label x strategy table of a reward model",
        description="Evaluate a reward model: its pairwise accuracy on held-out preference "
        "pairs, and, per gold label, its mean score of each strategy next to gold's. A "
        "DISAGREES row is where an agent trained on the model learns the wrong strategy.",
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help="reward-model spec (learned, rule, gold, "
        "bradley-terry:DIR, ...) or a checkpoint folder",
    )
    p.add_argument(
        "--pairs",
        default=None,
        help="held-out preference file (default: the shipped gold test pairs)",
    )
    p.add_argument(
        "--split",
        default="test",
        choices=("train", "test", "jailbreak"),
        help="corpus split of the strategy table (default: test)",
    )
    p.add_argument(
        "--text",
        action="store_true",
        help="also report the accuracy on the shipped held-out pairs of sampled free text "
        "(automatic for text models such as learned-text)",
    )
    p.set_defaults(func=_run_eval)


def _print_accuracy(title: str, by_group: dict[str, tuple[float, int]], where: str) -> None:
    """``title: 0.xxx (n pairs, where)``, then one line per prompt group."""
    print(f"{title}: {by_group['all'][0]:.3f} ({by_group['all'][1]:,} pairs, {where})")
    if set(by_group) != {"other", "all"}:
        print("  by the prompt's group in the shipped corpus:")
        for name, (accuracy, n) in by_group.items():
            if name != "all":
                print(f"  {name:<16} {accuracy:.3f} ({n:,} pairs)")


def _model_spec(text: str) -> str:
    """A checkpoint folder becomes ``bradley-terry:DIR``; registered names win over folders."""
    from safety_rlhf.reward import list_reward_models

    if Path(text).is_dir() and text not in list_reward_models():
        return f"bradley-terry:{text}"
    return text


@reported(lambda args: f"reward-model {args.rm_command}")
def _run_eval(args: argparse.Namespace) -> int:
    from safety_rlhf.data.preferences import DEFAULT_TEST_PATH, load_preferences
    from safety_rlhf.data.prompts import load_corpus
    from safety_rlhf.reward import make_reward_model
    from safety_rlhf.reward.diagnostics import (
        format_strategy_table,
        pairwise_accuracy_by_group,
        preference_columns,
        prompt_groups,
        strategy_table,
    )
    from safety_rlhf.reward.text_reward_model import heldout_accuracy_by_group, is_text_model

    model = make_reward_model(_model_spec(args.model))
    pairs_path = Path(args.pairs) if args.pairs is not None else DEFAULT_TEST_PATH
    prefs = load_preferences(pairs_path)
    corpus = [load_corpus(split) for split in ("train", "test", "jailbreak")]
    groups = prompt_groups(prefs.prompts, *corpus)
    by_group = pairwise_accuracy_by_group(model, prefs, groups, **preference_columns(pairs_path))
    where = "shipped gold test pairs" if args.pairs is None else str(pairs_path)
    print(f"reward model: {model!r}")
    _print_accuracy("pairwise accuracy", by_group, where)
    if args.text or is_text_model(model):
        text = heldout_accuracy_by_group(model, "text-test")
        _print_accuracy("pairwise accuracy on sampled text", text, "shipped held-out text pairs")
    print()
    print(f"mean score per gold label and strategy ({args.split} split):")
    print(format_strategy_table(strategy_table(model, load_corpus(args.split))))
    return 0
