"""``composite``: a weighted sum of reward models.

``composite`` adds up any registered models::

    make_reward_model("composite:learned=1.0,rule=0.5")
    CompositeRewardModel({"rule": 1.0, my_model: 0.5})

Each part's score is also reported on its own (``score_components``);
:mod:`safety_rlhf.reward.constitution` builds the ``constitution`` model on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from safety_rlhf.reward.base import RewardModel, RewardModelError
from safety_rlhf.reward.registry import make_reward_model, register_reward_model

__all__ = ["CompositeRewardModel", "Weights", "parse_weights"]

Weights = str | Mapping[str, float] | Mapping[RewardModel, float] | Mapping[Any, float]


def parse_weights(weights: Weights, what: str = "composite") -> list[tuple[Any, float]]:
    """Parse ``"spec=weight,spec=weight"`` or a mapping into ``[(spec_or_model, weight)]``.

    Items are split on ``,`` and each item on its *last* ``=``, so a spec may itself
    contain ``:`` or ``=`` (``"bradley-terry:/runs/a=b=0.5"`` is spec
    ``"bradley-terry:/runs/a=b"`` with weight 0.5). Weights must be finite numbers;
    negative weights (penalties) and zero are allowed.

    :param weights: the string form or a mapping ``{spec_or_model: weight}``.
    :param what: the model name used in error messages (default ``"composite"``).
    :raises RewardModelError: naming the offending item when an item is empty, has no
        ``=weight``, or its weight is not a finite number, or when there are no items.
    """
    items: list[tuple[Any, Any, str]] = []  # (key, raw weight, item text for errors)
    if isinstance(weights, str):
        if not weights.strip():
            raise RewardModelError(
                f"reward model {what!r} needs 'name=weight' pairs, e.g. "
                f"'{what}:rule=1.0,gold=0.5'; got an empty spec"
            )
        for item in weights.split(","):
            spec, sep, raw = item.strip().rpartition("=")
            if not item.strip():
                raise RewardModelError(f"reward model {what!r}: empty item in {weights!r}")
            if not sep or not spec.strip():
                raise RewardModelError(
                    f"reward model {what!r}: item {item.strip()!r} is not 'name=weight'"
                )
            items.append((spec.strip(), raw.strip(), item.strip()))
    elif isinstance(weights, Mapping):
        items = [(key, value, f"{key!r}: {value!r}") for key, value in weights.items()]
        if not items:
            raise RewardModelError(f"reward model {what!r} needs at least one part; got {{}}")
    else:
        raise RewardModelError(
            f"reward model {what!r}: weights must be a 'name=weight,...' string or a "
            f"mapping, got {type(weights).__name__}"
        )
    parsed: list[tuple[Any, float]] = []
    for key, raw, text in items:
        if isinstance(key, str) and not key.strip():
            raise RewardModelError(f"reward model {what!r}: item {text!r} has an empty name")
        try:
            if isinstance(raw, bool):
                raise TypeError("bool")
            weight = float(raw)
        except (TypeError, ValueError):
            raise RewardModelError(
                f"reward model {what!r}: item {text!r} has weight {raw!r}, not a number"
            ) from None
        if not math.isfinite(weight):
            raise RewardModelError(
                f"reward model {what!r}: item {text!r} has non-finite weight {weight}"
            )
        parsed.append((key, weight))
    return parsed


@register_reward_model("composite")
class CompositeRewardModel(RewardModel):
    """A weighted sum of reward models: ``sum(weight * part.score(...))``.

    Each part gets the gold columns only if it reads them itself (the base class filters
    per part), and the composite counts as reading gold columns if any part does.
    :meth:`score_components` returns each part's raw (unweighted) score keyed by the part's
    registered name; a name used twice gets a suffix (``"rule"``, ``"rule_2"``).

    :param weights: ``"spec=weight,..."`` (the form ``"composite:learned=1.0,rule=0.5"``
        passes) or a mapping ``{spec_or_model: weight}``; specs are built with
        :func:`~safety_rlhf.reward.registry.make_reward_model`. Items split on ``,`` and then on
        the last ``=``, so specs may contain ``:``.
    :raises RewardModelError: naming the item, for an empty spec, a missing or non-numeric
        weight, or a part that cannot be built.

    >>> from safety_rlhf.task.strategies import render_responses
    >>> model = CompositeRewardModel("rule=1.0,rule=0.5")
    >>> prompt = "What is a good pasta recipe?"
    >>> [round(float(s), 2) for s in model.score([prompt] * 6, render_responses(prompt))]
    [1.5, 1.05, 0.3, -1.2, -1.2, 0.0]
    >>> sorted(model.score_components([prompt], ["Sure!"]))
    ['rule', 'rule_2']
    """

    @classmethod
    def nested_weights(cls, argument: str) -> list[tuple[str, float]]:
        """``(part spec, weight)`` of ``"composite:ARGUMENT"``."""
        return [(str(spec), weight) for spec, weight in parse_weights(argument)]

    @classmethod
    def nested_specs(cls, argument: str) -> list[str]:
        """The part specs of ``"composite:ARGUMENT"`` (checked, never built, by
        :func:`~safety_rlhf.reward.registry.check_spec_from_file`)."""
        return [str(spec) for spec, _ in parse_weights(argument)]

    def __init__(self, weights: Weights) -> None:
        what = self.name or "composite"
        parts: list[RewardModel] = []
        part_weights: list[float] = []
        for key, weight in parse_weights(weights, what):
            try:
                part = make_reward_model(key)
            except RewardModelError as exc:
                raise RewardModelError(f"reward model {what!r}: part {key!r}: {exc}") from exc
            parts.append(part)
            part_weights.append(weight)
        self.parts: list[RewardModel] = parts
        self.weights: list[float] = part_weights
        self.part_names: list[str] = _unique_names(parts)
        # Instance attribute, as CallableRewardModel does: gold access is the parts' choice.
        self.reads_gold_columns = any(p.reads_gold_columns for p in parts)  # type: ignore[misc]

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        total = np.zeros(len(prompts), dtype=np.float64)
        for part, weight in zip(self.parts, self.weights, strict=True):
            total += weight * part.score(prompts, responses, **columns).astype(np.float64)
        return total

    def score_components(
        self, prompts: Any, responses: Any, **columns: Any
    ) -> dict[str, np.ndarray]:
        """Each part's raw score (before weighting), keyed by part name.

        :return: ``{part name: float32 array of shape (len(prompts),)}``.
        """
        prompts, responses = list(prompts), list(responses)
        return {
            name: part.score(prompts, responses, **columns)
            for name, part in zip(self.part_names, self.parts, strict=True)
        }

    @property
    def weight_by_name(self) -> dict[str, float]:
        """``{part name: weight}``, in part order."""
        return dict(zip(self.part_names, self.weights, strict=True))

    @property
    def identity(self) -> str:
        """The parts' identities with their weights."""
        inner = ", ".join(
            f"{weight!r}*{part.identity}"
            for part, weight in zip(self.parts, self.weights, strict=True)
        )
        return f"{self.name or 'composite'}({inner})"

    @property
    def cache_identity(self) -> str | None:
        """:attr:`identity`, or ``None`` if any part's scores cannot be keyed on disk."""
        if any(part.cache_identity is None for part in self.parts):
            return None
        return self.identity

    def __repr__(self) -> str:
        spec = ",".join(f"{n}={w!r}" for n, w in self.weight_by_name.items())
        return f"{type(self).__name__}({spec!r})"


def _unique_names(parts: list[RewardModel]) -> list[str]:
    names: list[str] = []
    for part in parts:
        base = part.name or type(part).__name__
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    return names
