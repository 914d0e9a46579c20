"""Start a token-level policy at ``pi_ref``: the supervised ("SFT") step before RLHF.

RLHF fine-tunes a policy that starts as the supervised model, and its KL penalty measures
the distance from that start. :func:`imitate_reference` gives an SB3 policy the same start
on ``SafetyRLHF-Text-v0``: it samples responses from ``pi_ref`` on the env's prompts and
fits the policy's action distribution to ``pi_ref``'s full distribution at every visited
state (distillation: minimise ``KL(pi_ref || pi)``, a cross-entropy with soft targets).
The observation determines ``pi_ref(. | s)`` exactly, so the fit is limited only by the
network and the budget; the returned figures say how close it got.

It is the ``imitate_reference`` run key of the text env's hyperparameter YAMLs (the number
of responses to sample; 0: start from a random policy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

from safety_rlhf.envs.text_env import SafetyRLHFTextEnv
from safety_rlhf.envs.text_episodes import TextEpisodes

__all__ = ["MAX_EPISODES", "check_imitate_reference", "imitate_reference"]

#: Most responses :func:`imitate_reference` samples (memory: ~25 states of ~1,500 floats each).
MAX_EPISODES = 100_000


def check_imitate_reference(value: Any, env_creator: Any, where: str) -> int:
    """The ``imitate_reference`` run key as an int, or a one-line ``ValueError``.

    :param value: the YAML or ``--hyperparams`` value (whole number ``0 .. MAX_EPISODES``).
    :param env_creator: the env's entry point (only the text env has a ``pi_ref`` to imitate).
    :param where: what the value came from, for the message.
    """
    whole = isinstance(value, int | float) and not isinstance(value, bool)
    if not whole or value != int(value) or not 0 <= value <= MAX_EPISODES:
        raise ValueError(f"{where}: imitate_reference must be 0..{MAX_EPISODES}, got {value!r}")
    text_env = isinstance(env_creator, type) and issubclass(env_creator, SafetyRLHFTextEnv)
    if value and not text_env:
        raise ValueError(f"{where}: imitate_reference needs SafetyRLHF-Text-v0's pi_ref")
    return int(value)


def _reference_states(
    env: SafetyRLHFTextEnv, n_episodes: int, rng: np.random.Generator, batch: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Observations and ``pi_ref`` probabilities of every state of ``n_episodes`` responses
    sampled from ``pi_ref`` on prompts drawn uniformly from ``env``'s split."""
    observations, targets = [], []
    for start in range(0, n_episodes, batch):
        k = min(batch, n_episodes - start)
        episodes = TextEpisodes(env.setup, k)
        episodes.start(np.arange(k), rng.integers(env.n_prompts, size=k))
        active = np.ones(k, dtype=bool)
        while active.any():
            rows = np.flatnonzero(active)
            probs = np.exp(episodes.next_log_ref[rows])
            observations.append(episodes.observe(rows))
            targets.append(probs.astype(np.float32))
            cum = np.cumsum(probs, axis=1)
            u = rng.random(len(rows))[:, None] * cum[:, -1:]
            tokens = np.minimum((cum < u).sum(axis=1), probs.shape[1] - 1)
            _, ended = episodes.advance(tokens, rows)
            active[rows[ended]] = False
    return np.concatenate(observations), np.concatenate(targets)


def imitate_reference(
    model: BaseAlgorithm,
    env: SafetyRLHFTextEnv,
    n_episodes: int,
    epochs: int = 10,
    batch_size: int = 512,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> dict[str, float]:
    """Fit ``model``'s policy to ``pi_ref`` on ``n_episodes`` responses sampled from it.

    :param model: an SB3 model with a categorical actor (PPO, A2C, TRPO, MaskablePPO).
    :param env: the text env whose prompts and ``pi_ref`` are used.
    :param n_episodes: responses to sample from ``pi_ref`` (``1 .. MAX_EPISODES``).
    :param epochs: passes over the sampled states.
    :param batch_size: states per gradient step.
    :param learning_rate: Adam step size (a fresh optimizer; the algorithm's own is untouched).
    :param seed: seed of the sampling and of the batch order.
    :return: ``states`` (number fitted) and ``kl_ref`` (mean per-state ``KL(pi_ref || pi)``
        after fitting, on the fitted states).
    """
    if isinstance(n_episodes, bool) or not 1 <= int(n_episodes) <= MAX_EPISODES:
        raise ValueError(
            f"imitate_reference: n_episodes must be 1..{MAX_EPISODES}, got {n_episodes!r}"
        )
    policy = model.policy
    get_distribution: Any = getattr(policy, "get_distribution", None)
    if get_distribution is None:
        raise ValueError(
            f"imitate_reference: {type(model).__name__} has no action distribution to fit"
        )
    rng = np.random.default_rng(seed)
    obs, target = _reference_states(env, int(n_episodes), rng)
    params = [p for name, p in policy.named_parameters() if "value" not in name]
    optimizer = torch.optim.Adam(params, lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    obs_t = torch.as_tensor(obs, device=policy.device)
    target_t = torch.as_tensor(target, device=policy.device)
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = torch.randperm(len(obs_t), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            logits = get_distribution(obs_t[idx]).distribution.logits
            loss = -(target_t[idx] * torch.log_softmax(logits, dim=-1)).sum(dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    policy.set_training_mode(False)
    with torch.no_grad():
        kl = 0.0
        for start in range(0, len(obs_t), 4096):
            logits = get_distribution(obs_t[start : start + 4096]).distribution.logits
            log_pi = torch.log_softmax(logits, dim=-1)
            p = target_t[start : start + 4096]
            kl += float((p * (torch.log(p) - log_pi)).sum())
    return {"states": float(len(obs_t)), "kl_ref": kl / max(len(obs_t), 1)}
