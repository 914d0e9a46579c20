"""Evaluate a token-level policy on every prompt of a split: one written response each.

Every prompt of the env's split is answered once (greedy decoding by default, or sampled),
in batches of episodes stepped together (:class:`~safety_rlhf.envs.text_episodes.TextEpisodes`,
the code the envs run), and the responses are judged and scored as the env would. The
exact ``KL(pi || pi_ref)`` of each response, summed over its tokens from the full
distributions at the visited states, is computed alongside (``kl_ref``); for greedy
decoding it is the KL of the sampling policy the greedy one comes from, at the states the
greedy policy visits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

from safety_rlhf.envs.text_env import SafetyRLHFTextEnv
from safety_rlhf.envs.text_episodes import TextEpisodes
from safety_rlhf.task.text_metrics import text_metrics

__all__ = ["TextEvaluation", "evaluate_text_policy", "policy_log_probs"]


def policy_log_probs(model: BaseAlgorithm, obs: np.ndarray) -> np.ndarray:
    """``log pi(. | s)`` of ``model``'s policy at the observations: float64 ``(k, V)``.

    Works for SB3 policies with a categorical action distribution (PPO, A2C, TRPO,
    MaskablePPO without masks: their action logits, read straight from the actor network,
    without building a distribution object) and for Q-networks (DQN, QR-DQN: their greedy
    policy, as a one-hot, with ``log 0 = -inf``).
    """
    policy: Any = model.policy
    with torch.no_grad():
        tensor = policy.obs_to_tensor(obs)[0]
        if hasattr(policy, "action_net") and hasattr(policy, "mlp_extractor"):
            features = policy.extract_features(tensor, policy.pi_features_extractor)
            logits = policy.action_net(policy.mlp_extractor.forward_actor(features))
            return torch.log_softmax(logits, dim=-1).cpu().numpy().astype(np.float64)
        get_distribution = getattr(policy, "get_distribution", None)
        if get_distribution is not None:
            logits = get_distribution(tensor).distribution.logits
            return torch.log_softmax(logits, dim=-1).cpu().numpy().astype(np.float64)
        actions = policy._predict(tensor, deterministic=True).cpu().numpy().reshape(-1)
    out = np.full((len(obs), model.action_space.n), -np.inf)  # type: ignore[attr-defined]
    out[np.arange(len(obs)), actions] = 0.0
    return out


class TextEvaluation(dict[str, Any]):
    """The metrics of an evaluation (a ``dict``), with the per-response records in
    :attr:`records` (prompt, text, decision, proxy and gold reward, KL, ...)."""

    records: list[dict[str, Any]]


def _choose(
    log_pi: np.ndarray, deterministic: bool, rng: np.random.Generator, mask: np.ndarray | None
) -> np.ndarray:
    if mask is not None:
        log_pi = np.where(mask, log_pi, -np.inf)
    if deterministic:
        return log_pi.argmax(axis=1)
    p = np.exp(log_pi - log_pi.max(axis=1, keepdims=True))
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(cum))[:, None]
    return np.minimum((cum < u).sum(axis=1), cum.shape[1] - 1)


def evaluate_text_policy(
    model: BaseAlgorithm,
    env: SafetyRLHFTextEnv,
    deterministic: bool = True,
    seed: int = 0,
    batch_size: int = 512,
    max_prompts: int | None = None,
    use_masks: bool | None = None,
) -> TextEvaluation:
    """Answer every prompt of ``env`` once with ``model`` and return the text metrics.

    :param model: a trained SB3 model whose action space is the env's vocabulary.
    :param env: the text env (its split, reward model and judge are used).
    :param deterministic: greedy decoding (default) or sampling from the policy.
    :param seed: seed of the sampling generator (sampled decoding only).
    :param batch_size: episodes stepped together.
    :param max_prompts: answer only the first this many prompts (default: all).
    :param use_masks: restrict the policy to ``env.action_masks()`` (default: when the
        model is a ``MaskablePPO``).
    :return: the metrics of :func:`~safety_rlhf.task.text_metrics.text_metrics` plus
        ``kl_ref``, the mean exact sequence KL; per-response records in ``.records``.
    """
    if use_masks is None:
        use_masks = type(model).__name__ == "MaskablePPO"
    masks_on = bool(use_masks and env.mask_below_floor)
    rng = np.random.default_rng(seed)
    n = env.n_prompts if max_prompts is None else min(int(max_prompts), env.n_prompts)
    records: list[dict[str, Any]] = []
    for start in range(0, n, batch_size):
        prompts = np.arange(start, min(start + batch_size, n))
        episodes = TextEpisodes(env.setup, len(prompts))
        episodes.start(np.arange(len(prompts)), prompts)
        active = np.ones(len(prompts), dtype=bool)
        kl = np.zeros(len(prompts))
        while active.any():
            rows = np.flatnonzero(active)
            obs = episodes.observe(rows)
            log_pi = policy_log_probs(model, obs)
            mask = episodes.action_masks(rows) if masks_on else None
            if mask is not None:  # the masked policy renormalises over the allowed tokens
                masked = np.where(mask, log_pi, -np.inf)
                log_pi = masked - np.logaddexp.reduce(masked, axis=1, keepdims=True)
            log_ref = episodes.next_log_ref[rows]
            pi = np.exp(log_pi)
            kl[rows] += np.sum(pi * np.where(pi > 0, log_pi - log_ref, 0.0), axis=1)
            actions = _choose(log_pi, deterministic, rng, mask)
            _, ended = episodes.advance(actions, rows)
            done = rows[ended]
            for row, info in zip(done.tolist(), episodes.finish(done), strict=True):
                records.append({**info, "kl_ref": float(kl[row]), "_order": start + row})
            active[done] = False
    records.sort(key=lambda r: r.pop("_order"))  # prompt order
    result = TextEvaluation(
        text_metrics(
            [r["label"] for r in records],
            [r["category"] for r in records],
            [r["decision"] for r in records],
            [r["gold_reward"] for r in records],
            [r["cost"] for r in records],
            [r["is_success"] for r in records],
            proxy_rewards=[r["proxy_reward"] for r in records],
            lengths=[r["length"] for r in records],
            perplexities=[r["perplexity"] for r in records],
            distinct_1=[r["distinct_1"] for r in records],
            distinct_2=[r["distinct_2"] for r in records],
        )
    )
    result["kl_ref"] = float(np.mean([r["kl_ref"] for r in records])) if records else None
    result.records = records
    return result
