"""The TensorBoard metrics of training on ``SafetyRLHF-Text-v0``.

:class:`TextMetricsCallback` turns the end-of-response ``info`` of every finished episode
into the ``safety/*`` scalars of :mod:`safety_rlhf.task.text_metrics` (gold success,
harmful refusal and compliance, benign help, over-refusal, proxy and gold reward, cost,
plus ``safety/degenerate``, ``safety/length``, ``safety/perplexity``,
``safety/distinct_1`` and ``safety/distinct_2``), one window of ``window`` responses at a
time, written at its own step; a few sampled responses go to TensorBoard as a text table.

``safety/kl_ref`` is the exact ``KL(pi || pi_ref)`` of a response, summed over its tokens:
at the end of each rollout of an on-policy algorithm, the policy's full distribution at
every state of the rollout buffer is compared with ``pi_ref``'s (recomputed from the
observation, which determines it), and the mean per-token KL is multiplied by the mean
length of the responses that ended in the rollout. Off-policy algorithms have no rollout
buffer; for them ``kl_ref`` comes only from the evaluations. Every ``eval_freq`` steps and
at the end, the policy answers the evaluation prompts (sampled, from ``seed``)
(:func:`~safety_rlhf.agents.text_evaluation.evaluate_text_policy`) and the same metrics,
with the exact sequence KL, are logged under ``safety/test/``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import TensorBoardOutputFormat
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from safety_rlhf.agents.callbacks import EvaluationHook, log_hparams
from safety_rlhf.agents.text_evaluation import evaluate_text_policy, policy_log_probs
from safety_rlhf.envs.text_env import SafetyRLHFTextEnv
from safety_rlhf.task.text_metrics import text_metrics

__all__ = ["TextMetricsCallback"]


class TextMetricsCallback(BaseCallback):
    """Log ``safety/*`` metrics of the responses written in training and in evaluations.

    :param eval_env: text env whose prompts are answered greedily (``None``: no evaluation).
    :param eval_freq: evaluate every this many environment steps (default 20,000; 0 or
        less: only at the end of training).
    :param eval_prompts: prompts answered in the periodic evaluations (default 512; the
        final one answers all of them).
    :param window: log training metrics once this many responses are finished (default 256).
    :param n_samples: responses logged as text each window (default 4).
    :param seed: seed of the sampled evaluations and of the sample rows (default 0).
    :param hparams: run hyperparameters logged once as TensorBoard hparams.
    :param verbose: SB3 verbosity (default 0).
    :param on_evaluation: called after every evaluation (periodic and final) with the step
        count and a copy of the test metrics (default ``None``: nothing is called); an
        exception it raises propagates out of ``learn``.
    """

    def __init__(
        self,
        eval_env: SafetyRLHFTextEnv | None = None,
        eval_freq: int = 20_000,
        eval_prompts: int = 512,
        window: int = 256,
        n_samples: int = 4,
        seed: int = 0,
        hparams: dict[str, Any] | None = None,
        verbose: int = 0,
        on_evaluation: EvaluationHook | None = None,
    ) -> None:
        super().__init__(verbose)
        self.eval_env = eval_env
        self.on_evaluation = on_evaluation
        self.eval_freq = int(eval_freq)
        self.eval_prompts = int(eval_prompts)
        self.window = int(window)
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self.hparams = dict(hparams or {})
        self._rng = np.random.default_rng(seed)
        self._rows: list[dict[str, Any]] = []
        self._rollout_lengths: list[int] = []  # of the responses ended in this rollout
        self._kl_ref: float | None = None
        self._last_eval = 0
        self.last_eval: dict[str, Any] = {}

    def _on_training_start(self) -> None:
        if self.hparams:
            metrics = {"safety/gold_success": 0.0, "safety/test/gold_success": 0.0}
            log_hparams(self.logger, self.hparams, metrics)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if "decision" in info:
                self._rows.append(info)
                self._rollout_lengths.append(info["length"])
        if len(self._rows) >= self.window:
            self._flush()
        due = self.eval_freq > 0 and self.num_timesteps - self._last_eval >= self.eval_freq
        last = self.num_timesteps >= getattr(self.model, "_total_timesteps", float("inf"))
        if self.eval_env is not None and due and not last:
            self._evaluate(self.eval_prompts)
        return True

    def _on_rollout_start(self) -> None:
        self._rollout_lengths = []

    def _on_rollout_end(self) -> None:
        if not isinstance(self.model, OnPolicyAlgorithm) or self._env_layout() is None:
            return
        buffer = self.model.rollout_buffer
        obs = buffer.observations.reshape(-1, buffer.observations.shape[-1])
        env = self._env_layout()
        assert env is not None
        log_pi = policy_log_probs(self.model, obs)
        log_ref = env.setup.layout.reference_log_probs(env.setup.lm, obs)
        pi = np.exp(log_pi)
        per_token = float(np.mean(np.sum(pi * np.where(pi > 0, log_pi - log_ref, 0.0), axis=1)))
        # (no response ended in the rollout: the budget stands in for the length)
        lengths = self._rollout_lengths or [env.max_tokens]
        self._kl_ref = per_token * float(np.mean(lengths))

    def _env_layout(self) -> SafetyRLHFTextEnv | None:
        """A text env with the training env's layout (the evaluation env shares it)."""
        return self.eval_env

    def _flush(self) -> None:
        rows, self._rows = self._rows, []
        metrics = text_metrics(
            [r["label"] for r in rows],
            [r["category"] for r in rows],
            [r["decision"] for r in rows],
            [r["gold_reward"] for r in rows],
            [r["cost"] for r in rows],
            [r["is_success"] for r in rows],
            proxy_rewards=[r["proxy_reward"] for r in rows],
            lengths=[r["length"] for r in rows],
            perplexities=[r["perplexity"] for r in rows],
            distinct_1=[r["distinct_1"] for r in rows],
            distinct_2=[r["distinct_2"] for r in rows],
        )
        if self._kl_ref is not None:
            metrics["kl_ref"] = self._kl_ref
        values: dict[str, Any] = {f"safety/{k}": v for k, v in metrics.items() if v is not None}
        if self.n_samples > 0:
            picks = self._rng.choice(len(rows), size=min(self.n_samples, len(rows)), replace=False)
            lines = [
                "| prompt | label | response | decision | proxy | gold |",
                "|---|---|---|---|---|---|",
            ]
            for r in (rows[int(i)] for i in picks):
                prompt, text = r["prompt"].replace("|", "/"), r["response"].replace("|", "/")
                lines.append(
                    f"| {prompt} | {r['label']} | {text} | {r['decision']} | "
                    f"{r['proxy_reward']:+.2f} | {r['gold_reward']:+.2f} |"
                )
            values["safety/samples"] = "\n".join(lines)
        step = self.num_timesteps
        for output in self.logger.output_formats:
            if isinstance(output, TensorBoardOutputFormat):
                output.write(values, {key: () for key in values}, step)
        for key, value in values.items():
            if not isinstance(value, str):
                self.logger.record(key, value, exclude="tensorboard")

    def _evaluate(self, max_prompts: int | None) -> None:
        assert self.eval_env is not None
        self._last_eval = self.num_timesteps
        metrics = evaluate_text_policy(
            self.model, self.eval_env, deterministic=False, seed=self.seed, max_prompts=max_prompts
        )
        self.last_eval = dict(metrics)
        for name, value in metrics.items():
            if value is not None:
                self.logger.record(f"safety/test/{name}", value)
        self.logger.dump(self.num_timesteps)
        if self.on_evaluation is not None:
            self.on_evaluation(self.num_timesteps, dict(metrics))

    def _on_training_end(self) -> None:
        if self._rows:
            self._flush()
        if self.eval_env is not None:
            self._evaluate(None)
        self.logger.dump(self.num_timesteps)
