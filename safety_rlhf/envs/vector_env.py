"""The native vector env of ``SafetyRLHF-v0``: N prompts answered per call, with arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from safety_rlhf.envs.prompt_stream import BatchPromptStream, require_reset
from safety_rlhf.envs.strategy_env import SafetyRLHFEnv
from safety_rlhf.task.strategies import IS_REFUSAL, SLUGS, Strategy

__all__ = ["SafetyRLHFVectorEnv"]

_SLUGS = np.array(SLUGS, dtype=object)
_IS_REFUSAL = np.array(IS_REFUSAL, dtype=bool)
_RESET_KEYS = ("prompt_id", "prompt", "category")
_TEXT_KEYS = ("prompt_id", "prompt", "category", "subtype", "label", "response")
_NUMBER_KEYS = ("cost", "gold_reward", "proxy_reward", "log_pi_ref")


def parse_autoreset_mode(value: str | AutoresetMode) -> AutoresetMode:
    """An :class:`AutoresetMode` from itself, its value (``"NextStep"``) or its name in
    snake case (``"next_step"``)."""
    if isinstance(value, AutoresetMode):
        return value
    for mode in AutoresetMode:
        if value in (mode.value, mode.name.lower()):
            return mode
    names = ", ".join(repr(m.name.lower()) for m in AutoresetMode)
    raise ValueError(f"autoreset_mode={value!r} is not one of {names}")


class SafetyRLHFVectorEnv(VectorEnv):
    """
    ``num_envs`` copies of :class:`~safety_rlhf.envs.strategy_env.SafetyRLHFEnv` stepped
    together with array operations, as Gymnasium's ``CartPoleVectorEnv`` is for CartPole:
    one table gather per step for observations, rewards and every ``info`` entry, no
    Python loop over sub-environments (except to refill prompt draws, once every
    :data:`~safety_rlhf.envs.prompt_stream.BLOCK` steps). The reward model scores every
    (prompt, strategy) pair once, in one batch, when the env is built; the sub-environments
    share those tables.

    Sub-environment ``i`` behaves exactly like a single env made with the same arguments
    (``gym.make("SafetyRLHF-v0", ...)``): after ``reset(seed=s)`` it sees the prompts of a
    single env reset with seed ``s + i``, so this env returns what
    :class:`~gymnasium.vector.SyncVectorEnv` of single envs returns, in the same autoreset
    mode: observations, rewards, terminations, truncations and ``info``, every ``info``
    array with the dtype ``SyncVectorEnv`` gives it (``is_success`` is bool, unless the
    first sub-environment reporting it answered an unlabelled prompt: then an object array
    holding ``None``), only faster. ``info`` is a dict of arrays with a boolean mask
    ``_key`` per key, as Gymnasium's vector envs give it; every call returns new arrays.
    ``reset(options={"reset_mask": mask})`` resets only the masked sub-environments.

    Each episode is one prompt (every step terminates), so the autoreset mode decides how
    many calls answer prompts: ``"same_step"``, the default here (declared in
    ``metadata["autoreset_mode"]``, as Gymnasium asks), answers ``num_envs`` prompts on
    every call and returns the next prompts at once (the answered prompts' observations
    and infos are in ``info["final_obs"]`` and ``info["final_info"]``); with
    ``"next_step"`` (Gymnasium's ``SyncVectorEnv`` default) every other call is a reset
    call that ignores its actions and pays 0, which wastes half of a training loop's steps.

    Make it with ``gym.make_vec("SafetyRLHF-v0", num_envs=N,
    vectorization_mode="vector_entry_point")``; Stable-Baselines3 uses it through
    :class:`~safety_rlhf.agents.native_vec_env.NativeVecEnv`.

    :param num_envs: number of sub-environments.
    :param max_episode_steps: the time limit ``T`` of ``gym.make(..., max_episode_steps=T)``
        (default ``None``, as the spec): ``None`` or at least 2, which never truncates since
        an episode ends after its one prompt. ``T = 1`` is refused: a ``TimeLimit`` of 1
        would also truncate the terminating step, or not, depending on its version (rl-zoo3
        patches it).
    :param autoreset_mode: ``"same_step"`` (default: each step returns the next prompts;
        the answered ones' observations and infos are in ``info["final_obs"]`` and
        ``info["final_info"]``) or ``"next_step"`` (the call after a step resets the
        sub-environments and ignores their actions).
    :param kwargs: the arguments of
        :class:`~safety_rlhf.envs.strategy_env.SafetyRLHFEnv` (``reward_model``,
        ``split``, ``prompts``, ``label_map``, ``encoder``, ``obs_dim``, ``cost_model``);
        ``render_mode`` must be ``None``.

    >>> import gymnasium as gym
    >>> import safety_rlhf
    >>> envs = gym.make_vec(
    ...     "SafetyRLHF-v0", num_envs=4, vectorization_mode="vector_entry_point",
    ...     reward_model="gold",
    ... )
    >>> type(envs).__name__, envs.num_envs
    ('SafetyRLHFVectorEnv', 4)
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape, envs.action_space
    ((4, 384), MultiDiscrete([6 6 6 6]))
    >>> envs.metadata["autoreset_mode"]
    <AutoresetMode.SAME_STEP: 'SameStep'>
    >>> obs, rewards, terminations, truncations, info = envs.step(np.full(4, 3))  # refuse
    >>> terminations.tolist()  # one prompt per episode; obs holds the next prompts
    [True, True, True, True]
    >>> answered = info["final_info"]
    >>> bool((rewards == answered["gold_reward"]).all()), answered["strategy"].tolist()
    (True, ['refuse', 'refuse', 'refuse', 'refuse'])
    """

    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": [],
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.SAME_STEP,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if max_episode_steps is not None and int(max_episode_steps) < 2:
            raise ValueError(
                f"max_episode_steps must be None or an integer >= 2 (an episode is one "
                f"prompt, which the response terminates), got {max_episode_steps!r}"
            )
        mode = parse_autoreset_mode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(
                f"autoreset_mode={autoreset_mode!r} is not supported by "
                f"{type(self).__name__}; use 'next_step' or 'same_step'"
            )
        if render_mode is not None:
            raise ValueError(f"{type(self).__name__} does not render (render_mode must be None)")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.autoreset_mode = mode
        self.render_mode = None
        self.num_envs = int(num_envs)
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)

        #: The single env whose tables (encodings, rewards, gold) all sub-envs share.
        self.single_env = SafetyRLHFEnv(**kwargs)
        env = self.single_env
        self.tables = env.tables
        self.prompt_set = env.prompt_set
        self.reward_model = env.reward_model
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.observation_space = batch_space(env.observation_space, self.num_envs)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, len(Strategy)), seed=None)

        # Everything step returns, as tables indexed by (prompt) or (prompt, action).
        ps, t = self.prompt_set, self.tables
        # (prompt, action) tables are flat, indexed by 6 * prompt + action: one 1-D take each
        self._observations = t.observations
        self._reward = env.reward_table.astype(np.float64).ravel()
        self._prompt_info = {
            "prompt_id": np.array(ps.ids, dtype=object),
            "prompt": np.array(ps.prompts, dtype=object),
            "category": np.array(ps.categories, dtype=object),
            "subtype": np.array(ps.subtypes, dtype=object),
            "label": np.array(ps.labels, dtype=object),
        }
        # Every per-step info value, one row per (prompt, action), so that a step gathers
        # all text values with one take and all numbers with another (the info keys are
        # column views of those two blocks).
        n_pairs = len(ps) * len(Strategy)
        texts = np.empty((n_pairs, len(_TEXT_KEYS)), dtype=object)
        for col, key in enumerate(_TEXT_KEYS):
            if key in self._prompt_info:
                texts[:, col] = np.repeat(self._prompt_info[key], len(Strategy))
        texts[:, _TEXT_KEYS.index("response")] = np.array(t.responses, dtype=object).ravel()
        self._texts = texts
        # is_success: bool (False where unlabelled, as SyncVectorEnv casts a None into its
        # bool array), or object (None where unlabelled) when the first sub-env reporting it
        # answered an unlabelled prompt
        self._unlabelled = np.array([label is None for label in ps.labels], dtype=bool)
        self._success = (t.success == 1.0).ravel()
        success = np.empty(n_pairs, dtype=object)
        success[:] = self._success.tolist()
        success[np.repeat(self._unlabelled, len(Strategy))] = None
        self._success_or_none = success
        self._component_names = list(t.components)
        cost = [] if t.proxy_cost is None else [t.proxy_cost]
        self._number_keys = _NUMBER_KEYS + ("proxy_cost",) * len(cost)
        columns = [t.cost, t.gold_reward, t.proxy_reward, t.log_ref, *cost, *t.components.values()]
        self._numbers = np.stack([c.astype(np.float64).ravel() for c in columns], axis=1)

        self._stream = BatchPromptStream(
            self.n_prompts, [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        )
        self._index = np.zeros(self.num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)
        self._was_reset = np.zeros(self.num_envs, dtype=bool)  # per sub-env

    @property
    def n_prompts(self) -> int:
        """Number of prompts in the chosen split or file."""
        return len(self.prompt_set)

    @property
    def np_randoms(self) -> list[np.random.Generator]:
        """The generator of each sub-environment."""
        return list(self._stream.rngs)

    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-environments, or those in ``options["reset_mask"]``.

        :param seed: an int ``s`` seeds sub-environment ``i`` with ``s + i``; a list gives
            one seed (or ``None``) per sub-environment; ``None`` keeps the generators.
        :param options: ``{"reset_mask": bool array (num_envs,)}`` to reset some only.
        """
        mask = self._stream.reset_rows(seed, options, self._was_reset)
        self._was_reset[mask] = True
        self._index[mask] = self._stream.next(mask)
        self._needs_reset[mask] = False
        info: dict[str, Any] = {}
        for key in _RESET_KEYS:
            values = np.full(self.num_envs, None, dtype=object)
            values[mask] = self._prompt_info[key][self._index[mask]]
            info[key], info[f"_{key}"] = values, mask.copy()
        return self._observations.take(self._index, axis=0), info

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        require_reset(self, self._was_reset)
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or actions.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be an integer array of shape ({self.num_envs},), got "
                f"{actions.dtype} array of shape {actions.shape}"
            )
        if actions.min() < 0 or actions.max() >= len(Strategy):
            i = int(np.flatnonzero((actions < 0) | (actions >= len(Strategy)))[0])
            raise ValueError(
                f"action {actions[i].item()!r} of sub-environment {i} is not in "
                f"{self.single_action_space}"
            )
        answered = self._index
        pair = answered * len(Strategy) + actions  # row of (prompt, action) in flat tables
        next_step = self.autoreset_mode is AutoresetMode.NEXT_STEP
        resetting = self._needs_reset  # (next_step only) reset now, ignoring the action
        any_reset = next_step and bool(resetting.any())
        stepping = ~resetting

        rewards = self._reward.take(pair)
        if any_reset:
            rewards[resetting] = 0.0
        terminations = stepping.copy()  # every answered prompt ends its episode
        truncations = np.zeros_like(stepping)

        if next_step:
            info = self._step_info(answered, actions, pair, stepping)
            self._index = answered.copy()  # a stepped sub-env shows its answered prompt
            if any_reset:
                self._index[resetting] = self._draw(resetting)
                for key in _RESET_KEYS:
                    info[key][resetting] = self._prompt_info[key][self._index[resetting]]
            self._needs_reset = stepping
            obs = self._observations.take(self._index, axis=0)
            return obs, rewards, terminations, truncations, info

        # same_step: the answered prompts go into final_obs / final_info, obs holds the next
        done = stepping
        final_info = self._step_info(answered, actions, pair, done, done)
        final_obs = np.full(self.num_envs, None, dtype=object)
        rows = np.flatnonzero(done)
        terminal = self._observations.take(answered[rows], axis=0)
        for row, values in zip(rows.tolist(), terminal, strict=True):
            final_obs[row] = values
        self._index = answered.copy()
        self._index[done] = self._draw(done)  # the reset
        # the reset's info (the new prompt), and the step's info where no episode ended
        info = self._step_info(self._index, actions, pair, ~done)
        if not done.all():
            for key in _RESET_KEYS:
                info[key][done] = self._prompt_info[key][self._index[done]]
        info["final_info"], info["_final_info"] = final_info, done.copy()
        info["final_obs"], info["_final_obs"] = final_obs, done.copy()
        obs = self._observations.take(self._index, axis=0)
        return obs, rewards, terminations, truncations, info

    def _draw(self, mask: np.ndarray) -> np.ndarray:
        """The next prompt of the sub-environments where ``mask``."""
        return self._stream.next() if mask.all() else self._stream.next(mask)

    def _step_info(
        self,
        i: np.ndarray,
        a: np.ndarray,
        pair: np.ndarray,
        mask: np.ndarray,
        prompt_mask: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """The info arrays of answering prompts ``i`` with actions ``a`` (flat index
        ``pair = 6 * i + a`` into the (prompt, action) tables): present where ``mask``
        (elsewhere the fill value of SyncVectorEnv: None, 0.0 or False), and the prompt
        keys where ``prompt_mask`` (default: every sub-env, since a resetting sub-env's info
        holds its new prompt). Every array is new."""
        n = self.num_envs
        if not mask.any():
            # no sub-env answered (all reset): only the prompt keys, as from N resets
            only: dict[str, Any] = {key: self._prompt_info[key].take(i) for key in _RESET_KEYS}
            only.update({f"_{key}": np.ones(n, dtype=bool) for key in _RESET_KEYS})
            return only
        absent = None if mask.all() else ~mask
        info: dict[str, Any] = {}
        texts = self._texts.take(pair, axis=0)
        strategy = _SLUGS.take(a)
        numbers = self._numbers.take(pair, axis=0)
        first = int(np.argmax(mask))  # SyncVectorEnv types a key by its first value
        if self._unlabelled[i[first]]:
            success = self._success_or_none.take(pair)
        else:
            success = self._success.take(pair)
        if absent is not None:
            texts[absent] = None
            strategy[absent] = None
            numbers[absent] = 0.0
            success[absent] = None if success.dtype == object else False
        for col, key in enumerate(_TEXT_KEYS):
            info[key] = texts[:, col]
        info["strategy"] = strategy
        info["refused"] = _IS_REFUSAL.take(a) & mask
        for col, key in enumerate(self._number_keys):
            info[key] = numbers[:, col]
        info["is_success"] = success
        for key in list(info):
            info[f"_{key}"] = mask.copy()
        if self._component_names:
            parts: dict[str, Any] = {}
            for col, key in enumerate(self._component_names, start=len(self._number_keys)):
                parts[key], parts[f"_{key}"] = numbers[:, col], mask.copy()
            info["reward_components"], info["_reward_components"] = parts, mask.copy()
        for key in _RESET_KEYS:  # in a resetting sub-env's info too (its new prompt)
            info[f"_{key}"] = np.ones(n, dtype=bool) if prompt_mask is None else prompt_mask.copy()
        return info
