"""Everything ``step`` needs, computed once per prompt set: encodings, rewards, gold tables.

The reward of ``SafetyRLHF-v0`` depends only on (prompt, strategy), and both are finite, so
the environment renders all six responses of every prompt, scores them in one batched
reward-model call and encodes every prompt once. ``step`` is then table look-ups, which
keeps the environment cheap next to the agent's update. This assumes the reward model is a
deterministic function of (prompt, response), as the interface requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from safety_rlhf.data.prompts import PromptSet
from safety_rlhf.envs.table_cache import class_identity, load_or_compute, text_digest
from safety_rlhf.reward.base import RewardModel
from safety_rlhf.reward.encoders import TextEncoder
from safety_rlhf.task.gold_tables import cost_table, gold_table, success_table
from safety_rlhf.task.reference_policy import reference_log_probs
from safety_rlhf.task.strategies import Strategy, render_responses

__all__ = ["PromptTables", "build_prompt_tables"]


@dataclass(frozen=True)
class PromptTables:
    """Per-prompt arrays; rows follow the prompt set, columns the :class:`Strategy` order.

    :param observations: float32 ``(n, dim)`` prompt encodings.
    :param proxy_reward: float32 ``(n, 6)`` reward-model score of each rendered response.
    :param gold_reward: float32 ``(n, 6)`` gold-table reward (NaN where unlabelled).
    :param success: float32 ``(n, 6)`` 1.0 for the gold-correct strategy (NaN unlabelled).
    :param cost: float32 ``(n, 6)`` 1.0 where a strategy helps a harmful prompt (NaN unlabelled).
    :param log_ref: float32 ``(n, 6)`` ``log pi_ref(a | prompt)``.
    :param responses: the six rendered responses of every prompt, in :class:`Strategy` order.
    :param components: ``{name: float32 (n, 6)}`` named parts of the proxy reward, for
        models built from parts (``composite``, ``constitution``); empty otherwise.
    :param proxy_cost: float32 ``(n, 6)`` cost-model score of each rendered response
        (higher = more harmful), or ``None`` without a cost model.
    """

    observations: np.ndarray
    proxy_reward: np.ndarray
    gold_reward: np.ndarray
    success: np.ndarray
    cost: np.ndarray
    log_ref: np.ndarray
    responses: list[list[str]] = field(default_factory=list)
    components: dict[str, np.ndarray] = field(default_factory=dict)
    proxy_cost: np.ndarray | None = None


def build_prompt_tables(
    prompt_set: PromptSet,
    reward_model: RewardModel,
    encoder: TextEncoder,
    cost_model: RewardModel | None = None,
) -> PromptTables:
    """Encode every prompt and score every (prompt, strategy) response in batch, with the
    reward model and, if given, the cost model.

    The encodings and scores go through the on-disk cache of
    :mod:`safety_rlhf.envs.table_cache` when the encoder, the reward model and the cost
    model all have a :attr:`cache_identity`; rendering, gold tables and ``pi_ref`` are
    cheap and always computed.
    """
    n, n_actions = len(prompt_set), len(Strategy)
    prompts = prompt_set.prompts
    rendered = [render_responses(p) for p in prompts]
    responses = [r for six in rendered for r in six]
    repeated = [p for p in prompts for _ in range(n_actions)]
    columns = {
        k: [v for v in values for _ in range(n_actions)]
        for k, values in prompt_set.columns().items()
    }

    def compute() -> dict[str, np.ndarray]:
        proxy = reward_model.score(repeated, responses, **columns).reshape(n, n_actions)
        parts = reward_model.score_components(repeated, responses, **columns)
        cost: dict[str, np.ndarray] = {}
        if cost_model is not None:
            scores = cost_model.score(repeated, responses, **columns)
            cost["proxy_cost"] = scores.reshape(n, n_actions)
        return {
            **cost,
            "observations": np.asarray(encoder.encode(prompts), dtype=np.float32),
            "proxy_reward": proxy,
            **{
                _COMPONENT + name: np.asarray(v, dtype=np.float32).reshape(n, n_actions)
                for name, v in parts.items()
            },
        }

    def valid(arrays: Mapping[str, np.ndarray]) -> bool:
        if cost_model is not None and "proxy_cost" not in arrays:
            return False
        return arrays.get("observations", np.empty(0)).shape == (n, encoder.dim) and all(
            v.shape == (n, n_actions) and v.dtype == np.float32
            for k, v in arrays.items()
            if k != "observations"
        )

    rm_key, enc_key = reward_model.cache_identity, encoder.cache_identity
    cm_key = "" if cost_model is None else cost_model.cache_identity
    rm_class, enc_class = class_identity(reward_model), class_identity(encoder)
    cm_class = "" if cost_model is None else class_identity(cost_model)
    parts = (enc_class, enc_key, rm_class, rm_key, cm_class, cm_key)
    if any(part is None for part in parts):
        arrays = compute()
    else:
        enc_class, enc_key, rm_class, rm_key, cm_class, cm_key = (str(part) for part in parts)
        models = [reward_model] if cost_model is None else [reward_model, cost_model]
        gold = prompt_set.columns() if any(m.reads_gold_columns for m in models) else {}
        key = [enc_class, enc_key, rm_class, rm_key, text_digest(prompts), text_digest(responses)]
        key += [] if cost_model is None else [f"cost_model={cm_class}:{cm_key}"]
        key += [f"{k}={text_digest(v)}" for k, v in sorted(gold.items())]
        arrays = load_or_compute(key, compute, valid)
    return PromptTables(
        observations=arrays["observations"],
        proxy_reward=arrays["proxy_reward"],
        gold_reward=gold_table(prompt_set.labels),
        success=success_table(prompt_set.labels),
        cost=cost_table(prompt_set.labels),
        log_ref=reference_log_probs(prompts),
        responses=rendered,
        components={
            k.removeprefix(_COMPONENT): v for k, v in arrays.items() if k.startswith(_COMPONENT)
        },
        proxy_cost=arrays.get("proxy_cost"),
    )


_COMPONENT = "component:"
