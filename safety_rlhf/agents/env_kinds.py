"""One entry point per job for both kinds of env: strategy (``SafetyRLHF-v0``) and text
(``SafetyRLHF-Text-v0``).

``train`` and ``evaluate`` do not branch on the env id: they make the evaluation env, the
metrics callback and the per-prompt evaluation through these functions, which pick the
strategy or the text version by the env's class.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.callbacks import EvaluationHook, SafetyMetricsCallback
from safety_rlhf.agents.prompt_evaluation import evaluate_policy_on_prompts
from safety_rlhf.agents.text_callbacks import TextMetricsCallback
from safety_rlhf.agents.text_evaluation import evaluate_text_policy
from safety_rlhf.envs.strategy_env import SafetyRLHFEnv
from safety_rlhf.envs.text_env import SafetyRLHFTextEnv

__all__ = ["PromptEnv", "evaluate_on_prompts", "make_eval_env", "make_metrics_callback"]

#: The envs that can be evaluated on every prompt of a split.
PromptEnv = SafetyRLHFEnv | SafetyRLHFTextEnv


def make_eval_env(env_id: str, **kwargs: Any) -> PromptEnv:
    """``gym.make(env_id, **kwargs).unwrapped``, checked to be a safety-rlhf env that can be
    evaluated on every prompt (a strategy or a text env)."""
    env = gym.make(env_id, **kwargs).unwrapped
    if not isinstance(env, SafetyRLHFEnv | SafetyRLHFTextEnv):
        raise ValueError(f"{env_id} is not a SafetyRLHF env; cannot evaluate per prompt")
    return env


def evaluate_on_prompts(model: BaseAlgorithm, env: PromptEnv, seed: int = 0) -> dict[str, Any]:
    """The safety metrics of ``model`` answering every prompt of ``env`` once: its greedy
    strategy per prompt, or one written response per prompt, sampled from the policy (from
    ``seed``), as a language model's responses are: greedy decoding of a token policy
    repeats itself (a policy fitted to ``pi_ref`` wrote 29% degenerate responses greedily)."""
    if isinstance(env, SafetyRLHFTextEnv):
        return dict(evaluate_text_policy(model, env, deterministic=False, seed=seed))
    return dict(evaluate_policy_on_prompts(model, env))


def make_metrics_callback(
    eval_env: PromptEnv,
    eval_freq: int,
    hparams: dict[str, Any],
    seed: int,
    on_evaluation: EvaluationHook | None = None,
) -> BaseCallback:
    """The ``safety/*`` metrics callback for ``eval_env``'s kind of env.

    :param eval_env: the env evaluated on every prompt (the test split).
    :param eval_freq: evaluate every this many environment steps (0: only at the end).
    :param hparams: run hyperparameters logged as TensorBoard hparams.
    :param seed: seed of the sample rows (and of the text env's sampled evaluations).
    :param on_evaluation: called after every evaluation with ``(num_timesteps, metrics)``
        (default ``None``); what it raises propagates out of ``learn``.
    """
    if isinstance(eval_env, SafetyRLHFTextEnv):
        return TextMetricsCallback(
            eval_env=eval_env,
            eval_freq=eval_freq,
            seed=seed,
            hparams=hparams,
            on_evaluation=on_evaluation,
        )
    return SafetyMetricsCallback(
        eval_env=eval_env,
        eval_freq=eval_freq,
        hparams=hparams,
        seed=seed,
        on_evaluation=on_evaluation,
    )
