"""Reward models: one batched interface, a registry, and the built-in models.

``make_reward_model(spec)`` turns a name (``"learned"``, ``"rule"``,
``"gold"``, ``"constitution"``), ``"name:argument"`` (``"bradley-terry:PATH"``, ``"hf:PATH"``,
``"composite:learned=1.0,rule=0.5"``), ``"package.module:object"``, a callable or an
instance into a :class:`RewardModel`; ``make_cost_model(spec)`` does the same for cost
models (``"learned-cost"``, ``"gold"``, ``"classifier:PATH"``; higher = more harmful).
"""

from safety_rlhf.reward.base import CallableRewardModel, RewardModel, RewardModelError
from safety_rlhf.reward.bradley_terry import BradleyTerryRewardModel, LearnedRewardModel
from safety_rlhf.reward.composite import CompositeRewardModel
from safety_rlhf.reward.constitution import ConstitutionRewardModel
from safety_rlhf.reward.cost import (
    ClassifierCostModel,
    GoldCostModel,
    LearnedCostModel,
    list_cost_models,
    make_cost_model,
    register_cost_model,
)
from safety_rlhf.reward.gold_oracle import GoldRewardModel
from safety_rlhf.reward.hf import HFRewardModel
from safety_rlhf.reward.registry import (
    check_spec_from_file,
    list_reward_models,
    make_reward_model,
    register_reward_model,
)
from safety_rlhf.reward.rule import RuleRewardModel
from safety_rlhf.reward.text_reward_model import LearnedTextRewardModel

__all__ = [
    "BradleyTerryRewardModel",
    "CallableRewardModel",
    "ClassifierCostModel",
    "CompositeRewardModel",
    "ConstitutionRewardModel",
    "GoldCostModel",
    "GoldRewardModel",
    "HFRewardModel",
    "LearnedCostModel",
    "LearnedRewardModel",
    "LearnedTextRewardModel",
    "RewardModel",
    "RewardModelError",
    "RuleRewardModel",
    "check_spec_from_file",
    "list_cost_models",
    "list_reward_models",
    "make_cost_model",
    "make_reward_model",
    "register_cost_model",
    "register_reward_model",
]
