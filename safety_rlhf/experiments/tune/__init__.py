"""``safety-rlhf tune``: Optuna hyperparameter search over one algorithm's settings.

:mod:`~safety_rlhf.experiments.tune.settings` checks what is asked;
:mod:`~safety_rlhf.experiments.tune.storage` checks and opens the Optuna storage;
:mod:`~safety_rlhf.experiments.tune.objective` is what a trial trains and scores;
:mod:`~safety_rlhf.experiments.tune.study` runs trials of the stored study, locally or as
Ray tasks; :mod:`~safety_rlhf.experiments.tune.runner` runs the command from checks to
``OUT/<algo>.yml`` (:mod:`~safety_rlhf.experiments.tune.report`); the command line is
:mod:`~safety_rlhf.experiments.tune.cli`. Optuna is imported only when the command runs.
"""

from __future__ import annotations

from safety_rlhf.experiments.tune.cli import add_tune_parser
from safety_rlhf.experiments.tune.objective import Objective, report_step, run_score, trial_value
from safety_rlhf.experiments.tune.runner import TuneInterrupted, TuneResult, run_tune
from safety_rlhf.experiments.tune.settings import (
    StudySettings,
    TuneConfig,
    import_optuna,
    study_settings,
)

__all__ = [
    "Objective",
    "StudySettings",
    "TuneConfig",
    "TuneInterrupted",
    "TuneResult",
    "add_tune_parser",
    "import_optuna",
    "report_step",
    "run_score",
    "run_tune",
    "study_settings",
    "trial_value",
]
