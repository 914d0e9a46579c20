"""The environments, one per module."""

from safety_rlhf.envs.responses import Strategy
from safety_rlhf.envs.strategy_env import SafetyRLHFEnv
from safety_rlhf.envs.vector_env import SafetyRLHFVectorEnv

__all__ = ["SafetyRLHFEnv", "SafetyRLHFVectorEnv", "Strategy"]
