"""The native vector env of ``SafetyRLHF-Text-v0``: ``num_envs`` responses written at once."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from safety_rlhf.envs.prompt_stream import BatchPromptStream, require_reset
from safety_rlhf.envs.text_env import DEFAULT_MAX_TOKENS, SafetyRLHFTextEnv
from safety_rlhf.envs.text_episodes import TextEpisodes
from safety_rlhf.envs.vector_env import parse_autoreset_mode
from safety_rlhf.task.tokenizer import VOCAB_SIZE

__all__ = ["SafetyRLHFTextVectorEnv"]

_RESET_KEYS = ("prompt_id", "prompt", "category")


class SafetyRLHFTextVectorEnv(VectorEnv):
    """``num_envs`` copies of ``SafetyRLHF-Text-v0`` stepped with array operations.

    It returns exactly what :class:`~gymnasium.vector.SyncVectorEnv` of ``gym.make`` single
    envs returns, seeded ``s + i``, in the same autoreset mode, with the same dtypes: the
    token-level state of all episodes lives in one
    :class:`~safety_rlhf.envs.text_episodes.TextEpisodes`, and the reward model is called
    once per step for all the responses that ended in it. Episodes end at ``<eos>``
    (``terminated``) or at ``max_tokens`` tokens (``terminated`` and ``truncated``, as the
    single env and its ``TimeLimit`` report it).

    :param num_envs: number of sub-environments.
    :param max_episode_steps: the time limit, at least ``max_tokens`` (a longer one never
        acts: the budget ends every response first; ``None``:
        ``max_tokens``); ``gym.make_vec`` passes the registered 48.
    :param autoreset_mode: ``"next_step"`` (default, Gymnasium's) or ``"same_step"``
        (SB3's convention, used by :mod:`safety_rlhf.agents.native_vec_env`).
    :param render_mode: must be ``None``.
    :param kwargs: the arguments of :class:`~safety_rlhf.envs.text_env.SafetyRLHFTextEnv`.

    >>> import gymnasium as gym
    >>> import numpy as np
    >>> import safety_rlhf
    >>> envs = gym.make_vec(
    ...     "SafetyRLHF-Text-v0", num_envs=3, vectorization_mode="vector_entry_point",
    ...     reward_model="gold",
    ... )
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape == (3, envs.single_observation_space.shape[0])
    True
    >>> obs, rewards, terminated, truncated, info = envs.step(np.zeros(3, dtype=np.int64))
    >>> terminated.tolist(), info["decision"].tolist()  # <eos> first: an empty response
    ([True, True, True], ['degenerate', 'degenerate', 'degenerate'])
    """

    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": [],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or int(num_envs) < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        mode = parse_autoreset_mode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(
                f"autoreset_mode={autoreset_mode!r} is not supported by "
                f"{type(self).__name__}; use 'next_step' or 'same_step'"
            )
        if render_mode is not None:
            raise ValueError(f"{type(self).__name__} does not render (render_mode must be None)")
        max_tokens = kwargs.get("max_tokens", DEFAULT_MAX_TOKENS)
        if max_episode_steps is not None and max_episode_steps < max_tokens:
            raise ValueError(
                f"max_episode_steps={max_episode_steps} is below max_tokens={max_tokens}: "
                "a shorter time limit would cut responses before they are scored"
            )
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.autoreset_mode = mode
        self.render_mode = None
        self.num_envs = int(num_envs)
        #: The single env whose setup (prompts, encodings, models) all sub-envs share.
        self.single_env = SafetyRLHFTextEnv(**kwargs)
        self.setup = self.single_env.setup
        self.prompt_set = self.setup.prompt_set
        self.reward_model = self.setup.reward_model
        self.max_episode_steps = self.setup.max_tokens
        self.single_observation_space = self.single_env.observation_space
        self.single_action_space = self.single_env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, VOCAB_SIZE), seed=None)
        self._episodes = TextEpisodes(self.setup, self.num_envs)
        self._stream = BatchPromptStream(
            len(self.prompt_set), [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        )
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)
        self._was_reset = np.zeros(self.num_envs, dtype=bool)  # per sub-env

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
        rows = np.flatnonzero(mask)
        self._was_reset[rows] = True
        info: dict[str, Any] = {}
        self._start(rows, info)
        self._needs_reset[rows] = False
        return self._episodes.observe(), info

    def _start(self, rows: np.ndarray, info: dict[str, Any]) -> None:
        """New episodes on ``rows``; their reset info goes into ``info``."""
        if len(rows) == 0:
            return
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[rows] = True
        prompts = self._stream.next(mask)
        self._episodes.start(rows, prompts)
        ps = self.prompt_set
        for key, column in (
            ("prompt_id", ps.ids),
            ("prompt", ps.prompts),
            ("category", ps.categories),
        ):
            values = info.get(key, np.full(self.num_envs, None, dtype=object))
            values[rows] = [column[i] for i in prompts.tolist()]
            present = info.get(f"_{key}", np.zeros(self.num_envs, dtype=bool))
            present[rows] = True
            info[key], info[f"_{key}"] = values, present

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions must be {self.num_envs} integers, got {actions!r}")
        if ((a < 0) | (a >= VOCAB_SIZE)).any():
            raise ValueError(f"actions {actions!r} are not all in {self.single_action_space}")
        require_reset(self, self._was_reset)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        info: dict[str, Any] = {}
        restart = np.flatnonzero(self._needs_reset)  # next_step mode: last step ended these
        stepping = ~self._needs_reset
        step_rows = np.flatnonzero(stepping)
        step_log_ref, step_ended = self._episodes.advance(a[step_rows], step_rows)
        log_ref = np.zeros(self.num_envs, dtype=np.float64)
        log_ref[step_rows] = step_log_ref
        ended = np.zeros(self.num_envs, dtype=bool)
        ended[step_rows] = step_ended
        info["log_pi_ref"], info["_log_pi_ref"] = log_ref.copy(), stepping.copy()
        done_rows = np.flatnonzero(ended)
        final = self._episodes.finish(done_rows)
        terminated[done_rows] = True  # scored and finished, at <eos> or at the budget
        truncated[done_rows] = self._episodes.length[done_rows] >= self.max_episode_steps
        obs = self._episodes.observe()
        same_step = self.autoreset_mode is AutoresetMode.SAME_STEP
        if same_step and len(done_rows):
            final_info: dict[str, Any] = {}
            for row, row_info in zip(done_rows.tolist(), final, strict=True):
                row_info["log_pi_ref"] = float(log_ref[row])
                rewards[row] = row_info["proxy_reward"]
                self._add_info(final_info, row_info, row)
            final_obs = np.full(self.num_envs, None, dtype=object)
            for row in done_rows.tolist():
                final_obs[row] = obs[row].copy()  # obs[row] becomes the next episode's
            info["log_pi_ref"][done_rows], info["_log_pi_ref"][done_rows] = 0.0, False
            info["final_obs"], info["_final_obs"] = final_obs, ended.copy()
            info["final_info"], info["_final_info"] = final_info, ended.copy()
            self._start(done_rows, info)
            obs[done_rows] = self._episodes.observe(done_rows)
        else:
            for row, row_info in zip(done_rows.tolist(), final, strict=True):
                rewards[row] = row_info["proxy_reward"]
                row_info.pop("log_pi_ref", None)
                self._add_info(info, row_info, row)
            self._needs_reset[done_rows] = True
        if len(restart):
            self._start(restart, info)
            self._needs_reset[restart] = False
            obs[restart] = self._episodes.observe(restart)
        if not info["_log_pi_ref"].any():  # no sub-env reports it: no key, as SyncVectorEnv
            del info["log_pi_ref"], info["_log_pi_ref"]
        return obs, rewards, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """bool ``(num_envs, V)``: the tokens each sub-environment allows now."""
        if not self.single_env.mask_below_floor:
            return np.ones((self.num_envs, VOCAB_SIZE), dtype=bool)
        return self._episodes.action_masks()

    def close(self, **kwargs: Any) -> None:
        self.single_env.close()
