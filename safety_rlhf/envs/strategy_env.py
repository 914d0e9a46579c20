"""``SafetyRLHF-v0``: answer each prompt with one of six response strategies."""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from safety_rlhf.data.prompts import PromptSet, load_prompts
from safety_rlhf.envs.prompt_stream import PromptStream
from safety_rlhf.envs.prompt_tables import PromptTables, build_prompt_tables
from safety_rlhf.envs.text_image import render_frame
from safety_rlhf.reward.base import RewardModel, ScoreFn
from safety_rlhf.reward.cost import make_cost_model
from safety_rlhf.reward.encoders import TextEncoder, make_encoder
from safety_rlhf.reward.registry import make_reward_model
from safety_rlhf.task.strategies import IS_REFUSAL, SLUGS, Strategy

__all__ = ["SafetyRLHFEnv"]

# Per-action constants, so step does table look-ups only.
_N_ACTIONS = len(Strategy)


class SafetyRLHFEnv(gym.Env[np.ndarray, np.int64]):
    """
    ## Description

    The prompt/response safety task of RLHF as a contextual bandit. Each step shows the
    agent a prompt; the agent picks how to answer it (one of six response strategies); the
    strategy is rendered into a concrete response for that prompt, and a pluggable reward
    model scores the (prompt, response) text. Harmful prompts should be refused, benign
    ones answered, including benign prompts that only *look* dangerous ("How do I kill a
    Python process?"), and borderline ones (medication limits, lock mechanics) met with a
    safe completion. Every shipped prompt carries a gold label, so each step reports what
    the reward model paid (``proxy_reward``) next to what was actually right
    (``gold_reward``, ``is_success``): reward hacking and over-refusal are visible.

    ## Action Space

    `Discrete(6)`, the response strategy:

    | Num | Strategy                | Counts as |
    |-----|-------------------------|-----------|
    | 0   | comply                  | answered  |
    | 1   | comply with a caveat    | answered  |
    | 2   | safe completion         | general, non-operational information |
    | 3   | refuse                  | refused   |
    | 4   | refuse and redirect     | refused (points to help) |
    | 5   | ask a clarifying question | neither |

    ## Observation Space

    `Box(-1.0, 1.0, (384,), float32)` by default: the current prompt's all-MiniLM-L6-v2
    sentence embedding (L2-normalised, 8 bits per coordinate), the same vector on every
    machine for the shipped corpus (the embeddings ship with the package).

    | encoder   | Index          | Observation                               | Min | Max |
    |-----------|----------------|-------------------------------------------|-----|-----|
    | `minilm`  | 0 .. 383       | MiniLM sentence embedding of the prompt   | -1  | 1   |
    | `hashing` | 0 .. obs_dim-1 | hashed word and word-bigram counts, L2    | 0   | 1   |

    The ``hashing`` encoder is deterministic across processes and machines (MurmurHash3
    through scikit-learn, never Python's salted ``hash()``).

    ## Rewards

    ``reward = reward_model.score([prompt], [response])``.

    The reward model sees only text (label-free models never see gold columns). Scores of
    all (prompt, strategy) pairs are computed once, in batch, when the environment is made.

    The reward holds no KL term (the env has no ``kl_coef`` argument): the penalty
    ``beta (log pi(a|s) - log pi_ref(a|s))`` needs the log-probability the agent sampled
    with, which only the agent knows. ``info["log_pi_ref"]`` gives ``log pi_ref(a | prompt)``
    of the action taken, with ``pi_ref`` the reference ("SFT") policy of
    :mod:`safety_rlhf.task.reference_policy` (a softmax over a keyword filter's scores,
    sensible but over-cautious), so any algorithm can apply it, as RLHF implementations do;
    :class:`~safety_rlhf.agents.kl_penalty.KLPenaltyCallback` does it for SB3's on-policy
    algorithms (``safety-rlhf train --kl-coef``).

    The gold reward (label x strategy, :data:`safety_rlhf.task.gold_tables.GOLD_REWARD`) is never
    paid to the agent unless the reward model is ``"gold"``; it is reported in ``info``.

    ## Starting State

    A prompt drawn uniformly at random from the chosen split with ``self.np_random``
    (see :class:`~safety_rlhf.envs.prompt_stream.PromptStream`: indices are drawn
    :data:`~safety_rlhf.envs.prompt_stream.BLOCK` at a time, which lets the native vector
    env reproduce N seeded single envs exactly with array operations).

    ## Episode End

    One prompt per episode, as in RL4LMs and TRL (one prompt, one response): the response
    ends the exchange, so every ``step`` returns ``terminated=True``. There is no truncation
    (the spec has no ``max_episode_steps``). The observation returned with the termination is
    the encoding of the prompt just answered (there is no next state; no algorithm bootstraps
    from a terminal observation). ``reset`` draws the next prompt; a ``step`` without it
    raises ``RuntimeError``. Stable-Baselines3 (and so rl-zoo3) therefore reports, over the
    last 100 episodes, ``rollout/ep_rew_mean`` as the mean reward per prompt and
    ``rollout/success_rate`` as the share of gold-correct decisions (``is_success``).

    ## Info

    After each step, about the prompt just answered: ``prompt_id``, ``prompt``,
    ``category``, ``subtype``, ``label`` (gold; ``None`` if unlabelled), ``strategy``,
    ``response``, ``refused``, ``cost`` (1.0 when the response helps with a harmful
    prompt), ``gold_reward``, ``proxy_reward``, ``log_pi_ref`` and ``is_success`` (the
    gold-correct decision; SB3 logs it as ``rollout/success_rate``); with a reward model
    built from parts, ``reward_components`` (each part's score); with a ``cost_model``,
    ``proxy_cost`` (its score, higher = more harmful) next to the gold ``cost``. For
    unlabelled prompts
    ``cost`` and ``gold_reward`` are NaN and ``is_success`` is ``None``: unavailable, never
    zero. ``reset`` returns the first prompt's ``prompt_id``, ``prompt`` and ``category``.

    ## Arguments

    - ``reward_model="learned"``: a reward-model spec (a registered name: ``"learned"``,
      the shipped Bradley-Terry model trained on simulated preferences, ``"rule"``,
      ``"gold"``, ``"constitution"``; ``"name:argument"`` such as ``"bradley-terry:PATH"``,
      ``"hf:PATH"`` or ``"composite:learned=1.0,rule=0.5"``; ``"package.module:object"``),
      a callable ``f(prompts, responses, **columns)`` or a
      :class:`~safety_rlhf.reward.RewardModel`.
    - ``split="train"``: ``"train"``, ``"test"`` or ``"jailbreak"`` (the test prompts
      wrapped in jailbreak framings).
    - ``prompts=None``: a ``.jsonl`` / ``.csv`` prompt file or a
      :class:`~safety_rlhf.data.PromptSet` instead of the shipped corpus.
    - ``label_map=None``: maps a prompt file's label values to ``harmful`` / ``benign`` /
      ``borderline``, e.g. ``{"unsafe": "harmful", "safe": "benign"}``.
    - ``encoder="minilm"``: text encoder name or
      :class:`~safety_rlhf.reward.encoders.TextEncoder`: ``"minilm"``, the prompt's
      all-MiniLM-L6-v2 sentence embedding (384 floats; the shipped corpus's embeddings ship
      with the package), or ``"hashing"``, hashed words and word bigrams (no model; it
      generalises worse to unseen topics, see the README).
    - ``obs_dim=None``: observation size; ``None`` takes the encoder's own (384 for
      ``minilm``, 1024 hash buckets for ``hashing``).
    - ``render_mode=None``: ``"ansi"`` returns prompt, response and reward as text,
      ``"rgb_array"`` the same text drawn into a ``(180, 640, 3)`` ``uint8`` frame (SB3's
      default mode; video recorders); other modes are refused when ``render`` is called.
    - ``cost_model=None``: a cost-model spec (``"learned-cost"``, the shipped classifier
      trained on simulated safety annotations; ``"gold"``, the oracle;
      ``"classifier:PATH"``; see :func:`~safety_rlhf.reward.cost.make_cost_model`), a
      callable or a model; ``None``: no ``proxy_cost`` in ``info``. The Lagrangian wrappers
      of :mod:`safety_rlhf.agents.lagrangian` penalise ``proxy_cost``.

    >>> import gymnasium as gym
    >>> import safety_rlhf
    >>> env = gym.make("SafetyRLHF-v0", reward_model="gold")
    >>> type(env.unwrapped).__name__
    'SafetyRLHFEnv'
    >>> print(env.spec.max_episode_steps)  # no time limit: the response ends the episode
    None
    >>> obs, info = env.reset(seed=42)
    >>> obs.shape, obs.dtype
    ((384,), dtype('float32'))
    >>> obs, reward, terminated, truncated, info = env.step(3)  # refuse
    >>> terminated, truncated  # one prompt per episode
    (True, False)
    >>> sorted(info)[:6]
    ['category', 'cost', 'gold_reward', 'is_success', 'label', 'log_pi_ref']
    >>> info["refused"], reward == info["gold_reward"]
    (True, True)
    >>> bool(info["log_pi_ref"] < 0)  # log pi_ref(refuse | prompt), for a KL penalty
    True
    >>> obs, info = env.reset()  # the next prompt

    ## Version History

    * v0: Initial version.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        reward_model: str | RewardModel | ScoreFn = "learned",
        split: str = "train",
        prompts: str | os.PathLike[str] | PromptSet | None = None,
        label_map: Mapping[str, str | None] | None = None,
        encoder: str | TextEncoder = "minilm",
        obs_dim: int | None = None,
        render_mode: str | None = None,
        cost_model: str | RewardModel | ScoreFn | None = None,
    ) -> None:
        self.render_mode = render_mode
        self.split = split
        self.prompt_set = load_prompts(prompts, split=split, label_map=label_map)
        self.reward_model = make_reward_model(reward_model)
        if isinstance(encoder, str):
            self.encoder = make_encoder(encoder, **({} if obs_dim is None else {"dim": obs_dim}))
        else:
            self.encoder = encoder
        self.cost_model = None if cost_model is None else make_cost_model(cost_model)
        self.tables: PromptTables = build_prompt_tables(
            self.prompt_set, self.reward_model, self.encoder, self.cost_model
        )
        self._reward = self.tables.proxy_reward

        self.observation_space = spaces.Box(
            low=self.encoder.low,
            high=self.encoder.high,
            shape=(self.encoder.dim,),
            dtype=np.float32,
        )
        self.action_space = spaces.Discrete(len(Strategy))
        self._index = -1  # no prompt before the first reset
        self._last: dict[str, Any] | None = None
        self._stream = PromptStream(self.n_prompts)

    @property
    def reward_table(self) -> np.ndarray:
        """float32 ``(n_prompts, 6)``: the reward ``step`` pays for each (prompt, action)."""
        return self._reward

    @property
    def n_prompts(self) -> int:
        """Number of prompts in the chosen split or file."""
        return len(self.prompt_set)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._index = self._stream.next(self.np_random)
        self._last = None
        i = self._index
        info = {
            "prompt_id": self.prompt_set.ids[i],
            "prompt": self.prompt_set.prompts[i],
            "category": self.prompt_set.categories[i],
        }
        return self.tables.observations[i].copy(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        try:  # ints, NumPy integers and 0-d integer arrays; cheaper than Discrete.contains
            a = operator.index(action)
        except TypeError:
            a = -1
        if not 0 <= a < _N_ACTIONS:
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        if self._index < 0:
            raise RuntimeError(
                f"{type(self).__name__}: call reset() before step() (each episode is one prompt)"
            )
        i = self._index
        t = self.tables
        label = self.prompt_set.labels[i]
        prompt = self.prompt_set.prompts[i]
        info: dict[str, Any] = {
            "prompt_id": self.prompt_set.ids[i],
            "prompt": prompt,
            "category": self.prompt_set.categories[i],
            "subtype": self.prompt_set.subtypes[i],
            "label": label,
            "strategy": SLUGS[a],
            "response": t.responses[i][a],
            "refused": IS_REFUSAL[a],
            "cost": float(t.cost[i, a]),
            "gold_reward": float(t.gold_reward[i, a]),
            "proxy_reward": float(t.proxy_reward[i, a]),
            "log_pi_ref": float(t.log_ref[i, a]),
            "is_success": None if label is None else bool(t.success[i, a]),
        }
        if t.components:
            info["reward_components"] = {k: float(v[i, a]) for k, v in t.components.items()}
        if t.proxy_cost is not None:
            info["proxy_cost"] = float(t.proxy_cost[i, a])
        reward = float(self._reward[i, a])
        self._last = {**info, "reward": reward}
        self._index = -1  # the response ends the episode: reset draws the next prompt
        return self.tables.observations[i].copy(), reward, True, False, info

    def action_masks(self) -> np.ndarray:
        """All six strategies are always allowed (sb3-contrib's ``MaskablePPO`` asks)."""
        return np.ones(_N_ACTIONS, dtype=bool)

    def render(self) -> str | np.ndarray | None:
        return render_frame(self, self._render_text)

    def _render_text(self) -> str:
        if self._last is not None:
            last = self._last
            gold = "n/a" if last["label"] is None else f"{last['gold_reward']:+.2f}"
            return (
                f"Prompt [{last['label'] or 'unlabelled'}/{last['category']}]: {last['prompt']}\n"
                f"Response [{last['strategy']}]: {last['response']}\n"
                f"Reward: {last['reward']:+.3f} (proxy {last['proxy_reward']:+.3f}, gold {gold})\n"
            )
        if self._index < 0:
            return "No prompt yet: call reset().\n"
        return f"Prompt: {self.prompt_set.prompts[self._index]}\n"
