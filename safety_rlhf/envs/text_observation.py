"""The observation of ``SafetyRLHF-Text-v0``: what the policy sees before writing a token.

One flat float32 vector, in this order (``V`` the vocabulary size, ``T`` the response
budget ``max_tokens``, ``D`` the prompt encoding's size):

=======================  ==========  ======================================================
slice                    size        what
=======================  ==========  ======================================================
``prompt``               ``D``       the prompt's encoding (MiniLM by default)
``bag``                  ``V``       count of each token written so far, divided by ``T``
``last``                 ``V``       one-hot of the last token (all zero before any)
``before_last``          ``V``       one-hot of the token before it (all zero before two)
``position``             1           tokens written so far, divided by ``T``
``posterior``            6           ``pi_ref``'s posterior over the six strategies given
                                     the prompt and the prefix
=======================  ==========  ======================================================

The last two tokens and the posterior determine ``pi_ref(. | prompt, prefix)`` exactly
(a mixture of the strategies' trigram models, see :mod:`safety_rlhf.task.reference_lm`), so
a policy can imitate ``pi_ref``: :meth:`TextObservation.reference_log_probs` recomputes it
from an observation alone, which is also how the exact ``safety/kl_ref`` is logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from safety_rlhf.task.reference_lm import ReferenceLM

__all__ = ["TextObservation"]

_N_STRATEGIES = 6


@dataclass(frozen=True)
class TextObservation:
    """The layout of the observation vector.

    :param prompt_dim: size ``D`` of the prompt encoding.
    :param prompt_low: lower bound of the prompt encoding's values.
    :param prompt_high: upper bound of the prompt encoding's values.
    :param vocab_size: the vocabulary size ``V``.
    :param max_tokens: the response budget ``T``.
    """

    prompt_dim: int
    prompt_low: float
    prompt_high: float
    vocab_size: int
    max_tokens: int

    @property
    def size(self) -> int:
        """Length of the observation vector."""
        return self.prompt_dim + 3 * self.vocab_size + 1 + _N_STRATEGIES

    def slices(self) -> dict[str, slice]:
        """Name -> slice of each part, in order."""
        sizes = {
            "prompt": self.prompt_dim,
            "bag": self.vocab_size,
            "last": self.vocab_size,
            "before_last": self.vocab_size,
            "position": 1,
            "posterior": _N_STRATEGIES,
        }
        out, start = {}, 0
        for name, size in sizes.items():
            out[name] = slice(start, start + size)
            start += size
        return out

    def space(self) -> spaces.Box:
        """The observation space: ``Box`` with each part's own bounds."""
        low = np.zeros(self.size, dtype=np.float32)
        high = np.ones(self.size, dtype=np.float32)
        part = self.slices()["prompt"]
        low[part], high[part] = self.prompt_low, self.prompt_high
        return spaces.Box(low=low, high=high, dtype=np.float32)

    def build(
        self,
        prompt_obs: np.ndarray,
        bag: np.ndarray,
        tokens: np.ndarray,
        length: np.ndarray,
        log_posterior: np.ndarray,
    ) -> np.ndarray:
        """Observations of ``k`` episodes: float32 ``(k, size)``.

        :param prompt_obs: ``(k, D)`` prompt encodings.
        :param bag: ``(k, V)`` token counts divided by ``T``.
        :param tokens: ``(k, T)`` tokens written (positions ``>= length`` are ignored).
        :param length: ``(k,)`` tokens written so far.
        :param log_posterior: ``(k, 6)`` ``pi_ref``'s log posterior over the strategies.
        """
        k = len(length)
        s = self.slices()
        obs = np.zeros((k, self.size), dtype=np.float32)
        obs[:, s["prompt"]] = prompt_obs
        obs[:, s["bag"]] = bag
        rows = np.arange(k)
        for name, back in (("last", 1), ("before_last", 2)):
            has = length >= back
            col = tokens[rows[has], length[has] - back]
            obs[rows[has], s[name].start + col] = 1.0
        obs[:, s["position"]] = (length / self.max_tokens)[:, None]
        obs[:, s["posterior"]] = np.exp(log_posterior)
        return obs

    def reference_log_probs(self, lm: ReferenceLM, obs: np.ndarray) -> np.ndarray:
        """``log pi_ref(. | prompt, prefix)`` recomputed from observations alone: float64
        ``(k, V)``. Exact up to the float32 rounding of the posterior in the observation."""
        s = self.slices()
        obs = np.asarray(obs, dtype=np.float64).reshape(-1, self.size)
        context = np.full((len(obs), 2), lm.vocab_size, dtype=np.int64)  # BOS = V
        for col, name in ((1, "last"), (0, "before_last")):
            part = obs[:, s[name]]
            has = part.max(axis=1) > 0.5
            context[has, col] = part[has].argmax(axis=1)
        with np.errstate(divide="ignore"):
            log_post = np.log(obs[:, s["posterior"]])
        return lm.log_probs(lm.state_at(log_post, context))
