"""The environments, one per module."""

from safety_rlhf.envs.strategy_env import SafetyRLHFEnv
from safety_rlhf.envs.vector_env import SafetyRLHFVectorEnv
from safety_rlhf.task.strategies import Strategy

__all__ = ["SafetyRLHFEnv", "SafetyRLHFVectorEnv", "Strategy"]
