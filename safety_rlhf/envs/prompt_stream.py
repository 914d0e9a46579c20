"""Which prompt comes next: uniform draws from an environment's generator, in blocks.

Every ``reset`` of ``SafetyRLHF-v0`` (one prompt per episode) moves to a prompt drawn
uniformly from the split. Drawing one index per call (``np_random.integers(n)``) would make
a vector of N environments pay N Python-level generator calls per step. Instead each environment
draws :data:`BLOCK` indices at once (``np_random.integers(n, size=BLOCK)``) and hands them
out in order, refilling when they run out. The single env and the native vector env
(:mod:`safety_rlhf.envs.vector_env`) share this rule, so sub-env ``i`` of a vector env
seeded with ``s`` sees exactly the prompts of a single env seeded with ``s + i``, while the
vector env touches the generators only once every :data:`BLOCK` steps.

A new generator (``reset(seed=...)``, or assigning ``env.np_random``) starts a new block.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np
from gymnasium.utils import seeding

__all__ = ["BLOCK", "BatchPromptStream", "PromptStream", "require_reset"]

#: Prompt indices drawn per generator call.
BLOCK = 256


class PromptStream:
    """The prompt indices of one environment.

    :param n_prompts: size of the prompt set (indices are in ``[0, n_prompts)``).
    """

    def __init__(self, n_prompts: int) -> None:
        self.n_prompts = int(n_prompts)
        self._rng: np.random.Generator | None = None
        self._block = np.empty(0, dtype=np.int64)
        self._pos = 0

    def next(self, rng: np.random.Generator) -> int:
        """The next prompt index, drawn from ``rng`` (a new ``rng`` starts a new block)."""
        if rng is not self._rng or self._pos >= len(self._block):
            self._rng = rng
            self._block = rng.integers(self.n_prompts, size=BLOCK)
            self._pos = 0
        self._pos += 1
        return int(self._block[self._pos - 1])


class BatchPromptStream:
    """The prompt indices of ``len(rngs)`` environments, one generator each.

    Row ``i`` yields exactly what a :class:`PromptStream` fed with ``rngs[i]`` yields.

    :param n_prompts: size of the prompt set.
    :param rngs: one generator per environment.
    """

    def __init__(self, n_prompts: int, rngs: list[np.random.Generator]) -> None:
        self.n_prompts = int(n_prompts)
        self.rngs = list(rngs)
        self._blocks = np.stack([rng.integers(self.n_prompts, size=BLOCK) for rng in self.rngs])
        self._pos = np.zeros(len(self.rngs), dtype=np.int64)
        self._rows = np.arange(len(self.rngs))

    def reseed(self, rows: np.ndarray, rngs: list[np.random.Generator]) -> None:
        """Give the environments ``rows`` new generators (a new block each)."""
        for row, rng in zip(rows.tolist(), rngs, strict=True):
            self.rngs[row] = rng
            self._blocks[row] = rng.integers(self.n_prompts, size=BLOCK)
            self._pos[row] = 0

    def next(self, mask: np.ndarray | None = None) -> np.ndarray:
        """The next prompt index of every environment (or of those where ``mask``)."""
        if mask is None:  # every environment: no row selection
            out = self._blocks[self._rows, self._pos]
            self._pos += 1
            if self._pos.max() >= BLOCK:
                self._refill(self._rows[self._pos >= BLOCK])
            return out
        rows = self._rows[mask]
        pos = self._pos[rows]
        out = self._blocks[rows, pos]
        pos += 1
        self._pos[rows] = pos
        self._refill(rows[pos >= BLOCK])
        return out

    def _refill(self, rows: np.ndarray) -> None:
        for row in rows.tolist():  # all rows at once every BLOCK steps, when in step
            self._blocks[row] = self.rngs[row].integers(self.n_prompts, size=BLOCK)
            self._pos[row] = 0

    def reset_rows(
        self,
        seed: int | list[int | None] | None,
        options: dict[str, Any] | None,
        was_reset: np.ndarray,
    ) -> np.ndarray:
        """The vector envs' ``reset(seed=, options=)``: which environments reset, and new
        generators for them where a seed is given or where they were never reset.

        :param seed: an int ``s`` seeds environment ``i`` with ``s + i``; a list gives one seed
            (or ``None``) per environment; ``None`` keeps the generators.
        :param options: ``{"reset_mask": bool array (n,)}`` to reset some only.
        :param was_reset: bool ``(n,)``: the environments reset before.
        :return: the bool mask of the environments to reset.
        :raises ValueError: for a mask that is not a bool array of shape ``(n,)`` with a
            True, or a list of seeds of another length.
        """
        n = len(self.rngs)
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options must be a dict or None, got {type(options).__name__}")
        mask = (options or {}).get("reset_mask")
        mask = np.ones(n, dtype=bool) if mask is None else np.asarray(mask)
        if mask.shape != (n,) or mask.dtype != np.bool_ or not mask.any():
            raise ValueError(
                f"options['reset_mask'] must be a bool array of shape ({n},) with at least "
                f"one True, got {mask!r}"
            )
        if seed is None:
            seeds: list[int | None] = [None] * n
        elif _is_int(seed):
            seeds = [int(seed) + i for i in range(n)]
        elif isinstance(seed, list | tuple | np.ndarray) and all(
            s is None or _is_int(s) for s in seed
        ):
            seeds = [None if s is None else int(s) for s in seed]
            if len(seeds) != n:
                raise ValueError(
                    f"seed: got {len(seeds)} seeds for num_envs={n}; "
                    "give an int, None or one seed per sub-environment"
                )
        else:
            raise ValueError(
                f"seed must be an int, None or a list of {n} ints or None, got {seed!r}"
            )
        new = [
            (row, seeds[row])
            for row in np.flatnonzero(mask).tolist()
            if seeds[row] is not None or not was_reset[row]
        ]
        if new:
            rows = np.array([row for row, _ in new], dtype=np.int64)
            self.reseed(rows, [seeding.np_random(s)[0] for _, s in new])
        return mask


def _is_int(value: Any) -> TypeGuard[int | np.integer]:
    """A whole number (Python or NumPy), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def require_reset(owner: object, was_reset: np.ndarray) -> None:
    """The vector envs' check at ``step``: every sub-environment was reset.

    :raises RuntimeError: naming the sub-environments that never were.
    """
    if not was_reset.all():
        never = np.flatnonzero(~was_reset).tolist()
        raise RuntimeError(
            f"{type(owner).__name__}: call reset() before step() (sub-environments {never} "
            "were never reset)"
        )
