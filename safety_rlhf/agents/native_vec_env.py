"""Stable-Baselines3 on the native vector env: one Python object for all workers.

SB3 steps environments through its own :class:`~stable_baselines3.common.vec_env.VecEnv`
interface: ``make_vec_env`` builds a :class:`~stable_baselines3.common.vec_env.DummyVecEnv`
with one env object (and one ``Monitor``) per worker, stepped in a Python loop.
:class:`NativeVecEnv` adapts :class:`~safety_rlhf.envs.vector_env.SafetyRLHFVectorEnv`
instead: all workers step in one array call, in Gymnasium's ``same_step`` autoreset mode,
which is SB3's convention (the observation after a finished episode is the next episode's
first; the last one is in ``info["terminal_observation"]``). Every episode is one prompt,
so every step ends every worker's episode: the step ``info`` of each worker is the answered
prompt's (from ``final_info``), and ``reset_infos`` holds the next prompt's.

Seeded as ``make_vec_env`` seeds (worker ``i`` gets ``seed + i``), it returns exactly the
observations, rewards, dones and infos of ``make_vec_env("SafetyRLHF-v0", ...)``, so an
agent trained on either is the same agent. ``safety-rlhf train --vec-env native`` uses it.

>>> import safety_rlhf
>>> from stable_baselines3 import PPO
>>> venv = make_native_vec_env(n_envs=4, seed=0, env_kwargs={"reward_model": "rule"})
>>> venv.num_envs, venv.observation_space.shape
(4, (384,))
>>> model = PPO("MlpPolicy", venv, n_steps=16, batch_size=64, seed=0).learn(64)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from safety_rlhf.envs.text_vector_env import SafetyRLHFTextVectorEnv
from safety_rlhf.envs.vector_env import SafetyRLHFVectorEnv

__all__ = ["NativeVecEnv", "make_native_vec_env"]

_RESET_KEYS = ("prompt_id", "prompt", "category")  # what a reset of the single env reports


class NativeVecEnv(VecEnv):
    """An SB3 ``VecEnv`` over a :class:`SafetyRLHFVectorEnv` or a
    :class:`SafetyRLHFTextVectorEnv` (``same_step`` autoreset).

    :param env: the vector env; it must use ``autoreset_mode="same_step"``.
    """

    def __init__(self, env: SafetyRLHFVectorEnv | SafetyRLHFTextVectorEnv) -> None:
        if not isinstance(env, SafetyRLHFVectorEnv | SafetyRLHFTextVectorEnv):
            raise TypeError(f"NativeVecEnv needs a SafetyRLHF vector env, got {type(env).__name__}")
        if env.autoreset_mode is not gym.vector.AutoresetMode.SAME_STEP:
            raise ValueError(
                "NativeVecEnv needs autoreset_mode='same_step' (SB3's convention), "
                f"got {env.autoreset_mode.value!r}"
            )
        self.env = env
        # the vector env's is_success is a bool array (None cast to False, as in
        # SyncVectorEnv); SB3 needs the single env's None for unlabelled prompts
        self._unlabelled = any(label is None for label in env.prompt_set.labels)
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None
        self.reset_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]

    def reset(self) -> np.ndarray:
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        obs, info = self.env.reset(seed=seeds, options=self._options[0] or None)
        self.reset_infos = _rows(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None, "step_async must come before step_wait"
        obs, rewards, terminated, truncated, info = self.env.step(self._actions)
        dones = terminated | truncated
        if dones.all():  # one prompt per episode: every step, the cheap path
            infos = _rows(info["final_info"], self.num_envs, full=True)
            reset_infos = _rows({k: info[k] for k in _RESET_KEYS}, self.num_envs, full=True)
            final_obs = info["final_obs"]
            for i, (step_info, reset_info) in enumerate(zip(infos, reset_infos, strict=True)):
                step_info["terminal_observation"] = final_obs[i]
                self.reset_infos[i] = reset_info
        elif dones.any():  # the text env: some responses ended, the others go on
            infos = _rows(_step_infos(info, dones), self.num_envs)
            final_obs = info["final_obs"]
            for i in np.flatnonzero(dones).tolist():
                infos[i]["terminal_observation"] = final_obs[i]
                self.reset_infos[i] = {k: info[k][i] for k in _RESET_KEYS}
        else:
            infos = _rows(info, self.num_envs)
        if self._unlabelled:
            for row in infos:
                if "is_success" in row and row.get("label", "") is None:
                    row["is_success"] = None
        time_limit = (truncated & ~terminated).tolist()
        for row, flag in zip(infos, time_limit, strict=True):
            row["TimeLimit.truncated"] = flag
        # SB3's DummyVecEnv keeps rewards in float32
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of the shared env, once per selected worker."""
        value = getattr(self.env.single_env, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(
            f"NativeVecEnv: the workers share one env, so {attr_name!r} cannot be set per "
            "worker; set it on .env.single_env before training, or use DummyVecEnv"
        )

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        if method_name == "action_masks" and isinstance(self.env, SafetyRLHFTextVectorEnv):
            masks = self.env.action_masks()  # one row per worker (MaskablePPO asks for them)
            return [masks[i] for i in self._indices(indices)]
        method = getattr(self.env.single_env, method_name)
        return [method(*method_args, **kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]

    def _indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return list(indices)


def _step_infos(info: dict[str, Any], dones: np.ndarray) -> dict[str, Any]:
    """The step ``info`` of every worker as a Gymnasium vector info: for a worker whose
    episode ended, its ``final_info`` (the top level then holds the next episode's reset
    info); for the others, the top level."""
    final = info["final_info"]
    skip = ("final_obs", "final_info")
    keys = dict.fromkeys(k for k in [*info, *final] if not k.startswith("_") and k not in skip)
    out: dict[str, Any] = {}
    for key in keys:
        top, fin = info.get(key), final.get(key)
        absent = np.zeros(len(dones), dtype=bool)
        top_mask = absent if top is None else info.get(f"_{key}", ~absent)
        fin_mask = absent if fin is None else final.get(f"_{key}", ~absent)
        mask = np.where(dones, fin_mask, top_mask)
        if mask.any():
            out[key] = fin if top is None else top if fin is None else np.where(dones, fin, top)
            out[f"_{key}"] = mask
    return out


def _rows(info: dict[str, Any], n: int, full: bool = False) -> list[dict[str, Any]]:
    """A Gymnasium vector ``info`` (dict of arrays with ``_key`` masks) as SB3's list of
    per-worker dicts, with Python values as a single env returns them; ``full``: every key
    is known to be present in every worker (its masks are not read)."""
    keys: list[str] = []
    columns: list[list[Any]] = []
    partial: list[tuple[str, list[Any], list[int]]] = []
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = None if full else info.get(f"_{key}")
        column = _rows(value, n, full) if isinstance(value, dict) else value.tolist()
        if mask is None or mask.all():
            keys.append(key)
            columns.append(column)
        else:
            partial.append((key, column, np.flatnonzero(mask).tolist()))
    rows = [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]
    if not keys:
        rows = [{} for _ in range(n)]
    for key, column, present in partial:
        for row in present:
            rows[row][key] = column[row]
    return rows


def make_native_vec_env(
    env_id: str = "SafetyRLHF-v0",
    n_envs: int = 1,
    seed: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    monitor: bool = True,
) -> VecEnv:
    """The native counterpart of SB3's ``make_vec_env(env_id, n_envs, seed, env_kwargs=...)``.

    :param env_id: a registered id with a native vector env (``SafetyRLHF-v0``).
    :param n_envs: number of workers.
    :param seed: worker ``i`` is seeded with ``seed + i`` at the first reset.
    :param env_kwargs: arguments of the env (``reward_model``, ``split``, ...).
    :param monitor: wrap in SB3's :class:`VecMonitor` (episode returns and lengths for
        ``rollout/ep_rew_mean``), as ``make_vec_env`` wraps each env in ``Monitor``.
    """
    kwargs = {k: v for k, v in (env_kwargs or {}).items() if k != "render_mode"}
    vector = gym.make_vec(
        env_id,
        num_envs=n_envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode="same_step",
        **kwargs,
    )
    venv: VecEnv = NativeVecEnv(vector.unwrapped)  # type: ignore[arg-type]
    if seed is not None:
        venv.seed(seed)  # applied at the first reset, as in make_vec_env
        venv.action_space.seed(seed)  # make_vec_env seeds worker 0's, which SB3 samples
    return VecMonitor(venv) if monitor else venv
