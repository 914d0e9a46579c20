"""The objective of ``safety-rlhf tune``: what a trial trains and the number it returns.

A trial draws hyperparameters from the algorithm's search space
(:mod:`safety_rlhf.agents.search_spaces`), merges them over the shipped YAML entry and
trains one run per seed ``0 .. S-1`` (``OUT/runs/trial-<n>/``). Each run evaluates its
greedy policy on the test split every ``eval_freq`` steps and at the end; the run's score
is the mean test ``gold_success`` of its last ``L`` evaluations, and the trial's value is
the mean of its runs' scores (:func:`trial_value`).

Why not the final evaluation of one run: on ``SafetyRLHF-v0`` the test gold success of
one policy moves by a few points from one evaluation to the next while it still learns,
and seeds of the same settings end several points apart (PPO with clip range 0.2: one
seed of five never learned to refuse, see ``hyperparams/ppo.yml``). A single number would
make the sampler chase that noise; averaging the last evaluations and the seeds scores the
settings, not the luck of one run.

Every evaluation is reported to Optuna at step ``seed_index * T + min(t, T)``
(:func:`report_step`; ``t`` the run's steps, ``T`` the budget): every trial reports the
same seeds at the same points, so the median pruner compares like with like, and the
steps of one seed never overlap the next's (PPO's last rollout may overshoot ``T``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safety_rlhf.agents.algorithms import load_hyperparams
from safety_rlhf.agents.search_spaces import merge_over, suggest_hyperparams
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.train_config import TrainConfig
from safety_rlhf.experiments.tune.settings import StudySettings, import_optuna

if TYPE_CHECKING:
    import optuna

__all__ = ["METRIC", "Objective", "report_step", "run_score", "trial_value"]

#: The test-split metric a trial maximises.
METRIC = "gold_success"


def run_score(evaluations: Sequence[float], last: int) -> float:
    """One run's score: the mean of its last ``last`` evaluations (all, if fewer).

    :param evaluations: the run's test ``gold_success``, evaluation by evaluation.
    :param last: evaluations to average.

    >>> run_score([0.2, 0.5, 0.6, 0.7], last=3)
    0.6
    """
    if not evaluations:
        raise ValueError("a run ended without a test evaluation")
    return statistics.fmean(evaluations[-last:])


def trial_value(per_seed: Sequence[Sequence[float]], last: int) -> tuple[float, list[float]]:
    """A trial's value and its runs' scores: the mean over seeds of :func:`run_score`.

    :param per_seed: the test ``gold_success`` of every evaluation of every run, in order.
    :param last: evaluations at the end of each run to average.
    """
    scores = [run_score(values, last) for values in per_seed]
    return statistics.fmean(scores), scores


def report_step(seed_index: int, timesteps: int, num_timesteps: int) -> int:
    """The Optuna step of an evaluation at ``num_timesteps`` of run ``seed_index``.

    :param seed_index: the run's seed (``0 .. seeds - 1``).
    :param timesteps: the budget of every run.
    :param num_timesteps: the run's steps at the evaluation.

    >>> [report_step(1, 256, t) for t in (64, 192, 512)]
    [320, 448, 512]
    """
    return seed_index * timesteps + min(num_timesteps, timesteps)


class Objective:
    """Optuna objective of a study: ``objective(trial) -> value`` (see the module docstring).

    :param settings: the study's settings.
    :param out: the output folder; trial ``n`` trains into ``out/runs/trial-<n>/``.
    :param argv: the command line recorded in every run's ``command.txt``.
    """

    def __init__(self, settings: StudySettings, out: Path, argv: list[str]) -> None:
        self.settings = settings
        self.out = Path(out)
        self.argv = list(argv)
        self.base = load_hyperparams(settings.algo, settings.env)
        self.n_envs = int(self.base.get("n_envs", 1))
        self.number: int | None = None
        """The number of the trial last started (to name a failed one)."""

    def log_dir(self, number: int) -> Path:
        """Where trial ``number``'s runs go.

        :param number: the trial number.
        """
        return self.out / "runs" / f"trial-{number}"

    def hyperparams(self, trial: Any) -> dict[str, Any]:
        """The drawn hyperparameters, ``policy_kwargs`` completed from the YAML entry.

        :param trial: the trial to draw from.
        """
        params = suggest_hyperparams(self.settings.algo, self.settings.env, trial, self.n_envs)
        merged = merge_over(self.base, params)
        return {key: merged[key] for key in params}

    def __call__(self, trial: optuna.Trial) -> float:
        optuna_module = import_optuna()
        s = self.settings
        self.number = trial.number
        params = self.hyperparams(trial)
        trial.set_user_attr("hyperparams", params)
        per_seed: list[list[float]] = []
        for index in range(s.seeds):
            values: list[float] = []
            per_seed.append(values)

            def on_evaluation(step: int, metrics: dict[str, float | None], i: int = index) -> None:
                value = metrics.get(METRIC)
                if value is None:
                    raise ValueError(f"the test evaluation has no {METRIC} (no gold labels)")
                per_seed[i].append(float(value))
                trial.report(float(value), report_step(i, s.timesteps, step))
                if trial.should_prune():
                    raise optuna_module.TrialPruned(
                        f"seed {i}, step {step}: test {METRIC} {value:.3f} below the median"
                    )

            cfg = TrainConfig(
                algo=s.algo,
                env=s.env,
                reward_model=s.reward_model,
                seed=index,
                timesteps=s.timesteps,
                eval_freq=s.eval_freq,
                hyperparams=params,
                log_dir=str(self.log_dir(trial.number)),
                progress_bar=False,
                checkpoint_freq=0,
            )
            train_module.train(cfg, argv=self.argv, on_evaluation=on_evaluation)
            trial.set_user_attr("seed_values", trial_value(per_seed, s.last_evals)[1])
        value, _ = trial_value(per_seed, s.last_evals)
        return value
