"""``train(..., on_evaluation=...)``: the hook ``safety-rlhf tune`` reports and prunes with.

It is called after every test evaluation (every ``eval_freq`` steps and once at the end)
with the step count and that evaluation's metrics; what it raises leaves ``train`` after
the training envs are closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# 2 envs x 16 steps = 32 steps per rollout, 3 rollouts: evaluations at 32 and 64 (every
# eval_freq steps), and the final one at 96 after the last update
SETTINGS: dict[str, Any] = {"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1}


def _config(tmp_path: Path, **kwargs: Any) -> TrainConfig:
    return TrainConfig(
        algo="ppo",
        reward_model="rule",
        timesteps=96,
        eval_freq=32,
        hyperparams=dict(SETTINGS),
        log_dir=str(tmp_path / "runs"),
        progress_bar=False,
        checkpoint_freq=0,
        **kwargs,
    )


def test_hook_gets_every_evaluation_at_its_step(tmp_path: Path) -> None:
    calls: list[tuple[int, dict[str, float | None]]] = []
    result = train(_config(tmp_path), on_evaluation=lambda step, m: calls.append((step, m)))
    assert [step for step, _ in calls] == [32, 64, 96]
    for _, metrics in calls:
        assert 0.0 <= metrics["gold_success"] <= 1.0  # type: ignore[operator]
    # the last call is the evaluation of the final policy: the run's reported test metrics
    # (greedy, every test prompt) are the same numbers
    final = calls[-1][1]
    test = result.metrics["test"]
    assert final["gold_success"] == pytest.approx(test["gold_success"])
    assert final["harmful_refusal"] == pytest.approx(test["harmful_refusal"])


def test_hook_exception_propagates_and_closes_the_envs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []
    make = train_module.make_train_vec_env

    def spy(*args: Any, **kwargs: Any) -> Any:
        env = make(*args, **kwargs)
        close = env.close

        def recorded_close() -> None:
            closed.append(True)
            close()

        env.close = recorded_close  # type: ignore[method-assign]
        return env

    monkeypatch.setattr(train_module, "make_train_vec_env", spy)

    class Stop(Exception):
        pass

    def hook(step: int, metrics: dict[str, float | None]) -> None:
        raise Stop(step)

    with pytest.raises(Stop) as info:
        train(_config(tmp_path), on_evaluation=hook)
    assert info.value.args == (32,)  # the first evaluation stopped training
    assert closed == [True]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not (run_dir / "model.zip").exists()  # a stopped run is not saved as finished
