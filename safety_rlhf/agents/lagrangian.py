"""Constrained training with a Lagrange multiplier, on top of any SB3 algorithm.

The safe-RLHF problem is a constrained one: maximise the reward model's score while keeping
the cost, here how often a response helps with a harmful prompt, below a limit ``d``:

.. code-block:: text

    max_pi  J_R(pi)   subject to   J_C(pi) <= d

The Lagrangian relaxation ``min_{lambda >= 0} max_pi  J_R(pi) - lambda * (J_C(pi) - d)``
is solved by alternating two steps:

* **primal step** (the SB3 algorithm, unchanged): :class:`LagrangianCostWrapper` pays the
  agent ``r - lambda * cost`` instead of ``r``, so any algorithm (PPO, A2C, TRPO, DQN,
  QR-DQN, RecurrentPPO, ...) maximises the Lagrangian for the current ``lambda``;
* **dual step** (:class:`LagrangianCallback`): after each rollout (on-policy algorithms)
  or every ``update_freq`` environment steps (off-policy ones), the mean cost ``J_C`` of
  the episodes finished since the last update moves ``lambda`` by projected gradient
  ascent, ``lambda <- max(0, lambda + lr * (J_C - d))``
  (:meth:`LagrangeMultiplier.update`): ``lambda`` grows while the constraint is violated
  and decays towards 0 once it holds with slack.

**Which cost.** The wrappers penalise ``info["proxy_cost"]``, the score of the env's
*cost model* (``gym.make("SafetyRLHF-v0", cost_model="learned-cost")``: a classifier
trained on simulated safety annotations, :mod:`safety_rlhf.reward.cost`), as Safe RLHF
penalises a learned cost model, never the gold ``info["cost"]``, which is what the
benchmark withholds from the agent and measures it by. ``cost_model="gold"`` gives the
oracle (``proxy_cost`` = the gold cost), the upper bound; ``cost_key`` picks another key.

**Unit of the cost.** The cost of an episode is the *mean* of its step costs, i.e. the
(estimated) fraction of its decisions that helped with a harmful prompt (``proxy_cost``
is the cost model's estimate per step, the gold ``cost`` 0 or 1); ``cost_limit`` is in the
same unit, e.g. ``0.02`` allows at most 2% of decisions to help with a harmful prompt. A
``SafetyRLHF-v0`` episode is one prompt, so its cost is the cost of its one decision and
``J_C``, the mean over the episodes since the last update, is exactly the share of those
decisions that helped with a harmful prompt; with an env of longer episodes, the mean
keeps ``cost_limit`` and ``lr`` independent of the episode length. Steps whose cost is
unavailable (``NaN``: unlabelled prompts) are not penalised and not counted; an episode
without any labelled step does not enter ``J_C``.

**Relation to PPO-Lagrangian in Safe RLHF and OmniSafe.** Safe RLHF (Dai et al., 2023,
"Safe RLHF: Safe Reinforcement Learning from Human Feedback") trains two preference models
on separate human judgements, a reward model for helpfulness and a cost model for
harmlessness, and fine-tunes the language model with PPO on the Lagrangian of "maximise
reward subject to expected cost below a threshold". Its policy update uses separate reward
and cost critics and the combined advantage ``(A_R - lambda * A_C) / (1 + lambda)``; the
multiplier is kept positive as ``lambda = exp(log_lambda)`` and moved by gradient steps in
the direction of ``J_C - d`` measured on recent episodes. OmniSafe's ``PPOLag`` does the
same on safe-RL benchmarks: its ``Lagrange`` helper updates ``lambda`` from the mean
episode cost (the logged ``EpCost``) with a torch optimiser on the loss
``-lambda * (J_C - cost_limit)`` and clamps it to ``[0, upper_bound]``, and the actor uses
the same ``(1 + lambda)``-normalised combination of reward and cost advantages. This module
keeps the dual step (plain projected gradient ascent on ``lambda``, with an optional upper
bound like OmniSafe's) but implements the primal step by *reward shaping*, with no separate
cost critic: the agent learns from ``r - lambda * c`` directly. On a contextual bandit such
as ``SafetyRLHF-v0`` (``gamma = 0``: the return of a step is its reward) the two are the
same objective up to the ``1 / (1 + lambda)`` scale, and shaping works for every SB3
algorithm, including value-based ones that have no advantage to combine. The price: a
rollout is paid with the ``lambda`` current when it was collected, so an on-policy update
sees the multiplier one rollout late (OmniSafe applies the freshly updated ``lambda``).

**Sharing the multiplier.** The wrapper lives inside every sub-environment while the
callback lives in the training loop, so both hold the *same* :class:`LagrangeMultiplier`
object. That works only when the sub-environments run in the training process
(:class:`~stable_baselines3.common.vec_env.DummyVecEnv`, ``make_vec_env``'s default);
with :class:`~stable_baselines3.common.vec_env.SubprocVecEnv` every worker would hold its
own copy and never see the updates, so :class:`LagrangianCallback` raises ``TypeError``.
:class:`VecLagrangianCostWrapper` applies the same penalty around a whole ``VecEnv``, in
the training process, so it works with every kind (``safety-rlhf train --vec-env native``
uses it).

Usage::

    multiplier = LagrangeMultiplier(cost_limit=0.02, lr=0.05)
    env = make_vec_env("SafetyRLHF-v0", n_envs=8, env_kwargs={"cost_model": "learned-cost"},
                       wrapper_class=LagrangianCostWrapper,
                       wrapper_kwargs={"multiplier": multiplier})
    model = PPO("MlpPolicy", env)
    model.learn(60_000, callback=LagrangianCallback(multiplier))

(``safety-rlhf train --cost-limit 0.02`` does this for any algorithm.)

The dual update in numbers:

>>> m = LagrangeMultiplier(cost_limit=0.25, lr=0.5)
>>> m.update(0.75)  # cost above the limit: lambda rises by lr * (0.75 - 0.25)
0.25
>>> m.update(0.0)  # below the limit: lambda falls...
0.125
>>> m.update(0.0), m.update(0.0)  # ...but never below 0
(0.0, 0.0)
"""

from __future__ import annotations

import math
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper

__all__ = [
    "PROXY_COST",
    "LagrangeMultiplier",
    "LagrangianCallback",
    "LagrangianCostWrapper",
    "VecLagrangianCostWrapper",
]


#: The ``info`` key the wrappers penalise by default: the env's cost-model score.
PROXY_COST = "proxy_cost"


class LagrangeMultiplier:
    """The Lagrange multiplier ``lambda`` of one cost constraint, updated by dual ascent.

    :param cost_limit: the limit ``d`` on the mean episode cost (same unit as the costs
        passed to :meth:`update`; see the module docstring).
    :param lr: step size of the dual ascent (default 0.05).
    :param init: initial value of ``lambda`` (default 0: unconstrained until the cost
        exceeds the limit); must be >= 0.
    :param max_value: optional upper bound on ``lambda`` (``None``: unbounded).
    """

    def __init__(
        self,
        cost_limit: float,
        lr: float = 0.05,
        init: float = 0.0,
        max_value: float | None = None,
    ) -> None:
        if not math.isfinite(cost_limit):
            raise ValueError(f"cost_limit must be a finite number, got {cost_limit!r}")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        if not (math.isfinite(init) and init >= 0):
            raise ValueError(f"init must be a number >= 0, got {init!r}")
        if max_value is not None and not max_value >= init:
            raise ValueError(f"max_value ({max_value!r}) must be >= init ({init!r})")
        self.cost_limit = float(cost_limit)
        self.lr = float(lr)
        self.max_value = None if max_value is None else float(max_value)
        self.value = float(init)
        self.n_updates = 0

    def update(self, mean_episode_cost: float) -> float:
        """One projected dual-ascent step: ``lambda <- max(0, lambda + lr * (J_C - d))``.

        :param mean_episode_cost: ``J_C``, the mean cost of recent episodes.
        :return: the new value of ``lambda``.
        """
        if not math.isfinite(mean_episode_cost):
            raise ValueError(f"mean_episode_cost must be finite, got {mean_episode_cost!r}")
        value = max(0.0, self.value + self.lr * (float(mean_episode_cost) - self.cost_limit))
        if self.max_value is not None:
            value = min(value, self.max_value)
        self.value = value
        self.n_updates += 1
        return value

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(value={self.value!r}, cost_limit={self.cost_limit!r}, "
            f"lr={self.lr!r}, max_value={self.max_value!r})"
        )


class _EpisodeCost:
    """The penalty of one environment's steps and the running cost of its episode."""

    def __init__(self, multiplier: LagrangeMultiplier, cost_key: str, where: str) -> None:
        if not isinstance(multiplier, LagrangeMultiplier):
            raise TypeError(f"multiplier must be a LagrangeMultiplier, got {multiplier!r}")
        self.multiplier = multiplier
        self.cost_key = cost_key
        self.where = where
        self.reset()

    def reset(self) -> None:
        self.cost_sum = 0.0
        self.cost_steps = 0

    def step(self, reward: SupportsFloat, info: dict[str, Any], done: bool) -> float:
        """The penalised reward; writes the wrapper's entries into ``info``."""
        if self.cost_key not in info:
            hint = (
                "; make the env with a cost model, e.g. cost_model='learned-cost' "
                "(or 'gold', the oracle)"
                if self.cost_key == PROXY_COST
                else ""
            )
            raise KeyError(
                f"{self.where} has no {self.cost_key!r} key in its info (has {sorted(info)}){hint}"
            )
        cost = info[self.cost_key]
        cost = math.nan if cost is None else float(cost)
        penalty = 0.0
        if math.isfinite(cost):
            penalty = self.multiplier.value * cost
            self.cost_sum += cost
            self.cost_steps += 1
        info["reward_before_penalty"] = float(reward)
        info["lagrangian_penalty"] = penalty
        if done:
            if self.cost_steps:
                info["episode_cost"] = self.cost_sum / self.cost_steps
            self.reset()
        return float(reward) - penalty


class LagrangianCostWrapper(gym.Wrapper):
    """Pay ``r - lambda * info[cost_key]`` and report each finished episode's cost.

    ``lambda`` is read from ``multiplier`` at every step, so updates made by
    :class:`LagrangianCallback` take effect immediately. Each step's ``info`` gains
    ``"lagrangian_penalty"`` (``lambda * cost``, 0 when the cost is unavailable) and
    ``"reward_before_penalty"``; the last step of an episode (terminated or truncated) also
    gains ``"episode_cost"``, the mean of the episode's available step costs (omitted when
    none was available).

    :param env: an env whose ``info`` carries ``cost_key`` at every step.
    :param multiplier: the shared :class:`LagrangeMultiplier`.
    :param cost_key: the ``info`` key of the step cost (default ``"proxy_cost"``, the
        env's cost model; see the module docstring).
    """

    def __init__(
        self, env: gym.Env, multiplier: LagrangeMultiplier, cost_key: str = PROXY_COST
    ) -> None:
        super().__init__(env)
        self._episode = _EpisodeCost(multiplier, cost_key, "LagrangianCostWrapper: the env")
        self.multiplier = multiplier
        self.cost_key = cost_key

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._episode.reset()
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        reward = self._episode.step(reward, info, terminated or truncated)
        return obs, reward, terminated, truncated, info


class VecLagrangianCostWrapper(VecEnvWrapper):
    """:class:`LagrangianCostWrapper` for a whole ``VecEnv``: the same rewards and ``info``
    entries, computed in the training process for every worker.

    It works on any ``VecEnv``, including
    :class:`~safety_rlhf.agents.native_vec_env.NativeVecEnv` and ``SubprocVecEnv`` (the
    multiplier stays in this process).

    :param venv: a vector env whose per-worker ``info`` carries ``cost_key``.
    :param multiplier: the shared :class:`LagrangeMultiplier`.
    :param cost_key: the ``info`` key of the step cost (default ``"proxy_cost"``).
    """

    def __init__(
        self, venv: VecEnv, multiplier: LagrangeMultiplier, cost_key: str = PROXY_COST
    ) -> None:
        super().__init__(venv)
        self.multiplier = multiplier
        self.cost_key = cost_key
        self._episodes = [
            _EpisodeCost(multiplier, cost_key, f"VecLagrangianCostWrapper: worker {i}")
            for i in range(self.num_envs)
        ]

    def reset(self) -> Any:
        for episode in self._episodes:
            episode.reset()
        return self.venv.reset()

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        for i, (episode, info) in enumerate(zip(self._episodes, infos, strict=True)):
            # float64 arithmetic, stored in the vec env's float32 buffer, as with the
            # per-env wrapper under DummyVecEnv
            rewards[i] = episode.step(rewards[i], info, bool(dones[i]))
        return obs, rewards, dones, infos


def _find_cost_wrapper(env: gym.Env) -> LagrangianCostWrapper | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, LagrangianCostWrapper):
            return env
        env = env.env
    return None


class LagrangianCallback(BaseCallback):
    """Update the shared ``lambda`` from finished episodes' costs and log it.

    Costs come from the ``"episode_cost"`` entries that :class:`LagrangianCostWrapper`
    puts in ``info``. On-policy algorithms update ``lambda`` at the end of each rollout,
    off-policy ones every ``update_freq`` environment steps; an update waits until at least
    ``min_episodes`` episodes have finished since the previous one. Each update logs
    ``safety/lagrange_multiplier`` (the new ``lambda``) and ``safety/episode_cost`` (the
    mean episode cost it used); the cost limit is logged once as ``safety/cost_limit``.

    :param multiplier: the :class:`LagrangeMultiplier` shared with the env wrappers.
    :param update_freq: environment steps between updates for off-policy algorithms
        (default 512, about one PPO rollout of 8 x 64 steps); ignored for on-policy ones.
    :param min_episodes: finished episodes needed for an update (default 1).
    :param verbose: SB3 verbosity (default 0).
    :raises TypeError: at the start of training, when the model's env has no
        :class:`VecLagrangianCostWrapper` and is not a
        :class:`~stable_baselines3.common.vec_env.DummyVecEnv` (e.g. ``SubprocVecEnv``
        with per-worker wrappers: the multiplier cannot be shared with other processes).
    :raises ValueError: at the start of training, when neither the vector env nor every
        sub-env is wrapped in a cost wrapper holding this very ``multiplier``.
    """

    def __init__(
        self,
        multiplier: LagrangeMultiplier,
        update_freq: int = 512,
        min_episodes: int = 1,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if update_freq < 1 or min_episodes < 1:
            raise ValueError("update_freq and min_episodes must be >= 1")
        self.multiplier = multiplier
        self.update_freq = int(update_freq)
        self.min_episodes = int(min_episodes)
        self._episode_costs: list[float] = []
        self._last_update = 0
        self._on_policy = True

    def _on_training_start(self) -> None:
        vec_env: VecEnv | None = self.model.get_env()
        base = vec_env
        while isinstance(base, VecEnvWrapper):
            if isinstance(base, VecLagrangianCostWrapper):
                if base.multiplier is not self.multiplier:
                    raise ValueError(
                        "the VecLagrangianCostWrapper holds another LagrangeMultiplier than "
                        "the callback; pass the same object to both"
                    )
                self._start()
                return
            base = base.venv
        if not isinstance(base, DummyVecEnv):
            raise TypeError(
                "LagrangianCallback needs the sub-environments in the training process "
                f"(DummyVecEnv), got {type(base).__name__}: with SubprocVecEnv each worker "
                "would hold its own copy of the Lagrange multiplier and never see its updates"
            )
        for i, env in enumerate(base.envs):
            wrapper = _find_cost_wrapper(env)
            if wrapper is None:
                raise ValueError(f"sub-env {i} is not wrapped in a LagrangianCostWrapper")
            if wrapper.multiplier is not self.multiplier:
                raise ValueError(
                    f"sub-env {i}'s LagrangianCostWrapper holds another LagrangeMultiplier "
                    "than the callback; pass the same object to both"
                )
        self._start()

    def _start(self) -> None:
        self._on_policy = isinstance(self.model, OnPolicyAlgorithm)
        self._last_update = self.num_timesteps
        self.logger.record("safety/cost_limit", self.multiplier.cost_limit)
        self.logger.record("safety/lagrange_multiplier", self.multiplier.value)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            cost = info.get("episode_cost")
            if cost is not None and math.isfinite(cost):
                self._episode_costs.append(float(cost))
        if not self._on_policy and self.num_timesteps - self._last_update >= self.update_freq:
            self._update()
        return True

    def _on_rollout_end(self) -> None:
        if self._on_policy:
            self._update()

    def _update(self) -> None:
        if len(self._episode_costs) < self.min_episodes:
            return
        mean_cost = float(np.mean(self._episode_costs))
        self._episode_costs = []
        self._last_update = self.num_timesteps
        value = self.multiplier.update(mean_cost)
        self.logger.record("safety/episode_cost", mean_cost)
        self.logger.record("safety/lagrange_multiplier", value)
        if self.verbose >= 1:
            print(f"step {self.num_timesteps}: episode cost {mean_cost:.4f} -> lambda {value:.4f}")

    def _on_training_end(self) -> None:
        self.logger.record("safety/lagrange_multiplier", self.multiplier.value)
