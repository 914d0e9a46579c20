"""``safety-rlhf tune`` from start to end: checks, the output folder, the run loop, the YAML.

Everything that can be refused (the settings, Optuna and Ray being installed, the Ray
address, the output folder, the storage URL, a resumed study's settings) is checked before
the output folder is made or marked; then trials run (:mod:`.study`) until the study
holds ``--trials`` finished ones, and the best trial is written as ``OUT/<algo>.yml``
(:mod:`.report`).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safety_rlhf.agents.interrupts import Interrupted
from safety_rlhf.data.atomic_files import atomic_write_text
from safety_rlhf.data.output_paths import MARKER, check_output_dir
from safety_rlhf.experiments.cli_errors import one_line
from safety_rlhf.experiments.ray_backend import (
    check_ray,
    ray_session,
    run_ray_tasks,
)
from safety_rlhf.experiments.tune.objective import Objective
from safety_rlhf.experiments.tune.report import ranked_trials, render_yaml, write_best_yaml
from safety_rlhf.experiments.tune.settings import (
    StudySettings,
    TuneConfig,
    import_optuna,
    study_settings,
)
from safety_rlhf.experiments.tune.storage import (
    absolute_url,
    check_storage_url,
    open_storage,
    recorded_argv,
)
from safety_rlhf.experiments.tune.study import (
    MAX_FAILURES,
    describe,
    load_or_create_study,
    quiet,
    run_one_trial,
    run_trial_task,
    trial_counts,
)

__all__ = ["TuneInterrupted", "TuneResult", "run_tune"]


class TuneInterrupted(Interrupted):
    """SIGINT or SIGTERM stopped ``tune``; its finished trials are in the storage.

    :param signum: the signal.
    :param finished: finished trials in the study.
    :param total: the trials asked for.
    :param argv: the command line to run again (the storage password hidden).
    """

    def __init__(self, signum: int, finished: int, total: int, argv: list[str]) -> None:
        super().__init__(signum)
        self.finished, self.total, self.argv = finished, total, argv


@dataclass
class TuneResult:
    """What a ``tune`` invocation produced."""

    out: Path
    """The output folder."""
    url: str
    """The storage URL."""
    counts: dict[str, int]
    """The study's trials by state, and ``finished``."""
    failures: list[str] = field(default_factory=list)
    """The error lines of this invocation's failed trials."""
    yaml: Path | None = None
    """``OUT/<algo>.yml``, if a trial completed."""
    best_value: float | None = None
    """The best trial's value."""
    best_number: int | None = None
    """The best trial's number."""
    seconds: float = 0.0
    """Wall time of this invocation."""


def run_tune(
    cfg: TuneConfig, argv: Sequence[str] | None = None, log: Callable[[str], None] = print
) -> TuneResult:
    """Run trials until the study holds ``cfg.trials`` finished ones; write the best.

    :param cfg: what to tune.
    :param argv: the command line (without the program name), recorded in the YAML and in
        every run's ``command.txt`` with the ``--storage`` password hidden;
        ``None``: ``sys.argv[1:]``.
    :param log: where the progress lines go.
    :raises ValueError: for bad settings, a missing Optuna or Ray, an unreachable
        ``--address``, an output folder or storage that cannot be used, or a study of the
        same name made with other settings; all before anything is written.
    :raises TuneInterrupted: on SIGINT or SIGTERM (inside ``signals_raise``).
    """
    start = time.perf_counter()
    # as recorded everywhere (YAML, command.txt, messages): no storage password
    argv = recorded_argv(list(sys.argv[1:] if argv is None else argv), cfg.storage)
    optuna = import_optuna()
    quiet(optuna)
    settings = study_settings(cfg)
    if cfg.backend == "ray":  # Ray installed, the cluster joinable, the CPU request met
        check_ray(cfg.address, cfg.cpus_per_trial, None)
    # the output rule: a new or empty folder, or an earlier tune's (marked below)
    out = check_output_dir(cfg.out_dir(), "tune")
    # checked as typed (a relative SQLite path from here), then made absolute for Ray
    check_storage_url(cfg.storage_url(), folder_may_be_missing=cfg.storage is None)
    url, name = absolute_url(cfg.storage_url()), cfg.name()
    study = None
    if cfg.storage is not None or out.is_dir():  # its folder exists: check it first
        study = load_or_create_study(
            optuna, open_storage(optuna, url), url, name, settings, cfg.seed
        )
    out.mkdir(parents=True, exist_ok=True)
    if not (out / MARKER).is_file():
        atomic_write_text(out / MARKER, json.dumps({"command": "tune"}) + "\n")
    if study is None:
        study = load_or_create_study(
            optuna, open_storage(optuna, url), url, name, settings, cfg.seed
        )

    failures: list[str] = []

    def report(outcome: dict[str, Any]) -> None:
        if outcome["state"] == "FAIL":
            failures.append(outcome["error"])
        log(describe(outcome))

    counts = trial_counts(study)
    log(
        f"study {name!r}: {counts['finished']} of {cfg.trials} trial(s) finished; "
        f"running the rest ({cfg.backend}) into {out}/runs"
    )
    try:
        if cfg.backend == "ray":
            _run_ray(cfg, study, settings, url, out, argv, failures, report)
        else:
            objective = Objective(settings, out, argv)
            while trial_counts(study)["finished"] < cfg.trials and len(failures) < MAX_FAILURES:
                report(run_one_trial(study, objective))
    except Interrupted as exc:
        finished = trial_counts(study)["finished"]
        raise TuneInterrupted(exc.signum, finished, cfg.trials, argv) from None

    counts = trial_counts(study)
    result = TuneResult(out=out, url=url, counts=counts, failures=failures)
    if counts["COMPLETE"]:
        command = shlex.join(["safety-rlhf", *argv])
        text = render_yaml(settings, study, url, counts, command)
        result.yaml = write_best_yaml(out / f"{settings.algo}.yml", text)
        best = ranked_trials(study)[0]  # render_yaml found one
        result.best_value, result.best_number = best.value, best.number
    result.seconds = time.perf_counter() - start
    return result


class _TooManyFailures(Exception):
    """Raised on the driver to cancel the Ray tasks after :data:`MAX_FAILURES` failures."""


def _run_ray(
    cfg: TuneConfig,
    study: Any,
    settings: StudySettings,
    url: str,
    out: Path,
    argv: list[str],
    failures: list[str],
    report: Callable[[dict[str, Any]], None],
) -> None:
    """Run the missing trials as Ray tasks, in waves until enough have finished."""

    def on_result(_: int, outcome: dict[str, Any]) -> None:
        report(outcome)
        if len(failures) >= MAX_FAILURES:
            raise _TooManyFailures

    def on_error(i: int, exc: BaseException) -> None:  # the task's worker died
        first = (str(exc).strip().splitlines() or [""])[0]
        error = one_line(f"{type(exc).__name__}: {first}")
        on_result(i, {"number": None, "state": "FAIL", "error": error})

    with ray_session(cfg.address) as ray:
        while (missing := cfg.trials - trial_counts(study)["finished"]) > 0:
            # one sampler seed per task: tasks that start together must not draw alike
            seed = cfg.seed + len(study.get_trials(deepcopy=False))
            calls = [
                (url, study.study_name, settings, str(out.absolute()), argv, seed + i)
                for i in range(missing)
            ]
            try:
                run_ray_tasks(ray, run_trial_task, calls, cfg.cpus_per_trial, on_result, on_error)
            except _TooManyFailures:
                return
