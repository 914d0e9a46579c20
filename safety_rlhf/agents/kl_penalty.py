"""The KL penalty of RLHF, applied to on-policy rollouts as TRL and RL4LMs apply it.

The KL-regularised objective ``E[r] - beta KL(pi || pi_ref)`` is optimised by learning
from the penalised reward

    r_t - beta * (log pi(a_t|s_t) - log pi_ref(a_t|s_t))

where ``log pi(a_t|s_t)`` is the log-probability the policy had when it sampled ``a_t``
and ``log pi_ref(a_t|s_t)`` is the reference policy's (``info["log_pi_ref"]`` of every
safety-rlhf env). :class:`KLPenaltyCallback` does this to each rollout of an SB3
on-policy algorithm (PPO, A2C, TRPO, RecurrentPPO, MaskablePPO) before the update: it
adjusts the rollout buffer's rewards and the returns and advantages computed from them.
An entropy bonus is not a substitute: advantage normalisation rescales the
``beta log pi_ref`` part of the return but not the entropy loss, TRPO has no entropy
bonus, and in sequences an entropy loss is not an entropy term in the return.

Off-policy algorithms (DQN, QR-DQN) have no rollout and no sampling log-probability (their
behaviour policy is epsilon-greedy), so the callback refuses them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

__all__ = ["MAX_KL_COEF", "KLPenaltyCallback", "apply_kl_penalty", "check_kl_coef"]

#: The ``info`` key holding ``log pi_ref(a|s)`` of the action taken.
INFO_KEY = "log_pi_ref"


#: The largest ``kl_coef``: beyond it the penalty swamps any reward of the task's scale
#: (rewards are O(1)), and ``1e308`` turns the penalised rewards into ``inf``.
MAX_KL_COEF = 1e3


def check_kl_coef(kl_coef: float, algo: type[BaseAlgorithm] | None = None) -> float:
    """``kl_coef`` as a float, or a one-line ``ValueError`` saying why it cannot be used.

    :param kl_coef: the KL coefficient ``beta``; must be in ``[0, MAX_KL_COEF]``.
    :param algo: the SB3 algorithm class it is for (default ``None``: not checked); a
        ``beta > 0`` needs an on-policy algorithm.
    """
    if isinstance(kl_coef, bool) or not isinstance(kl_coef, int | float):
        raise ValueError(f"kl_coef must be a finite number >= 0, got {kl_coef!r}")
    beta = float(kl_coef)
    if not math.isfinite(beta) or beta < 0:
        raise ValueError(f"kl_coef must be a finite number >= 0, got {kl_coef!r}")
    if beta > MAX_KL_COEF:  # beta * KL would overflow float32 rewards (1e308 -> inf)
        raise ValueError(f"kl_coef must be at most {MAX_KL_COEF:g}, got {kl_coef!r}")
    if beta > 0 and algo is not None and not issubclass(algo, OnPolicyAlgorithm):
        raise ValueError(
            f"kl_coef {beta:g} is not supported by {algo.__name__}: the KL penalty needs the "
            "log-probability each action was sampled with, which an off-policy algorithm "
            "(epsilon-greedy on Q-values, replayed later) does not have; use an on-policy "
            "algorithm (PPO, A2C, TRPO, RecurrentPPO, MaskablePPO) or kl_coef 0"
        )
    return beta


def apply_kl_penalty(
    buffer: RolloutBuffer, log_pi_ref: np.ndarray, kl_coef: float
) -> dict[str, float]:
    """Penalise a full rollout buffer in place, after SB3 computed its returns.

    Each reward becomes ``r_t - kl_coef * (log_probs_t - log_pi_ref_t)``, and the advantages
    and returns change by what GAE makes of that change: SB3's GAE is linear in the
    rewards for fixed values, so the change of the advantage obeys the same recursion,
    ``dA_t = d_t + gamma * gae_lambda * (1 - episode_starts_{t+1}) * dA_{t+1}`` with
    ``dA_{T-1} = d_{T-1}``, and ``returns = advantages + values`` changes by ``dA_t``.
    Neither the last values nor the last dones are needed (the last step's correction
    does not depend on them), so this is exact for every buffer that uses SB3's
    ``RolloutBuffer.compute_returns_and_advantage``, whatever the algorithm passed it.
    (Recomputing from ``callback.locals["values"]`` would not be: sb3-contrib 2.9's
    RecurrentPPO calls ``on_rollout_end`` without refreshing the callback's locals, so
    there they hold the values of the last step's observations, not of the next ones.)

    :param buffer: a full SB3 rollout buffer whose returns and advantages are computed.
    :param log_pi_ref: ``(buffer_size, n_envs)`` ``log pi_ref`` of the actions taken.
    :param kl_coef: ``beta >= 0``.
    :return: ``kl_sampled``, the mean of ``log_probs - log_pi_ref`` over the rollout (the
        sampled estimate of ``KL(pi || pi_ref)`` TRL logs), and ``kl_penalty``, the mean
        reward taken away (``kl_coef * kl_sampled``).
    """
    shape = (buffer.buffer_size, buffer.n_envs)
    log_ref = np.asarray(log_pi_ref, dtype=np.float64)
    if log_ref.shape != shape:
        raise ValueError(f"log_pi_ref has shape {log_ref.shape}, the rollout {shape}")
    if not buffer.full:
        raise ValueError(f"the rollout buffer holds {buffer.pos} of {shape[0]} steps")
    log_pi = buffer.log_probs.astype(np.float64).reshape(shape)
    kl_sampled = log_pi - log_ref
    delta = -float(kl_coef) * kl_sampled
    if kl_coef > 0:
        correction = np.zeros(shape, dtype=np.float64)
        carry = np.zeros(shape[1], dtype=np.float64)
        discount = buffer.gamma * buffer.gae_lambda
        for step in reversed(range(shape[0])):
            if step < shape[0] - 1:
                carry *= discount * (1.0 - buffer.episode_starts[step + 1])
            carry += delta[step]
            correction[step] = carry
        dtype = buffer.rewards.dtype
        buffer.rewards[:] = (buffer.rewards + delta).astype(dtype)
        buffer.advantages[:] = (buffer.advantages + correction).astype(dtype)
        buffer.returns[:] = (buffer.returns + correction).astype(dtype)
    mean = float(kl_sampled.mean())
    return {"kl_sampled": mean, "kl_penalty": float(kl_coef) * mean}


class KLPenaltyCallback(BaseCallback):
    """Optimise ``E[r] - beta KL(pi || pi_ref)`` with any SB3 on-policy algorithm.

    At every step it keeps ``info["log_pi_ref"]`` of each env; at the end of each rollout
    (after SB3 computed returns and advantages, before the update) it applies
    :func:`apply_kl_penalty` to the algorithm's rollout buffer, with ``log pi`` the
    buffer's ``log_probs`` (the policy's own log-probability when it sampled). Works with
    PPO, A2C, TRPO, RecurrentPPO and MaskablePPO, any number of envs, episodes that end by
    termination or truncation anywhere in the rollout. A rollout cut short by another
    callback is never trained on, and its steps are dropped at the next rollout start.

    Logs, averaged over the rollouts between two logger dumps (and dumped when training
    ends): ``safety/kl_sampled`` (mean ``log pi - log pi_ref`` of the actions taken, as TRL
    logs it) and ``safety/kl_penalty`` (mean reward taken away, ``beta * kl_sampled``). The
    exact KL of the full action distributions is ``safety/kl_ref``, logged by
    :class:`~safety_rlhf.agents.callbacks.SafetyMetricsCallback`.

    >>> import gymnasium as gym
    >>> from stable_baselines3 import PPO
    >>> import safety_rlhf
    >>> env = gym.make("SafetyRLHF-v0", reward_model="gold")
    >>> model = PPO("MlpPolicy", env, n_steps=32, batch_size=32, n_epochs=1, seed=0)
    >>> kl = KLPenaltyCallback(kl_coef=0.1)
    >>> model = model.learn(64, callback=kl)
    >>> sorted(kl.last_stats)  # of the last rollout
    ['kl_penalty', 'kl_sampled']

    :param kl_coef: ``beta``, the weight of the KL penalty (finite, ``>= 0``; 0 leaves the
        rewards alone and only logs ``safety/kl_sampled``).
    :param info_key: the ``info`` key holding ``log pi_ref(a|s)`` of the action taken
        (default ``"log_pi_ref"``).
    :param verbose: SB3 verbosity (default 0).
    """

    def __init__(self, kl_coef: float, info_key: str = INFO_KEY, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.kl_coef = check_kl_coef(kl_coef)
        self.info_key = info_key
        self._steps: list[np.ndarray] = []
        #: The statistics of the last penalised rollout (see :func:`apply_kl_penalty`).
        self.last_stats: dict[str, float] = {}

    def _init_callback(self) -> None:
        check_kl_coef(self.kl_coef, type(self.model))
        buffer = getattr(self.model, "rollout_buffer", None)
        if not isinstance(self.model, OnPolicyAlgorithm) or not isinstance(buffer, RolloutBuffer):
            raise ValueError(
                f"KLPenaltyCallback needs an SB3 on-policy algorithm with a rollout buffer, "
                f"got {type(self.model).__name__}"
            )
        gae = type(buffer).compute_returns_and_advantage
        if gae is not RolloutBuffer.compute_returns_and_advantage:
            raise ValueError(
                f"KLPenaltyCallback: {type(buffer).__name__} computes returns its own way "
                "(not SB3's RolloutBuffer GAE); the penalty cannot be added to them"
            )

    def _on_rollout_start(self) -> None:
        self._steps = []  # a rollout cut short (never trained on) leaves nothing behind

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals["infos"]
        row = np.empty(len(infos), dtype=np.float64)
        for i, info in enumerate(infos):
            value = info.get(self.info_key)
            if value is None:
                raise ValueError(
                    f"KLPenaltyCallback: env {i} ({self._env_name(i)}) returned no "
                    f"info[{self.info_key!r}] (log pi_ref of the action taken), which the "
                    "KL penalty needs at every step"
                )
            row[i] = value
        if not np.isfinite(row).all():
            i = int(np.flatnonzero(~np.isfinite(row))[0])
            raise ValueError(
                f"KLPenaltyCallback: env {i} ({self._env_name(i)}) returned "
                f"info[{self.info_key!r}] = {row[i]!r}; it must be finite"
            )
        self._steps.append(row)
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer  # type: ignore[attr-defined]
        if len(self._steps) != buffer.buffer_size:
            raise RuntimeError(
                f"KLPenaltyCallback saw {len(self._steps)} steps of a rollout of "
                f"{buffer.buffer_size}: it must be passed to learn() from the start"
            )
        self.last_stats = apply_kl_penalty(buffer, np.stack(self._steps), self.kl_coef)
        self._steps = []
        for name, value in self.last_stats.items():
            self.logger.record_mean(f"safety/{name}", value)

    def _on_training_end(self) -> None:
        # A2C dumps every 100 updates by default: write what is still averaging
        if "safety/kl_sampled" in self.logger.name_to_value:
            self.logger.dump(self.num_timesteps)

    def _env_name(self, i: int) -> str:
        """The env id (or class name) of sub-environment ``i`` of the training env."""
        env = self.training_env
        try:
            spec = env.get_attr("spec", indices=[i])[0]
        except (AttributeError, IndexError, TypeError, ValueError):
            spec = None
        return spec.id if spec is not None else type(env).__name__
