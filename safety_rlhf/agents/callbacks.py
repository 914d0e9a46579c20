"""SB3 callbacks that log the safety metrics to TensorBoard.

:class:`SafetyMetricsCallback` turns the ``info`` of every training step into the
``safety/*`` scalars of :mod:`safety_rlhf.task.metrics` (gold success, harmful refusal and
compliance, benign help, over-refusal, proxy and gold reward, cost; ``safety/proxy_cost``,
the cost model's mean, when the env has one) plus
``safety/kl_ref``, the exact KL divergence of the policy's action distribution from the
reference policy ``pi_ref``, averaged over the visited prompts. Each window of ``window``
decisions is written to TensorBoard at its own step when it is complete, whatever the
algorithm's dump rhythm (A2C dumps every 100 updates, DQN every few episodes), so no
window is lost; stdout and CSV outputs show the latest window at the next dump. Every
``eval_freq`` steps,
and when training ends, it evaluates the greedy policy on every prompt of an evaluation
env (the test split) and logs the same metrics under ``safety/test/``. A few sampled
(prompt, response, reward) rows go to TensorBoard as text, and the run's hyperparameters
as TensorBoard hparams.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HParam, Logger, TensorBoardOutputFormat

from safety_rlhf.agents.prompt_evaluation import evaluate_policy_on_prompts
from safety_rlhf.envs.strategy_env import SafetyRLHFEnv
from safety_rlhf.task.metrics import decision_metrics
from safety_rlhf.task.reference_policy import reference_log_probs
from safety_rlhf.task.strategies import Strategy

__all__ = ["EvaluationHook", "SafetyMetricsCallback", "log_hparams", "policy_kl_to_reference"]

#: Called after every test evaluation with ``(num_timesteps, metrics)``; what it raises
#: (e.g. ``optuna.TrialPruned``) stops training and propagates out of ``learn``.
EvaluationHook = Callable[[int, dict[str, float | None]], None]

_SLUG_TO_ACTION = {s.slug: int(s) for s in Strategy}
_NOT_TO_STDOUT = ("stdout", "log", "json", "csv")


def policy_kl_to_reference(
    policy: Any, observations: np.ndarray, log_ref: np.ndarray
) -> float | None:
    """Mean over rows of ``KL(pi(.|s) || pi_ref(.|s))``, exact for a discrete policy.

    :param policy: an SB3 policy with ``get_distribution`` (PPO, A2C, TRPO); others give
        ``None`` (no action distribution to compare, e.g. DQN's greedy Q-policy).
    :param observations: ``(n, obs_dim)`` visited observations.
    :param log_ref: ``(n, 6)`` ``log pi_ref(a | s)`` of the same prompts.
    """
    if not hasattr(policy, "get_distribution") or not len(observations):
        return None
    try:
        with torch.no_grad():
            obs = torch.as_tensor(observations, device=policy.device)
            dist = policy.get_distribution(obs).distribution
            log_pi = torch.log_softmax(dist.logits, dim=-1).cpu().numpy().astype(np.float64)
    except (AttributeError, TypeError, ValueError):  # recurrent policies need LSTM states
        return None
    pi = np.exp(log_pi)
    return float(np.mean(np.sum(pi * (log_pi - log_ref), axis=1)))


def log_hparams(logger: Logger, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
    """Record the run's hyperparameters as TensorBoard hparams (``metrics``: the scalars the
    HParams tab shows next to them)."""
    clean = {
        k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in hparams.items()
    }
    logger.record("hparams", HParam(clean, metrics), exclude=_NOT_TO_STDOUT)


class SafetyMetricsCallback(BaseCallback):
    """Log ``safety/*`` metrics of training rollouts and of periodic test evaluations.

    :param eval_env: env whose every prompt is evaluated greedily (``None``: no
        evaluation); usually ``gym.make(env_id, split="test").unwrapped``.
    :param eval_freq: evaluate every this many environment steps (default 10,000; 0 or
        less: only at the end of training).
    :param window: log rollout metrics once this many decisions are collected (default
        1,024).
    :param n_samples: (prompt, response, reward) rows logged as text each window (default 4).
    :param hparams: run hyperparameters logged once as TensorBoard hparams.
    :param seed: seed of the generator that picks the sample rows (default 0).
    :param verbose: SB3 verbosity (default 0).
    :param on_evaluation: called after every evaluation (periodic and final) with the step
        count and a copy of the test metrics (default ``None``: nothing is called); an
        exception it raises propagates out of ``learn``.
    """

    def __init__(
        self,
        eval_env: SafetyRLHFEnv | None = None,
        eval_freq: int = 10_000,
        window: int = 1_024,
        n_samples: int = 4,
        hparams: dict[str, Any] | None = None,
        seed: int = 0,
        verbose: int = 0,
        on_evaluation: EvaluationHook | None = None,
    ) -> None:
        super().__init__(verbose)
        self.eval_env = eval_env
        self.on_evaluation = on_evaluation
        self.eval_freq = int(eval_freq)
        self.window = int(window)
        self.n_samples = int(n_samples)
        self.hparams = dict(hparams or {})
        self._rng = np.random.default_rng(seed)
        self._rows: list[dict[str, Any]] = []
        self._obs: list[np.ndarray] = []
        self._last_eval = 0
        self.last_eval: dict[str, float | None] = {}

    def _on_training_start(self) -> None:
        if self.hparams:
            metrics = {"safety/gold_success": 0.0, "safety/proxy_reward": 0.0}
            if self.eval_env is not None:
                metrics["safety/test/gold_success"] = 0.0
            log_hparams(self.logger, self.hparams, metrics)

    def _on_step(self) -> bool:
        infos = self.locals.get("infos", [])
        last_obs = getattr(self.model, "_last_obs", None)
        for i, info in enumerate(infos):
            if "strategy" not in info:
                continue
            self._rows.append(info)
            if isinstance(last_obs, np.ndarray):
                self._obs.append(last_obs[i])
        if len(self._rows) >= self.window:
            self._flush()
        due = self.eval_freq > 0 and self.num_timesteps - self._last_eval >= self.eval_freq
        # the last step's evaluation happens in _on_training_end, after the final update
        last = self.num_timesteps >= getattr(self.model, "_total_timesteps", float("inf"))
        if self.eval_env is not None and due and not last:
            self._evaluate()
        return True

    def _flush(self) -> None:
        rows, self._rows = self._rows, []
        obs, self._obs = self._obs, []
        metrics = decision_metrics(
            [r["label"] for r in rows],
            [r["category"] for r in rows],
            [_SLUG_TO_ACTION[r["strategy"]] for r in rows],
            proxy_rewards=[r["proxy_reward"] for r in rows],
            proxy_costs=(
                [r["proxy_cost"] for r in rows] if all("proxy_cost" in r for r in rows) else None
            ),
        )
        if len(obs) == len(rows):
            log_ref = reference_log_probs([r["prompt"] for r in rows]).astype(np.float64)
            metrics["kl_ref"] = policy_kl_to_reference(self.model.policy, np.stack(obs), log_ref)
        window: dict[str, Any] = {f"safety/{k}": v for k, v in metrics.items() if v is not None}
        if self.n_samples > 0:
            picks = self._rng.choice(len(rows), size=min(self.n_samples, len(rows)), replace=False)
            lines = ["| prompt | label | strategy | proxy | gold |", "|---|---|---|---|---|"]
            for r in (rows[int(i)] for i in picks):
                prompt = r["prompt"].replace("|", "/")
                lines.append(
                    f"| {prompt} | {r['label']} | {r['strategy']} | "
                    f"{r['proxy_reward']:+.2f} | {r['gold_reward']:+.2f} |"
                )
            window["safety/samples"] = "\n".join(lines)
        self._write_window(window)

    def _write_window(self, values: dict[str, Any]) -> None:
        """Write ``values`` to every TensorBoard output now, at the current step: a value
        only recorded in the logger is overwritten by the next window unless the algorithm
        dumps in between. Scalars are also recorded for the other outputs (stdout, CSV),
        which show the latest window at the next dump."""
        step = self.num_timesteps
        for output in self.logger.output_formats:
            if isinstance(output, TensorBoardOutputFormat):
                output.write(values, {key: () for key in values}, step)
        for key, value in values.items():
            if not isinstance(value, str):
                self.logger.record(key, value, exclude="tensorboard")

    def _evaluate(self) -> None:
        assert self.eval_env is not None
        self._last_eval = self.num_timesteps
        metrics = evaluate_policy_on_prompts(self.model, self.eval_env)
        tables = self.eval_env.tables
        metrics["kl_ref"] = policy_kl_to_reference(
            self.model.policy, tables.observations, tables.log_ref.astype(np.float64)
        )
        self.last_eval = metrics
        self._record("safety/test", metrics)
        # write now: SB3 dumps only once per rollout, which would overwrite frequent evaluations
        self.logger.dump(self.num_timesteps)
        if self.on_evaluation is not None:
            self.on_evaluation(self.num_timesteps, dict(metrics))

    def _record(self, prefix: str, metrics: dict[str, float | None]) -> None:
        for name, value in metrics.items():
            if value is not None:  # unavailable metrics are not logged as 0
                self.logger.record(f"{prefix}/{name}", value)

    def _on_training_end(self) -> None:
        if self._rows:
            self._flush()
        if self.eval_env is not None:
            self._evaluate()
        self.logger.dump(self.num_timesteps)
