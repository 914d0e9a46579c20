"""safety-rlhf-gym: the prompt/response safety task of RLHF as Gymnasium environments.

Importing the package registers every environment id (import = registration), so both
``import safety_rlhf; gym.make("SafetyRLHF-v0")`` and
``gym.make("safety_rlhf:SafetyRLHF-v0")`` work.
"""

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

#: Prompts per episode of ``SafetyRLHF-v0``: one, as in RL4LMs and TRL (one prompt, one
#: response); the response terminates the episode, so the spec has no ``max_episode_steps``.
PROMPTS_PER_EPISODE = 1

# All registrations in one place, with string entry points (as gymnasium/envs/__init__.py).
# The guard keeps a re-import (e.g. importlib.reload) from re-registering.
if "SafetyRLHF-v0" not in registry:
    register(
        id="SafetyRLHF-v0",
        entry_point="safety_rlhf.envs.strategy_env:SafetyRLHFEnv",
        vector_entry_point="safety_rlhf.envs.vector_env:SafetyRLHFVectorEnv",
    )
if "SafetyRLHF-Text-v0" not in registry:
    # the response budget (max_tokens, 48 by default) is the time limit: TimeLimit truncates
    register(
        id="SafetyRLHF-Text-v0",
        entry_point="safety_rlhf.envs.text_env:SafetyRLHFTextEnv",
        vector_entry_point="safety_rlhf.envs.text_vector_env:SafetyRLHFTextVectorEnv",
        max_episode_steps=48,
    )

__all__ = ["PROMPTS_PER_EPISODE", "__version__"]
