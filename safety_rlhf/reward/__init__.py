"""Reward models: one batched interface, a registry, and the built-in models.

``make_reward_model(spec)`` turns a name (``"learned"``, ``"rule"``, ``"gold"``,
``"constitution"``), ``"name:argument"`` (``"bradley-terry:PATH"``, ``"hf:PATH"``,
``"composite:learned=1.0,rule=0.5"``), ``"package.module:object"``, a callable or an
instance into a :class:`RewardModel`.
"""

from safety_rlhf.reward.base import (
    CallableRewardModel,
    RewardModel,
    RewardModelError,
    check_spec_from_file,
    list_reward_models,
    make_reward_model,
    register_reward_model,
)
from safety_rlhf.reward.bradley_terry import BradleyTerryRewardModel, LearnedRewardModel
from safety_rlhf.reward.composite import CompositeRewardModel
from safety_rlhf.reward.constitution import ConstitutionRewardModel
from safety_rlhf.reward.gold_oracle import GoldRewardModel
from safety_rlhf.reward.hf import HFRewardModel
from safety_rlhf.reward.rule import RuleRewardModel

__all__ = [
    "BradleyTerryRewardModel",
    "CallableRewardModel",
    "CompositeRewardModel",
    "ConstitutionRewardModel",
    "GoldRewardModel",
    "HFRewardModel",
    "LearnedRewardModel",
    "RewardModel",
    "RewardModelError",
    "RuleRewardModel",
    "check_spec_from_file",
    "list_reward_models",
    "make_reward_model",
    "register_reward_model",
]
