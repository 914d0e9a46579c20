"""The state of a batch of ``SafetyRLHF-Text-v0`` episodes, stepped with array operations.

The single env (:mod:`safety_rlhf.envs.text_env`) is a batch of one and the native vector
env (:mod:`safety_rlhf.envs.text_vector_env`) a batch of ``num_envs``: both run this code,
so the vector env returns exactly what seeded single envs return.

Per episode it keeps the prompt, the tokens written so far, their bag of counts, the
reference model's state (its posterior over the six strategies and the last two tokens) and
``log pi_ref(. | prompt, prefix)`` of the next token. When an episode ends (``<eos>``, or
``max_tokens`` tokens written), the finished texts of all episodes that ended in the step
are scored by the reward model in one batched call and judged by the exact gold judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from safety_rlhf.data.prompts import PromptSet
from safety_rlhf.envs.text_observation import TextObservation
from safety_rlhf.reward.base import RewardModel
from safety_rlhf.task.reference_lm import LMState, ReferenceLM
from safety_rlhf.task.reference_policy import reference_probs
from safety_rlhf.task.text_judge import judge
from safety_rlhf.task.text_metrics import distinct_n
from safety_rlhf.task.tokenizer import EOS, VOCAB_SIZE, detokenize

__all__ = ["TextEpisodes", "TextSetup"]


@dataclass(frozen=True)
class TextSetup:
    """What every episode of one env shares: the prompts and the models.

    :param prompt_set: the prompts (with gold labels where known).
    :param prompt_obs: float32 ``(n_prompts, dim)`` prompt encodings.
    :param log_prior: float64 ``(n_prompts, 6)`` ``log pi_ref(strategy | prompt)``, the
        reference model's mixture weights.
    :param reward_model: scores finished (prompt, text) pairs.
    :param cost_model: scores them for ``info["proxy_cost"]`` (``None``: no cost model).
    :param lm: the reference language model ``pi_ref``.
    :param layout: the observation layout.
    :param max_tokens: the response budget (tokens, ``<eos>`` included).
    """

    prompt_set: PromptSet
    prompt_obs: np.ndarray
    log_prior: np.ndarray
    reward_model: RewardModel
    cost_model: RewardModel | None
    lm: ReferenceLM
    layout: TextObservation
    max_tokens: int

    @classmethod
    def build(
        cls,
        prompt_set: PromptSet,
        prompt_obs: np.ndarray,
        reward_model: RewardModel,
        cost_model: RewardModel | None,
        max_tokens: int,
    ) -> TextSetup:
        """Compute the priors and the layout for ``prompt_set``."""
        lm = ReferenceLM.default()
        with np.errstate(divide="ignore"):
            log_prior = np.log(reference_probs(prompt_set.prompts))
        layout = TextObservation(
            prompt_dim=prompt_obs.shape[1],
            prompt_low=float(np.min(prompt_obs, initial=0.0)),
            prompt_high=float(np.max(prompt_obs, initial=1.0)),
            vocab_size=VOCAB_SIZE,
            max_tokens=max_tokens,
        )
        return cls(
            prompt_set, prompt_obs, log_prior, reward_model, cost_model, lm, layout, max_tokens
        )


class TextEpisodes:
    """``n`` episodes in lock-step.

    :param setup: the prompts and models they share.
    :param n: number of episodes.
    """

    def __init__(self, setup: TextSetup, n: int) -> None:
        self.setup = setup
        self.n = int(n)
        v, t = VOCAB_SIZE, setup.max_tokens
        self.prompt = np.zeros(self.n, dtype=np.int64)
        self.tokens = np.full((self.n, t), EOS, dtype=np.int64)
        self.length = np.zeros(self.n, dtype=np.int64)
        self.bag = np.zeros((self.n, v), dtype=np.float32)
        self.log_ref_sum = np.zeros(self.n, dtype=np.float64)
        self.state = setup.lm.initial_state(setup.log_prior[self.prompt])
        self.next_log_ref = setup.lm.log_probs(self.state)
        self._columns = setup.prompt_set.columns()  # gold columns, for the oracles

    # ------------------------------------------------------------------ episode life cycle
    def start(self, rows: np.ndarray, prompts: np.ndarray) -> None:
        """Start new episodes on ``rows`` with the prompt indices ``prompts``."""
        rows = np.asarray(rows, dtype=np.int64)
        self.prompt[rows] = prompts
        self.tokens[rows] = EOS
        self.length[rows] = 0
        self.bag[rows] = 0.0
        self.log_ref_sum[rows] = 0.0
        fresh = self.setup.lm.initial_state(self.setup.log_prior[self.prompt[rows]])
        self.state = _replace_rows(self.state, rows, fresh)
        self.next_log_ref[rows] = self.setup.lm.log_probs(fresh)

    def observe(self, rows: np.ndarray | None = None) -> np.ndarray:
        """float32 observations of ``rows`` (default: all)."""
        idx = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        return self.setup.layout.build(
            prompt_obs=self.setup.prompt_obs[self.prompt[idx]],
            bag=self.bag[idx],
            tokens=self.tokens[idx],
            length=self.length[idx],
            log_posterior=self.state.log_posterior[idx],
        )

    def advance(
        self, actions: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Append one token to each episode of ``rows`` (default: all).

        :param actions: the tokens, one per row.
        :param rows: the episodes to extend.
        :return: ``log pi_ref`` of each token taken (float64) and whether each of those
            episodes ended with it (``<eos>``, or ``max_tokens`` reached).
        """
        rows = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        a = np.asarray(actions, dtype=np.int64)
        log_ref = self.next_log_ref[rows, a]
        self.tokens[rows, self.length[rows]] = a
        self.length[rows] += 1
        self.bag[rows, a] += 1.0 / self.setup.max_tokens
        self.log_ref_sum[rows] += log_ref
        lm = self.setup.lm
        if len(rows) == self.n:
            self.state = state = lm.advance(self.state, a)
        else:
            state = lm.advance(_take_rows(self.state, rows), a)
            self.state = _replace_rows(self.state, rows, state)
        self.next_log_ref[rows] = lm.log_probs(state)
        ended = (a == EOS) | (self.length[rows] >= self.setup.max_tokens)
        return log_ref, ended

    def action_masks(self, rows: np.ndarray | None = None) -> np.ndarray:
        """bool ``(k, vocab)``: the tokens ``pi_ref`` supports at each episode's state."""
        state = self.state if rows is None else _take_rows(self.state, np.asarray(rows))
        return self.setup.lm.support_mask(state)

    # ------------------------------------------------------------------ finished episodes
    def finish(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """The end-of-episode ``info`` of each of ``rows`` (its text scored and judged).

        The reward model is called once for all ``rows``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return []
        ps = self.setup.prompt_set
        idx = self.prompt[rows].tolist()
        prompts = [ps.prompts[i] for i in idx]
        ids = [self.tokens[r, : self.length[r]].tolist() for r in rows.tolist()]
        texts = [detokenize(seq, p) for seq, p in zip(ids, prompts, strict=True)]
        columns = {k: [v[i] for i in idx] for k, v in self._columns.items()}
        proxy = self.setup.reward_model.score(prompts, texts, **columns)
        proxy_cost = None
        if self.setup.cost_model is not None:
            proxy_cost = self.setup.cost_model.score(prompts, texts, **columns)
        out = []
        for k, (r, i) in enumerate(zip(rows.tolist(), idx, strict=True)):
            label = ps.labels[i]
            verdict = judge(ids[k], label)
            n_tokens = int(self.length[r])
            words = [t for t in ids[k] if t != EOS]
            info: dict[str, Any] = {
                "prompt_id": ps.ids[i],
                "prompt": prompts[k],
                "category": ps.categories[i],
                "subtype": ps.subtypes[i],
                "label": label,
                "response": texts[k],
                "decision": verdict.decision.value,
                "strategy": None if verdict.strategy is None else verdict.strategy.slug,
                "refused": verdict.decision.value == "refused",
                "harmful_content": bool(verdict.harmful_content),
                "cost": float(verdict.cost) if label is not None else float("nan"),
                "gold_reward": float(verdict.gold_reward),
                "proxy_reward": float(proxy[k]),
                "is_success": None if label is None else bool(verdict.is_success),
                "perplexity": float(np.exp(-self.log_ref_sum[r] / max(n_tokens, 1))),
                "length": n_tokens,
                "distinct_1": distinct_n(words, 1),
                "distinct_2": distinct_n(words, 2),
            }
            if proxy_cost is not None:
                info["proxy_cost"] = float(proxy_cost[k])
            out.append(info)
        return out


def _take_rows(state: LMState, rows: np.ndarray) -> LMState:
    return LMState(state.log_posterior[rows], state.context[rows], state.rows[:, rows])


def _replace_rows(state: LMState, rows: np.ndarray, sub: LMState) -> LMState:
    """``state`` with ``rows`` replaced by ``sub`` (a new state: LMState is immutable)."""
    log_posterior, context = state.log_posterior.copy(), state.context.copy()
    table_rows = state.rows.copy()
    log_posterior[rows], context[rows] = sub.log_posterior, sub.context
    table_rows[:, rows] = sub.rows
    return LMState(log_posterior, context, table_rows)
