"""Running a study: the Optuna study in its storage, and its trials, locally or on Ray.

The study lives in an Optuna RDB storage (``sqlite:///OUT/study.db`` by default) and the
command runs trials until the study holds ``--trials`` finished ones (complete or pruned):
a re-run of a stopped command (Ctrl-C, SIGTERM, even SIGKILL) runs only the missing ones.
The storage beats a heart for every running trial; a trial whose command was killed stops
beating and is marked failed by the next trial that starts after the grace period.

Locally, trials run one after another in this process (``study.optimize(n_trials=1)``
until the count is reached). With ``--backend ray`` every trial is a Ray task
(:func:`run_trial_task`) that opens the same storage, loads the study and runs one trial.
Why Optuna's storage shared by Ray tasks rather than Ray Tune: the storage is the one
record of the study, so a study resumes after any stop, SIGKILL included, with the same
command; pruning is Optuna's own (the same median pruner as in a local study, reading the
other trials' reports from the storage); and local and Ray runs share one objective and
one trial function, so the backend changes where a trial runs, not what it computes.
A cluster needs a storage every node reaches: a PostgreSQL or MySQL URL, or SQLite on a
file system the nodes share (SQLite over a network file system is fragile; one machine
is its home). The run folders (``OUT/runs/``) are written where a task runs.

A failed trial (an exception in training) is reported with its error line, its traceback
goes to ``OUT/runs/trial-<n>/error.txt``, and it does not count; after
:data:`MAX_FAILURES` failures in one invocation the command stops.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.experiments.cli_errors import one_line
from safety_rlhf.experiments.tune.objective import Objective
from safety_rlhf.experiments.tune.settings import StudySettings, import_optuna
from safety_rlhf.experiments.tune.storage import open_storage, shown_url

__all__ = [
    "ERROR_FILE",
    "MAX_FAILURES",
    "load_or_create_study",
    "make_pruner",
    "make_sampler",
    "quiet",
    "run_one_trial",
    "run_trial_task",
    "trial_counts",
]

#: Failed trials after which one invocation stops.
MAX_FAILURES = 3
#: The traceback of a failed trial, in its runs folder.
ERROR_FILE = "error.txt"
#: Trials the median pruner lets finish before it prunes any.
PRUNER_STARTUP_TRIALS = 5


def quiet(optuna: ModuleType) -> None:
    """Optuna logs errors only: the command prints its own line per trial.

    :param optuna: the ``optuna`` module.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def make_sampler(optuna: ModuleType, seed: int) -> Any:
    """The TPE sampler seeded with ``seed``.

    :param optuna: the ``optuna`` module.
    :param seed: the sampler's seed.
    """
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(optuna: ModuleType, settings: StudySettings) -> Any:
    """The median pruner: no pruning in the first :data:`PRUNER_STARTUP_TRIALS` trials,
    nor in the first half of a trial's first run (steps up to ``timesteps // 2``).

    :param optuna: the ``optuna`` module.
    :param settings: the study's settings (``timesteps``).
    """
    return optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=settings.timesteps // 2
    )


def load_or_create_study(
    optuna: ModuleType, storage: Any, url: str, name: str, settings: StudySettings, seed: int
) -> Any:
    """The study ``name`` in ``storage``, created (maximising, with ``settings`` as user
    attributes) if it is not there.

    The sampler is seeded with ``seed`` plus the number of trials already in the study: a
    new study from the same seed draws the same first trials, and a resumed one does not
    repeat the draws of the invocation it continues.

    :param optuna: the ``optuna`` module.
    :param storage: the opened storage (:func:`~.storage.open_storage`).
    :param url: its URL, for messages.
    :param name: the study name.
    :param settings: the settings a new study records and a resumed one must have.
    :param seed: the ``--seed`` of the sampler.
    :raises ValueError: one line, before anything is written to the study, when it exists
        with other settings, direction or number of objectives, or holds trials but no
        settings (a study not made by tune).
    """
    pruner = make_pruner(optuna, settings)
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="maximize",
        load_if_exists=True,
        pruner=pruner,
    )
    where = f"study {name!r} in {shown_url(url)}"
    # checks first, writes after: a study that is refused is left as it was
    maximize = optuna.study.StudyDirection.MAXIMIZE
    if list(study.directions) != [maximize]:
        if len(study.directions) != 1:
            raise ValueError(f"{where} has {len(study.directions)} objectives; tune maximises one")
        raise ValueError(f"{where} minimises; tune maximises")
    attrs, trials = study.user_attrs, len(study.get_trials(deepcopy=False))
    recorded = all(key in attrs for key in settings.as_attrs())
    if recorded and settings.differences(attrs):
        raise ValueError(
            f"{where} was made with other settings "
            f"({'; '.join(settings.differences(attrs))}); use the same settings or another "
            "--study-name"
        )
    if not recorded and trials:
        raise ValueError(
            f"{where} holds {trials} trial(s) but no tune settings (not made by "
            "safety-rlhf tune); use another --study-name"
        )
    if not recorded:  # new (or made by a command stopped before it recorded them)
        for key, value in settings.as_attrs().items():
            study.set_user_attr(key, value)
    study.sampler = make_sampler(optuna, seed + len(study.get_trials(deepcopy=False)))
    return study


def trial_counts(study: Any) -> dict[str, int]:
    """Trials of ``study`` by state name (``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING``,
    ``WAITING``), and ``finished``: complete plus pruned.

    :param study: the study.
    """
    counts = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0, "RUNNING": 0, "WAITING": 0}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    counts["finished"] = counts["COMPLETE"] + counts["PRUNED"]
    return counts


def run_one_trial(study: Any, objective: Objective) -> dict[str, Any]:
    """Run one trial of ``study``; an exception in it is returned, not raised (but SIGINT
    and SIGTERM, :class:`~safety_rlhf.agents.interrupts.Interrupted`, propagate).

    :param study: the study, with its sampler and pruner.
    :param objective: the objective; a failed trial's traceback goes to its runs folder.

    :return: ``{"number", "state", "value", "seed_values", "seconds"}``, or for a failed
        trial ``{"number", "state": "FAIL", "error"}`` (``number`` ``None`` if it failed
        before it began).
    """
    start = time.perf_counter()
    finished: list[Any] = []
    objective.number = None
    try:
        study.optimize(objective, n_trials=1, callbacks=[lambda _study, t: finished.append(t)])
    except Exception as exc:
        number = objective.number
        if number is not None:
            atomic_write_text(objective.log_dir(number) / ERROR_FILE, traceback.format_exc())
        return {
            "number": number,
            "state": "FAIL",
            "error": one_line(f"{type(exc).__name__}: {exc}"),
        }
    (trial,) = finished
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "seed_values": trial.user_attrs.get("seed_values", []),
        "seconds": time.perf_counter() - start,
    }


def run_trial_task(
    url: str, name: str, settings: StudySettings, out: str, argv: list[str], seed: int
) -> dict[str, Any]:
    """One trial as a Ray task: open the storage at ``url``, load study ``name`` with a TPE
    sampler seeded with ``seed`` and run one trial (:func:`run_one_trial`).

    :param url: the storage URL (a SQLite path absolute: a task's folder is not the
        driver's).
    :param name: the study name.
    :param settings: the study's settings.
    :param out: the output folder (absolute) of the runs.
    :param argv: the command line, for the runs' ``command.txt``.
    :param seed: the sampler's seed (one per task: tasks must not draw alike).
    """
    optuna = import_optuna()
    quiet(optuna)
    study = optuna.load_study(
        study_name=name,
        storage=open_storage(optuna, url),
        sampler=make_sampler(optuna, seed),
        pruner=make_pruner(optuna, settings),
    )
    return run_one_trial(study, Objective(settings, Path(out), argv))


def describe(outcome: dict[str, Any]) -> str:
    """One progress line about a trial's outcome.

    :param outcome: what :func:`run_one_trial` returned.
    """
    number = outcome.get("number")
    name = f"trial {number}" if number is not None else "a trial"
    if outcome["state"] == "FAIL":
        return f"{name}: FAILED: {outcome['error']}"
    seeds = ", ".join(f"{v:.3f}" for v in outcome.get("seed_values") or [])
    seconds = f", {outcome['seconds']:.0f} s" if "seconds" in outcome else ""
    if outcome["state"] == "PRUNED":
        return f"{name}: pruned (finished seeds: {seeds or 'none'}){seconds}"
    return f"{name}: value {outcome['value']:.4f} (per seed: {seeds}){seconds}"


#: Called with each trial's outcome as it arrives.
Report = Callable[[dict[str, Any]], None]
