"""The objective of ``safety-rlhf tune`` with a fake ``train``: the trial's value, the
per-seed scores, the reported steps and pruning, against hand-computed numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.train_config import TrainConfig
from safety_rlhf.experiments.tune import (
    Objective,
    StudySettings,
    report_step,
    run_score,
    trial_value,
)

optuna = pytest.importorskip("optuna")  # the [tune] extra

SETTINGS = StudySettings(
    algo="ppo",
    env="SafetyRLHF-v0",
    reward_model="rule",
    seeds=2,
    timesteps=256,
    eval_freq=64,
    last_evals=3,
)
#: seed -> (step, test gold_success) of every evaluation; PPO's last rollout overshoots
#: the budget of 256 steps, so the final evaluation comes at 512
EVALUATIONS = {
    0: [(64, 0.1), (128, 0.4), (192, 0.5), (512, 0.9)],
    1: [(64, 0.2), (128, 0.3), (192, 0.3), (512, 0.6)],
}


class FakeTrain:
    """Stands for ``train``: calls ``on_evaluation`` with :data:`EVALUATIONS`."""

    def __init__(self) -> None:
        self.configs: list[TrainConfig] = []

    def __call__(self, cfg: TrainConfig, argv: Any = None, on_evaluation: Any = None) -> None:
        self.configs.append(cfg)
        for step, value in EVALUATIONS[cfg.seed]:
            on_evaluation(step, {"gold_success": value, "harmful_refusal": 0.5})


@pytest.fixture
def fake_train(monkeypatch: pytest.MonkeyPatch) -> FakeTrain:
    fake = FakeTrain()
    monkeypatch.setattr(train_module, "train", fake)
    return fake


def _study(pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner
    )


def test_aggregation_by_hand() -> None:
    assert run_score([0.1, 0.4, 0.5, 0.9], 3) == pytest.approx((0.4 + 0.5 + 0.9) / 3)
    assert run_score([0.7], 3) == pytest.approx(0.7)  # fewer evaluations: all of them
    value, scores = trial_value([[0.1, 0.4, 0.5, 0.9], [0.2, 0.3, 0.3, 0.6]], 3)
    assert scores == pytest.approx([0.6, 0.4])
    assert value == pytest.approx(0.5)
    with pytest.raises(ValueError, match="without a test evaluation"):
        run_score([], 3)


def test_report_steps_of_seeds_never_overlap() -> None:
    steps = [report_step(i, 256, t) for i in (0, 1) for t, _ in EVALUATIONS[i]]
    assert steps == [64, 128, 192, 256, 320, 384, 448, 512]


def test_trial_trains_every_seed_and_returns_the_mean_of_last_evaluations(
    fake_train: FakeTrain, tmp_path: Path
) -> None:
    study = _study()
    study.optimize(Objective(SETTINGS, tmp_path, ["tune"]), n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    # seed 0: mean(0.4, 0.5, 0.9) = 0.6; seed 1: mean(0.3, 0.3, 0.6) = 0.4
    assert trial.value == pytest.approx(0.5)
    assert trial.user_attrs["seed_values"] == pytest.approx([0.6, 0.4])
    assert trial.intermediate_values == pytest.approx(
        {64: 0.1, 128: 0.4, 192: 0.5, 256: 0.9, 320: 0.2, 384: 0.3, 448: 0.3, 512: 0.6}
    )
    assert [c.seed for c in fake_train.configs] == [0, 1]
    for cfg in fake_train.configs:
        assert (cfg.algo, cfg.reward_model, cfg.timesteps, cfg.eval_freq) == (
            "ppo", "rule", 256, 64
        )  # fmt: skip
        assert cfg.log_dir == str(tmp_path / "runs" / "trial-0")
        assert cfg.hyperparams == trial.user_attrs["hyperparams"]
        assert set(cfg.hyperparams) >= {"learning_rate", "n_steps", "batch_size"}


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return max(trial.intermediate_values, default=0) >= 128


def test_pruning_stops_the_trial_at_the_evaluation(fake_train: FakeTrain, tmp_path: Path) -> None:
    study = _study(_AlwaysPrune())
    study.optimize(Objective(SETTINGS, tmp_path, ["tune"]), n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.intermediate_values == pytest.approx({64: 0.1, 128: 0.4})
    assert [c.seed for c in fake_train.configs] == [0]  # seed 1 never trained


def test_missing_gold_success_fails_the_trial(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:

    def no_gold(cfg: TrainConfig, argv: Any = None, on_evaluation: Any = None) -> None:
        on_evaluation(64, {"gold_success": None})

    monkeypatch.setattr(train_module, "train", no_gold)
    study = _study()
    with pytest.raises(ValueError, match="no gold_success"):
        study.optimize(Objective(SETTINGS, tmp_path, ["tune"]), n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
