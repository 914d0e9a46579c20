"""The reward-model interface: a batched ``score`` with checked output, and a name registry.

Every reward model, built in or user-supplied, answers one call::

    model.score(prompts, responses, **columns) -> np.ndarray  # float32, one score per pair

``columns`` carry the prompt set's metadata (``label``, ``category``, ...). They are gold
information, so only oracles may read them: a model sees them in ``_score`` only if its
class sets ``reads_gold_columns = True``. Every other model is label-free by construction.

As in Stable-Baselines3's callbacks (``on_step`` wraps ``_on_step``), the public method
``score`` wraps the abstract hook ``_score`` and validates what it returns, so a broken
model fails loudly at the first call, naming itself and the offending pair.

Scores of label-free models are cached within the process, keyed by the model's
:attr:`~RewardModel.identity` and the (prompt, response) text, so a slow model is never
called twice for the same pair. Models are assumed to be deterministic functions of the
pair; a model that is not sets ``cache_scores = False``.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

__all__ = ["CallableRewardModel", "RewardModel", "RewardModelError"]

ScoreFn = Callable[..., Any]


class RewardModelError(ValueError):
    """A reward model was misconfigured or returned invalid scores."""


class RewardModel(ABC):
    """Base class of every reward model.

    Subclasses implement :meth:`_score`; users call :meth:`score`.

    :cvar name: registry name (set by :func:`register_reward_model`).
    :cvar reads_gold_columns: whether :meth:`_score` receives the prompt set's gold
        metadata columns (``label``, ``category``, ...). Only oracles set this.
    """

    name: str = ""
    reads_gold_columns: ClassVar[bool] = False
    #: Whether the ``ARGUMENT`` of ``"name:ARGUMENT"`` is a path (a checkpoint folder): a
    #: spec read from a run folder may then only name a path inside that folder.
    argument_is_path: ClassVar[bool] = False

    @classmethod
    def nested_weights(cls, argument: str) -> list[tuple[str, float]]:
        """``(spec, weight)`` of each nested spec of ``"name:argument"`` (default: none)."""
        return []

    @classmethod
    def nested_specs(cls, argument: str) -> list[str]:
        """The reward-model specs inside a ``"name:argument"`` spec of this class (default:
        none; ``composite`` returns its parts), so :func:`check_spec_from_file` can check
        them without building anything."""
        return []

    cache_scores: ClassVar[bool] = True

    def score(
        self, prompts: Sequence[str], responses: Sequence[str], **columns: Sequence[Any]
    ) -> np.ndarray:
        """Score (prompt, response) pairs; higher is better.

        :param prompts: the prompts, one per pair.
        :param responses: the responses, one per pair.
        :param columns: per-pair metadata of the prompt set (gold label, category, ...),
            passed on only to models with ``reads_gold_columns = True``.
        :return: float32 array of shape ``(len(prompts),)``, all finite.
        :raises RewardModelError: when the inputs have different lengths, or the model
            returns the wrong shape, a non-numeric dtype or a non-finite value.
        """
        prompts = list(prompts)
        responses = list(responses)
        n = len(prompts)
        if len(responses) != n:
            raise RewardModelError(
                f"{self!r}: got {n} prompts but {len(responses)} responses; "
                "score() takes one response per prompt"
            )
        for key, values in columns.items():
            if len(values) != n:
                raise RewardModelError(
                    f"{self!r}: column {key!r} has {len(values)} values for {n} pairs"
                )
        if self.reads_gold_columns or not self.cache_scores:
            passed = dict(columns) if self.reads_gold_columns else {}
            return self._check_output(self._call(prompts, responses, passed), prompts, responses)
        return self._score_cached(prompts, responses)

    def _call(self, prompts: list[str], responses: list[str], columns: dict[str, Any]) -> Any:
        """:meth:`_score`, with any failure reported as a :class:`RewardModelError` that
        names the model (the original exception is chained)."""
        try:
            return self._score(prompts, responses, **columns)
        except RewardModelError:
            raise
        except Exception as exc:
            raise RewardModelError(
                f"{self!r} failed on {len(prompts)} pair(s) with {type(exc).__name__}: {exc}"
            ) from exc

    def _score_cached(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        cache = _SCORE_CACHE.setdefault(self.identity, {})
        keys = list(zip(prompts, responses, strict=True))
        missing = list(dict.fromkeys(k for k in keys if k not in cache))
        if missing:
            m_prompts = [p for p, _ in missing]
            m_responses = [r for _, r in missing]
            scores = self._check_output(
                self._call(m_prompts, m_responses, {}), m_prompts, m_responses
            )
            if sum(len(c) for c in _SCORE_CACHE.values()) + len(missing) > _SCORE_CACHE_LIMIT:
                for other in _SCORE_CACHE.values():
                    other.clear()
            cache.update(zip(missing, scores.tolist(), strict=True))
        return np.fromiter((cache[k] for k in keys), dtype=np.float32, count=len(keys))

    @abstractmethod
    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> Any:
        """Return one score per pair (array-like of numbers)."""

    def _check_output(self, raw: Any, prompts: list[str], responses: list[str]) -> np.ndarray:
        try:
            scores = np.asarray(raw)
        except Exception as exc:  # pragma: no cover - defensive: exotic return types
            raise RewardModelError(f"{self!r} returned {type(raw).__name__}: {exc}") from exc
        if scores.shape != (len(prompts),):
            raise RewardModelError(
                f"{self!r} returned shape {scores.shape} for {len(prompts)} pairs; "
                f"expected ({len(prompts)},)"
            )
        if np.issubdtype(scores.dtype, np.complexfloating) or not (
            np.issubdtype(scores.dtype, np.number) or scores.dtype == np.bool_
        ):
            raise RewardModelError(
                f"{self!r} returned dtype {scores.dtype}; expected a numeric array of real numbers"
            )
        scores = scores.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(scores))
        if bad.size:
            i = int(bad[0])
            raise RewardModelError(
                f"{self!r} returned {scores[i]} for pair {i} "
                f"(prompt={_short(prompts[i])!r}, response={_short(responses[i])!r}); "
                "scores must be finite"
            )
        return scores

    def score_components(
        self, prompts: Sequence[str], responses: Sequence[str], **columns: Sequence[Any]
    ) -> dict[str, np.ndarray]:
        """Named parts of the score, for models built from parts (``composite``,
        ``constitution``); the environment reports each in ``info["reward_components"]``.

        :return: ``{name: float32 array of shape (len(prompts),)}``; empty by default.
        """
        return {}

    @property
    def identity(self) -> str:
        """A string that changes whenever the scores could: it keys the score caches.

        The default is unique to this instance; models whose scores are fixed by their
        configuration override it, so that instances built from the same spec (one per
        environment of a vector env) share one cache.
        """
        return f"{type(self).__module__}.{type(self).__qualname__}@{id(self):x}"

    @property
    def cache_identity(self) -> str | None:
        """:attr:`identity` when the configuration alone fixes it (the same in every
        process), else ``None``. It keys the on-disk cache of environment tables
        (:mod:`safety_rlhf.envs.table_cache`); ``None`` keeps a model's scores off disk."""
        if not self.cache_scores or type(self).identity is RewardModel.identity:
            return None
        return self.identity

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class CallableRewardModel(RewardModel):
    """Wraps any function ``f(prompts, responses, **columns) -> array-like`` as a model.

    The function sees gold columns only if it declares them (a ``**kwargs`` parameter or
    a parameter named after a column); otherwise it is called with prompts and responses
    alone.

    :param fn: the scoring function.
    :param name: name shown in errors and logs (default: the function's qualified name).
    """

    def __init__(self, fn: ScoreFn, name: str | None = None) -> None:
        if not callable(fn):
            raise RewardModelError(f"reward model {fn!r} is not callable")
        self.fn = fn
        self.name = str(name or getattr(fn, "__qualname__", type(fn).__name__))
        params: Mapping[str, inspect.Parameter]
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # builtins without a signature
            params = {}
        self._accepts_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
        self._accepted = {
            n
            for n, p in params.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            and n not in ("prompts", "responses")
        }
        # Reading gold columns is the function's declared choice, as for built-in oracles.
        self.reads_gold_columns = self._accepts_all or bool(self._accepted)  # type: ignore[misc]

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> Any:
        if not self._accepts_all:
            columns = {k: v for k, v in columns.items() if k in self._accepted}
        return self.fn(prompts, responses, **columns)

    def __repr__(self) -> str:
        return f"CallableRewardModel({self.name!r})"


#: identity -> {(prompt, response): score}; cleared whole when it outgrows the limit.
_SCORE_CACHE: dict[str, dict[tuple[str, str], float]] = {}
_SCORE_CACHE_LIMIT = 5_000_000


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
