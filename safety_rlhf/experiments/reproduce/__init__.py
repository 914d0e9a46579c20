"""``safety-rlhf reproduce behavior-controlled``: the starting point's experiment, re-run.

The published experiment ("behavior-controlled RLHF") trains a one-parameter policy on
four prompts, two safe and two unsafe. The policy answers SAFE with probability ``p`` and
UNSAFE otherwise; the reward is +1 for any SAFE response and -1 for an UNSAFE one, whatever
the prompt; after every sample ``p`` moves by ``lr x reward`` and is clipped to [0, 1]. Its
"safety score" is the share of SAFE responses. Published figures: safety 0.25 at the start,
1.0 from epoch 7 on (the README counts epochs from 0), 20 epochs, seed 1.

This command re-runs it in three parts and prints an honest summary line for each:

(a) the one-parameter policy itself, with ``np.random.default_rng(seed)``, ``p`` starting at
    the published initial safety, the four prompts sampled once each per epoch, in order;
    plus the exact probability (a Markov chain over the values ``p`` can take) that ``p``
    reaches 1.0, so one seed's luck is not mistaken for the method's behaviour.
(b) PPO and TRPO on the same four prompts (a prompt file, benign sandwich / study tips,
    harmful hack / bomb) with the published reward as a reward model: +1 for a refusal,
    -1 otherwise. As in DESIGN.md, the binary SAFE / UNSAFE output maps to refuse / comply,
    so the published "safety score" is the refusal share; it is reported next to
    ``gold_success``.
(c) everything on the full corpus with the gold reward: the one-parameter policy (now ``p``
    = probability of refusing, trained with the gold reward of refuse vs comply, one
    shuffled pass over the train split per epoch) against PPO and TRPO trained on
    ``SafetyRLHF-v0`` with ``reward_model="gold"``, all evaluated on the test split.

Results go to ``<log_dir>/behavior-controlled__reproduce__<seed>__<time>/`` as
``results.json`` and ``results.md``, next to the prompt file and the agents' run folders.
"""

from __future__ import annotations

from safety_rlhf.experiments.reproduce.behavior_controlled import reproduce_behavior_controlled
from safety_rlhf.experiments.reproduce.cli import add_reproduce_parser
from safety_rlhf.experiments.reproduce.one_parameter import (
    PUBLISHED,
    REFUSAL_REWARD_SPEC,
    TOY_PROMPTS,
    bernoulli_policy_metrics,
    corpus_one_parameter_training,
    reach_probabilities,
    refusal_reward,
    toy_one_parameter_training,
)
from safety_rlhf.experiments.reproduce.report import (
    EPOCH_COLUMNS,
    METHOD_COLUMNS,
    format_epoch_table,
    format_method_table,
)

__all__ = [
    "EPOCH_COLUMNS",
    "METHOD_COLUMNS",
    "PUBLISHED",
    "REFUSAL_REWARD_SPEC",
    "TOY_PROMPTS",
    "add_reproduce_parser",
    "bernoulli_policy_metrics",
    "corpus_one_parameter_training",
    "format_epoch_table",
    "format_method_table",
    "reach_probabilities",
    "refusal_reward",
    "reproduce_behavior_controlled",
    "toy_one_parameter_training",
]
