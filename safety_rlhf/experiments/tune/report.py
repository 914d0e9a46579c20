"""The result of ``safety-rlhf tune``: ``OUT/<algo>.yml``, the best trial's hyperparameters.

The file is in the package's rl-zoo3 format (``{env_id: {key: value}}``, a comment above
every key), so ``safety-rlhf train --config OUT/<algo>.yml`` (and rl-zoo3) takes it: the
shipped entry with the best trial's drawn settings over it and ``n_timesteps`` set to the
budget the trials had. Its header holds the study's evidence: name and storage, the
objective, the trial counts, the best trial with its per-seed scores, the top five, the
command line and the date. It is checked by the same validation as any YAML the package
reads before it is written, atomically.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from safety_rlhf.agents.algorithms import check_hyperparams, get_algorithm, load_hyperparams
from safety_rlhf.agents.search_spaces import merge_over
from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.data.output_paths import check_output_file
from safety_rlhf.experiments.tune.objective import METRIC
from safety_rlhf.experiments.tune.settings import StudySettings
from safety_rlhf.experiments.tune.storage import shown_url

__all__ = [
    "best_entry",
    "header_text",
    "objective_text",
    "ranked_trials",
    "render_yaml",
    "write_best_yaml",
]

#: Trials listed in the header.
TOP = 5


class _Dumper(yaml.SafeDumper):
    """``yaml.safe_dump``'s output, but lists on one line, as the shipped YAMLs write
    ``net_arch: [64, 64]``."""


_Dumper.add_representer(
    list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, True)
)


def objective_text(s: StudySettings) -> str:
    """The objective in words, as the header states it.

    :param s: the study's settings.
    """
    seeds = "seed 0" if s.seeds == 1 else f"seeds 0-{s.seeds - 1}"
    return (
        f"mean over {seeds} of the mean test-split {METRIC} of each run's last "
        f"{s.last_evals} evaluation(s) (every {s.eval_freq:,} steps and at the end of "
        f"{s.timesteps:,}; reward model {s.reward_model or 'the env default'})"
    )


def best_entry(s: StudySettings, hyperparams: dict[str, Any]) -> dict[str, Any]:
    """The shipped YAML entry with ``hyperparams`` over it and ``n_timesteps`` the trials'
    budget, checked as any YAML entry is.

    :param s: the study's settings (algorithm, env, budget).
    :param hyperparams: the best trial's drawn hyperparameters.

    :raises ValueError: if the merged entry does not pass the hyperparameter check.
    """
    entry = merge_over(load_hyperparams(s.algo, s.env), hyperparams)
    entry["n_timesteps"] = s.timesteps
    return check_hyperparams(get_algorithm(s.algo), entry, f"tuned {s.algo} entry")


def _compact(params: dict[str, Any]) -> str:
    return " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def header_text(text: str) -> str:
    """``text`` safe on a comment line: every character that is not printable (a newline,
    a control character, a lone surrogate of an undecodable argument) as its escape.

    :param text: an argument, a path, a name.

    >>> header_text("evil\\nSafetyRLHF-v0: 1")
    'evil\\\\nSafetyRLHF-v0: 1'
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def ranked_trials(study: Any) -> list[Any]:
    """The complete trials of ``study`` that tune ran (they record their drawn
    ``hyperparams``), best first; a trial added to the study otherwise is left out.

    :param study: the study.
    """
    complete = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state.name == "COMPLETE" and isinstance(t.user_attrs.get("hyperparams"), dict)
    ]
    return sorted(complete, key=lambda t: t.value, reverse=True)


def _scores(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def render_yaml(
    s: StudySettings,
    study: Any,
    url: str,
    counts: dict[str, int],
    command: str,
) -> str:
    """The text of ``OUT/<algo>.yml`` for the best complete trial of ``study``.

    :param s: the study's settings.
    :param study: the study (at least one trial complete); complete trials without the
        ``hyperparams`` tune records are left out (:func:`ranked_trials`).
    :param url: the storage URL (shown without its password).
    :param counts: the trials by state (:func:`~.study.trial_counts`).
    :param command: the command line, as typed.
    :raises ValueError: if no complete trial records its hyperparameters, or the entry
        fails the hyperparameter check or the YAML round trip.
    """
    ranked = ranked_trials(study)
    if not ranked:
        raise ValueError(
            f"study {study.study_name!r}: no complete trial records its hyperparameters "
            "(trials not run by safety-rlhf tune); no YAML written"
        )
    best = ranked[0]
    drawn = best.user_attrs["hyperparams"]
    entry = best_entry(s, drawn)
    env = s.env.split(":", 1)[-1]
    header = [
        f"{s.algo} hyperparameters for {env} chosen by `safety-rlhf tune` (Optuna), in the",
        "rl-zoo3 format: env id -> settings; use with",
        f"  safety-rlhf train --algo {s.algo} --env {env} --config THIS_FILE",
        f"study: {study.study_name} in {shown_url(url)} (see: optuna-dashboard {shown_url(url)})",
        f"objective (maximised): {objective_text(s)}",
        f"trials: {counts['COMPLETE']} complete, {counts['PRUNED']} pruned (median pruner), "
        f"{counts['FAIL']} failed",
        f"best: trial {best.number}, value {best.value:.4f}, per seed: "
        f"{_scores(best.user_attrs.get('seed_values', []))}",
        f"top {min(TOP, len(ranked))} trials (value; per seed; drawn settings):",
    ]
    for t in ranked[:TOP]:
        seeds = _scores(t.user_attrs.get("seed_values", []))
        header.append(f"  trial {t.number}: {t.value:.4f}; {seeds}; {_compact(t.params)}")
    header += [
        f"command: {command}",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]
    # every argument, name and path made safe: a newline would end the comment
    lines = [f"# {header_text(line)}" for line in header] + [f"{env}:"]
    for key, value in entry.items():
        if key == "n_timesteps":
            why = "training budget: the budget every trial had (--timesteps)"
        elif key in drawn:
            why = f"tuned: trial {best.number}'s draw"
            if key == "policy_kwargs":
                why += f" ({', '.join(drawn[key])}) over the shipped entry's"
        else:
            why = f"not searched: as in the shipped {s.algo}.yml"
        body = yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False)
        lines.append(f"  # {why}")
        lines += [f"  {line}" for line in body.rstrip("\n").split("\n")]
    text = "\n".join(lines) + "\n"
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"tuned {s.algo} entry is not valid YAML: {exc}") from None
    if loaded != {env: entry}:  # the file says what was chosen
        raise ValueError(f"tuned {s.algo} entry does not round-trip through YAML")
    return text


def write_best_yaml(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a new path or a regular file, no link).

    :param path: ``OUT/<algo>.yml``.
    :param text: what :func:`render_yaml` made.
    """
    return atomic_write_text(check_output_file(path), text)
