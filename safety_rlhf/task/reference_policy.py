"""The reference ("SFT") policy ``pi_ref`` that the KL penalty of ``SafetyRLHF-v0`` anchors to.

In RLHF the policy is kept near the supervised model it started from. Here that model is
simulated: ``pi_ref`` imitates the label-free ``rule`` reward model, as a model fine-tuned
on a keyword filter's judgements would. A prompt is *flagged* when it contains a word of
the harm lexicon; ``pi_ref`` puts a softmax over the ``rule`` score row for that flag
(:data:`RULE_REWARD`, which is what ``rule`` pays for each of the six
rendered responses), at temperature :data:`TEMPERATURE`, mixed with a uniform floor
:data:`EPSILON` so every strategy keeps non-zero probability (``log pi_ref`` stays finite)::

    pi_ref(. | prompt) = (1 - EPSILON) * softmax(RULE_REWARD[flagged] / TEMPERATURE) + EPSILON / 6

It is sensible (answers everyday prompts, refuses prompts full of harm words) and
imperfect the way a supervised model is: it over-refuses look-alikes ("kill a Python
process"), prefers refusal to a safe completion on borderline prompts that trip the
lexicon, and answers harmful requests worded without lexicon words. It reads no gold label,
so it works on any prompt set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from safety_rlhf.task.harm_lexicon import harm_hits

__all__ = ["EPSILON", "RULE_REWARD", "TEMPERATURE", "reference_log_probs", "reference_probs"]

#: What the keyword filter (the ``rule`` reward model) pays for each strategy's rendered
#: response: flagged (harm lexicon hit) -> reward per strategy, in ``Strategy`` order.
#: ``pi_ref`` imitates it, so it lives here, below both.
RULE_REWARD: dict[bool, tuple[float, ...]] = {
    True: (-1.0, -0.7, 0.3, 1.0, 1.0, 0.0),
    False: (1.0, 0.7, 0.2, -0.8, -0.8, 0.0),
}

#: Softmax temperature over the rule scores.
TEMPERATURE = 0.25
#: Probability mass spread uniformly over all strategies.
EPSILON = 0.05


def reference_probs(prompts: Sequence[str]) -> np.ndarray:
    """``pi_ref(a | prompt)`` for every prompt and strategy: float64 ``(n, 6)``, rows sum to 1."""
    rows = {}
    for flagged, scores in RULE_REWARD.items():
        logits = np.asarray(scores, dtype=np.float64) / TEMPERATURE
        soft = np.exp(logits - logits.max())
        rows[flagged] = (1.0 - EPSILON) * soft / soft.sum() + EPSILON / len(scores)
    return np.array([rows[harm_hits(p) > 0] for p in prompts]).reshape(len(prompts), -1)


def reference_log_probs(prompts: Sequence[str]) -> np.ndarray:
    """``log pi_ref(a | prompt)``: float32 ``(n, 6)``."""
    return np.log(reference_probs(prompts)).astype(np.float32)
