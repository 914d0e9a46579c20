"""``safety-rlhf reward-model make-preferences``: write the preference files (simulated-
annotator train pairs, gold test pairs); with the defaults, the shipped files byte for byte."""

from __future__ import annotations

import argparse

from safety_rlhf.experiments.cli_errors import reported

__all__ = ["add_make_preferences"]


def add_make_preferences(sub: argparse._SubParsersAction) -> None:
    from safety_rlhf.data.simulated_annotator import AnnotatorConfig

    d = AnnotatorConfig()
    p = sub.add_parser(
        "make-preferences",
        help="write simulated-annotator train pairs and gold test pairs",
        description="Write preference pairs for the shipped corpus: the simulated annotator "
        "on the train split, gold preferences on the test split. The defaults give the "
        "shipped files byte for byte; they are written into the working directory (no "
        "command writes into the installed package).",
    )
    p.add_argument(
        "--train-out",
        default="preferences_train.jsonl.gz",
        help="train pairs file (default: ./preferences_train.jsonl.gz; .gz is gzipped)",
    )
    p.add_argument(
        "--test-out",
        default="preferences_test.jsonl.gz",
        help="gold test pairs file (default: ./preferences_test.jsonl.gz)",
    )
    p.add_argument(
        "--noise",
        type=float,
        default=d.noise,
        help=f"probability a choice is flipped (default: {d.noise})",
    )
    p.add_argument(
        "--caveat-bias",
        type=float,
        default=d.caveat_bias,
        help=f"bonus for a response that apologises or cautions (default: {d.caveat_bias})",
    )
    p.add_argument(
        "--length-bias",
        type=float,
        default=d.length_bias,
        help=f"bonus per 100 characters (default: {d.length_bias})",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=d.temperature,
        help=f"temperature of the logistic choice (default: {d.temperature})",
    )
    p.add_argument(
        "--pairs-per-prompt",
        type=int,
        default=d.pairs_per_prompt,
        help=f"strategy pairs per prompt, 1..15 (default: {d.pairs_per_prompt})",
    )
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed (default: {d.seed})")
    p.set_defaults(func=_run_make_preferences)


@reported(lambda args: f"reward-model {args.rm_command}")
def _run_make_preferences(args: argparse.Namespace) -> int:
    from safety_rlhf.data.output_paths import check_output_file
    from safety_rlhf.data.preferences import load_preferences
    from safety_rlhf.data.simulated_annotator import AnnotatorConfig, make_preference_files

    check_output_file(args.train_out, "--train-out")
    check_output_file(args.test_out, "--test-out")
    config = AnnotatorConfig(
        noise=args.noise,
        caveat_bias=args.caveat_bias,
        length_bias=args.length_bias,
        temperature=args.temperature,
        pairs_per_prompt=args.pairs_per_prompt,
        seed=args.seed,
    )
    paths = make_preference_files(args.train_out, args.test_out, config)
    for kind, path in zip(("train", "test"), paths, strict=True):
        print(f"{kind}: {path} ({len(load_preferences(path)):,} pairs)")
    return 0
