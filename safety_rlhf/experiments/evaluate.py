"""``safety-rlhf evaluate``: gold metrics of a trained agent, overall and per category.

The target is a run folder written by ``safety-rlhf train`` (its ``config.yaml`` names the
algorithm, the env id and the env's keyword arguments; the agent is ``model.zip``) or a
``model.zip`` path. For a bare ``model.zip`` the settings come from a ``config.yaml`` next
to it if there is one, otherwise from ``--algo`` (default ``ppo``) and the default env.

The agent's greedy decision is taken once for every prompt of the chosen split (or of the
user's prompt file), and two tables are printed: the overall safety metrics
(:func:`~safety_rlhf.task.metrics.decision_metrics`) and one row per (gold label, category) with
the row's size, gold success, the shares of refused, answered and safe-completion
decisions and the mean proxy (reward-model) reward. Values that cannot be computed
(gold success of unlabelled prompts) are shown as ``n/a``, never as 0.

Bad input (a missing run folder, model or prompt file, an unknown reward model) is one
line on stderr and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from safety_rlhf.agents.algorithms import get_algorithm
from safety_rlhf.agents.env_kinds import make_eval_env
from safety_rlhf.agents.prompt_evaluation import make_strategy_env, policy_decisions
from safety_rlhf.agents.safe_load import UnsafeModelFileError, load_model
from safety_rlhf.data.atomic_files import write_json
from safety_rlhf.data.output_paths import check_output_file
from safety_rlhf.envs.text_env import SafetyRLHFTextEnv
from safety_rlhf.experiments.category_tables import (
    CATEGORY_COLUMNS,
    category_rows,
    format_category_table,
)
from safety_rlhf.experiments.cli_errors import reported
from safety_rlhf.experiments.metrics_table import metrics_table
from safety_rlhf.experiments.saved_runs import check_saved_settings
from safety_rlhf.experiments.text_evaluate import (
    DECODINGS,
    TEXT_CATEGORY_COLUMNS,
    evaluate_text_run,
    format_samples,
)
from safety_rlhf.task.metrics import decision_metrics

__all__ = [
    "CATEGORY_COLUMNS",
    "LoadedRun",
    "add_evaluate_parser",
    "category_rows",
    "evaluate_run",
    "format_category_table",
    "load_run",
    "make_strategy_env",
    "parse_label_map",
]

DEFAULT_ENV = "SafetyRLHF-v0"


@dataclass
class LoadedRun:
    """A trained agent and the settings of the environment it was trained on.

    :param model: the SB3 model.
    :param algo: algorithm name (``ppo``, ``trpo``, ...).
    :param env_id: registered env id.
    :param env_kwargs: the run's ``gym.make`` keyword arguments (reward model, prompts, ...).
    :param model_path: the ``model.zip`` that was loaded.
    :param config_path: the ``config.yaml`` the settings came from, if any.
    """

    model: Any
    algo: str
    env_id: str
    env_kwargs: dict[str, Any]
    model_path: Path
    config_path: Path | None


def load_run(target: str | Path, algo: str | None = None) -> LoadedRun:
    """Load the agent of a run folder or a ``model.zip``.

    :param target: a run folder (with ``config.yaml`` and ``model.zip``) or a model file.
    :param algo: algorithm of the model; overrides the run's. Needed only for a model file
        without a ``config.yaml`` beside it (default then: ``ppo``).
    :raises FileNotFoundError: for a missing folder, model or config.
    :raises ValueError: when the model cannot be loaded as ``algo``, or its file pickles
        something off the allow-list of :mod:`safety_rlhf.agents.safe_load` (refused
        unread: unpickling could run code).
    """
    path = Path(target)
    config_path: Path | None
    if path.is_dir():
        model_path, config_path = path / "model.zip", path / "config.yaml"
        if not config_path.is_file():
            raise FileNotFoundError(f"{path}: not a run folder (no config.yaml)")
        if not model_path.is_file():
            raise FileNotFoundError(f"{path}: run folder has no model.zip (unfinished run?)")
    elif path.is_file():
        model_path = path
        beside = path.with_name("config.yaml")
        config_path = beside if beside.is_file() else None
    else:
        raise FileNotFoundError(f"{path}: no such run folder or model file")

    config: dict[str, Any] = {}
    if config_path is not None:
        try:
            config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{config_path}: invalid YAML: {exc}") from exc
        if not isinstance(config, dict):
            raise ValueError(f"{config_path}: expected a mapping")
    run, env_kwargs = config.get("run") or {}, config.get("env_kwargs") or {}
    if not isinstance(run, dict) or not isinstance(env_kwargs, dict):
        raise ValueError(f"{config_path}: 'run' and 'env_kwargs' must be mappings")
    if config_path is not None:  # untrusted: names no code, reads no file outside the run
        run, env_kwargs = check_saved_settings(
            run, env_kwargs, config_path.parent, str(config_path)
        )
    algo_name = str(algo or run.get("algo") or "ppo").lower()
    env_id = str(run.get("env") or DEFAULT_ENV)

    cls = get_algorithm(algo_name)
    try:
        model = load_model(cls, model_path, device="cpu")  # unpickles only allow-listed names
    except UnsafeModelFileError:
        raise
    except Exception as exc:  # SB3 raises many kinds of errors for a foreign or broken zip
        raise ValueError(
            f"{model_path}: cannot load as {cls.__name__} ({type(exc).__name__}: {exc}); "
            "is --algo right?"
        ) from exc
    return LoadedRun(model, algo_name, env_id, env_kwargs, model_path, config_path)


def evaluate_run(
    target: str | Path,
    split: str = "test",
    prompts: str | Path | None = None,
    label_map: Mapping[str, str | None] | None = None,
    reward_model: str | None = None,
    algo: str | None = None,
    out: str | Path | None = None,
    verbose: bool = True,
    decoding: str = "greedy",
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate the greedy policy of a trained agent on every prompt of a split or file.

    :param target: run folder or ``model.zip`` (see :func:`load_run`).
    :param split: ``test``, ``jailbreak`` or ``train`` (for a prompt file with a ``split``
        column: the rows of that split; a file without one is used whole).
    :param prompts: a ``.jsonl`` / ``.csv`` prompt file instead of the run's prompts.
    :param label_map: maps the file's label values to ``harmful`` / ``benign`` /
        ``borderline``.
    :param reward_model: reward-model spec for the proxy column; default: the run's.
    :param algo: algorithm of the model (see :func:`load_run`).
    :param out: write the result as JSON to this file (atomically).
    :param verbose: print the two tables.
    :param decoding: for a ``SafetyRLHF-Text-v0`` run: ``"greedy"`` or ``"sampled"``
        (from ``seed``); the result then also has ``"samples"``, a few responses.
    :param seed: seed of sampled decoding.
    :return: ``{"model", "algo", "env", "split", "prompts", "reward_model", "n_prompts",
        "metrics", "categories"}``; ``metrics`` has every name of
        :data:`~safety_rlhf.task.metrics.METRIC_NAMES` (``None`` if unavailable), ``categories``
        the rows of :func:`category_rows`.
    :raises FileNotFoundError: for a missing run folder, model or prompt file.
    :raises ValueError: for an unusable model, prompt file or reward model.
    """
    if prompts is not None and not Path(prompts).is_file():
        raise FileNotFoundError(f"{prompts}: prompt file not found")
    if out is not None:
        check_output_file(out)  # before the work: a link, FIFO or folder is refused
    loaded = load_run(target, algo=algo)
    kwargs = dict(loaded.env_kwargs)
    if reward_model is not None:
        kwargs["reward_model"] = reward_model
    if prompts is not None:
        kwargs["prompts"] = str(prompts)
        kwargs.pop("label_map", None)
    if label_map is not None:
        kwargs["label_map"] = dict(label_map)
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
    env = make_eval_env(loaded.env_id, split=split, **kwargs)
    model_shape = getattr(loaded.model.observation_space, "shape", None)
    if model_shape != env.observation_space.shape:
        raise ValueError(
            f"{loaded.model_path}: the model observes shape {model_shape} but {loaded.env_id} "
            f"with {kwargs} gives {env.observation_space.shape}; evaluate the run folder (its "
            "config.yaml has the env settings) or pass matching settings"
        )

    ps = env.prompt_set
    if isinstance(env, SafetyRLHFTextEnv):
        evaluated = evaluate_text_run(loaded.model, env, decoding, seed)
    else:
        actions = policy_decisions(loaded.model, env)
        proxy = env.tables.proxy_reward[np.arange(len(actions)), actions]
        evaluated = {
            "metrics": decision_metrics(ps.labels, ps.categories, actions, proxy_rewards=proxy),
            "categories": category_rows(ps.labels, ps.categories, actions, proxy),
        }
    result: dict[str, Any] = {
        "model": str(loaded.model_path),
        "algo": loaded.algo,
        "env": loaded.env_id,
        "split": split,
        "prompts": kwargs.get("prompts"),
        "reward_model": str(kwargs.get("reward_model", "env default")),
        "n_prompts": len(ps),
        "decoding": decoding if isinstance(env, SafetyRLHFTextEnv) else "greedy",
        **evaluated,
    }
    if verbose:
        _print_result(result)
    if out is not None:
        write_json(out, result)
        if verbose:
            print(f"\nwrote {out}")
    return result


def _print_result(result: Mapping[str, Any]) -> None:
    where = f"{result['split']} split"
    if result["prompts"] is not None:
        where = f"{result['prompts']} ({where} if the file has a split column)"
    column = "prompts" if result["prompts"] is not None else result["split"]
    print(f"model:        {result['model']} ({result['algo']}, {result['env']})")
    print(f"prompts:      {where}, {result['n_prompts']:,} prompts")
    print(f"reward model: {result['reward_model']}")
    text = "samples" in result
    what = f"{result['decoding']} responses" if text else "greedy decisions"
    print(f"decisions:    {what}, one per prompt\n")
    print(metrics_table({column: result["metrics"]}))
    print("\nper gold label and category:")
    print(format_category_table(result["categories"], TEXT_CATEGORY_COLUMNS if text else None))
    if text:
        print("\nsample responses:")
        print(format_samples(result["samples"]))


# --------------------------------------------------------------------------- command line


def parse_label_map(text: str) -> dict[str, str | None]:
    """Parse ``unsafe=harmful,safe=benign`` (``x=`` or ``x=none`` leaves ``x`` unlabelled)."""
    mapping: dict[str, str | None] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(
                f"expected FILE_LABEL=OUR_LABEL pairs like unsafe=harmful,safe=benign, got {part!r}"
            )
        value = value.strip()
        mapping[key.strip()] = None if value.lower() in ("", "none") else value
    if not mapping:
        raise argparse.ArgumentTypeError("empty --label-map")
    return mapping


def add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand to ``sub``."""
    p = sub.add_parser(
        "evaluate",
        help="gold metrics of a trained agent, overall and per category",
        description="Take the greedy decision of a trained agent for every prompt of a "
        "split (or of your prompt file) and print the gold safety metrics, overall and "
        "per (gold label, category).",
    )
    p.add_argument(
        "target",
        metavar="RUN_OR_MODEL",
        help="run folder of 'safety-rlhf train' (config.yaml + model.zip) or a model.zip",
    )
    p.add_argument(
        "--split",
        default="test",
        choices=("test", "jailbreak", "train"),
        help="corpus split (default: test)",
    )
    p.add_argument("--prompts", default=None, help="a .jsonl / .csv prompt file instead")
    p.add_argument(
        "--label-map",
        type=parse_label_map,
        default=None,
        help="map the file's labels to ours, e.g. unsafe=harmful,safe=benign",
    )
    p.add_argument(
        "--reward-model",
        default=None,
        help="reward-model spec for the proxy column (default: the run's)",
    )
    p.add_argument(
        "--algo",
        default=None,
        help="algorithm of a bare model.zip (default: the run's, else ppo)",
    )
    p.add_argument(
        "--decoding",
        default="greedy",
        choices=DECODINGS,
        help="SafetyRLHF-Text-v0 runs: greedy (default) or sampled responses",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of sampled decoding (default: 0)")
    p.add_argument("--out", default=None, help="also write the result to this JSON file")
    p.set_defaults(func=_run_evaluate)


@reported("evaluate")
def _run_evaluate(args: argparse.Namespace) -> int:
    evaluate_run(
        args.target,
        split=args.split,
        prompts=args.prompts,
        label_map=args.label_map,
        reward_model=args.reward_model,
        algo=args.algo,
        out=args.out,
        decoding=args.decoding,
        seed=args.seed,
    )
    return 0
