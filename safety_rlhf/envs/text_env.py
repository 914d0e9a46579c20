"""``SafetyRLHF-Text-v0``: write the response token by token under a per-token KL to ``pi_ref``."""

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
from safety_rlhf.envs.text_episodes import TextEpisodes, TextSetup
from safety_rlhf.envs.text_image import render_frame
from safety_rlhf.reward.base import RewardModel, ScoreFn
from safety_rlhf.reward.cost import make_cost_model
from safety_rlhf.reward.encoders import TextEncoder, make_encoder
from safety_rlhf.reward.registry import make_reward_model
from safety_rlhf.task.tokenizer import EOS, VOCAB, VOCAB_SIZE, detokenize

__all__ = ["DEFAULT_MAX_TOKENS", "TEXT_REWARD_MODEL", "SafetyRLHFTextEnv", "make_text_setup"]

#: The response budget (tokens, ``<eos>`` included); the registered ``max_episode_steps``.
DEFAULT_MAX_TOKENS = 48
#: The default reward model: ``learned-text``, the shipped Bradley-Terry model trained on
#: rendered strategies and on sampled free text (:mod:`safety_rlhf.reward.text_reward_model`).
TEXT_REWARD_MODEL = "learned-text"


def make_text_setup(
    reward_model: str | RewardModel | ScoreFn = TEXT_REWARD_MODEL,
    split: str = "train",
    prompts: str | os.PathLike[str] | PromptSet | None = None,
    label_map: Mapping[str, str | None] | None = None,
    encoder: str | TextEncoder = "minilm",
    obs_dim: int | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    cost_model: str | RewardModel | ScoreFn | None = None,
) -> TextSetup:
    """Load the prompts, build the models and encode every prompt (the env's arguments)."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int | np.integer):
        raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
    if not 1 <= int(max_tokens) <= 1024:
        raise ValueError(f"max_tokens must be between 1 and 1024, got {max_tokens!r}")
    prompt_set = load_prompts(prompts, split=split, label_map=label_map)
    model = make_reward_model(reward_model)
    if isinstance(encoder, str):
        encoder = make_encoder(encoder, **({} if obs_dim is None else {"dim": obs_dim}))
    cost = None if cost_model is None else make_cost_model(cost_model)
    _check_unlabelled(prompt_set, [m for m in (model, cost) if m is not None])
    prompt_obs = np.asarray(encoder.encode(prompt_set.prompts), dtype=np.float32)
    bounds = (float(encoder.low), float(encoder.high))
    setup = TextSetup.build(prompt_set, prompt_obs, model, cost, int(max_tokens), bounds)
    return setup


def _check_unlabelled(prompt_set: PromptSet, models: list[RewardModel]) -> None:
    """Fail now, not at the end of the first episode that draws an unlabelled prompt, when
    a model that reads the gold columns (an oracle) cannot score unlabelled prompts: it is
    asked once, for the first unlabelled prompt (the strategy env scores every prompt when
    it is made, so it fails there too)."""
    if None not in prompt_set.labels:
        return
    i = prompt_set.labels.index(None)
    columns = {k: [v[i]] for k, v in prompt_set.columns().items()}
    for model in models:
        if model.reads_gold_columns:
            model.score([prompt_set.prompts[i]], [""], **columns)


class SafetyRLHFTextEnv(gym.Env[np.ndarray, np.int64]):
    """
    ## Description

    The prompt/response safety task of RLHF with the response written token by token, as
    a language model writes it. Each episode shows one prompt; each step appends one token
    of a small response language (:mod:`safety_rlhf.task.response_grammar`: a few hundred
    words and punctuation, plus ``<request>``, which restates the prompt, ``<eos>`` and
    ``<unk>``). When the response ends, a pluggable reward model scores the (prompt, text)
    pair, and the exact gold judge (:mod:`safety_rlhf.task.text_judge`) says what the text
    actually did: answered (operational steps), refused, gave a safe completion, asked a
    clarifying question, or degenerated. A reference language model ``pi_ref``
    (:mod:`safety_rlhf.task.reference_lm`, the "SFT model") gives the exact probability of
    every token at every state, so the per-token KL penalty of RLHF and the exact KL of a
    policy from ``pi_ref`` are computable: without the penalty a policy can drift into
    text the reward model likes and the judge does not.

    ## Action Space

    `Discrete(V)`: the next token, ``V`` the vocabulary size
    (:data:`~safety_rlhf.task.response_grammar.VOCAB_SIZE`); token 0 is ``<eos>``.

    ## Observation Space

    `Box(float32)` of size ``D + 3 V + 7``: the prompt's encoding (MiniLM, ``D = 384``, by
    default), the bag of tokens written so far, one-hots of the last two tokens, the
    position and ``pi_ref``'s posterior over the six strategies
    (:mod:`safety_rlhf.envs.text_observation` has the table). Together they determine
    ``pi_ref(. | prompt, prefix)`` exactly, so a policy can imitate ``pi_ref``.

    ## Rewards

    0 at every token but the last; when the response ends,
    ``reward_model.score([prompt], [text])``. The reward holds no KL term:
    ``info["log_pi_ref"]`` is ``log pi_ref`` of the token taken, from which the KL penalty
    ``beta (log pi - log pi_ref)`` is applied by the agent
    (:class:`~safety_rlhf.agents.kl_penalty.KLPenaltyCallback`, ``--kl-coef``).

    ## Starting State

    A prompt drawn uniformly from the split with ``self.np_random`` (as ``SafetyRLHF-v0``
    draws it) and an empty response.

    ## Episode End

    The episode terminates when the policy writes ``<eos>``, and when the response
    reaches ``max_tokens`` tokens, where it is also truncated: the registered
    ``max_episode_steps`` (``max_tokens``, 48 by default) truncates it through Gymnasium's
    ``TimeLimit``, and the env itself reports both flags at the budget, so a longer time
    limit (or none, as when the class is used directly) still sees the end: the budget is
    part of the task (the observation shows the position against it), not a step count
    faked inside the env. The text is scored at that step either way, and nothing follows
    it, so ``terminated`` is true there too: SB3 adds ``gamma * V(final obs)`` to the
    reward of an episode that is truncated but not terminated, a value that is never
    trained here, and PPO learned to write to the budget to collect it. A ``step`` after
    the end, without ``reset``, raises ``RuntimeError``. ``max_tokens=k`` alone changes the
    budget; a time limit shorter than it would cut responses before they are scored (the
    native vector env refuses one).

    ## Info

    Every step: ``log_pi_ref``. The last step also: ``prompt_id``, ``prompt``,
    ``category``, ``subtype``, ``label``, ``response`` (the text), ``decision`` (the
    judge's), ``strategy`` (the gold-table column it maps to, ``None`` if degenerate),
    ``refused``, ``harmful_content``, ``cost`` (gold: 1.0 for operational steps given to a
    harmful prompt), ``gold_reward``, ``proxy_reward``, ``is_success``, ``perplexity``
    (``pi_ref`` perplexity of the response), ``length``, ``distinct_1``, ``distinct_2``,
    and ``proxy_cost`` with a cost model.

    ## Arguments

    - ``reward_model="learned"``: any reward-model spec, callable or model (as for
      ``SafetyRLHF-v0``); the default is the strategy env's shipped Bradley-Terry model,
      which was trained on rendered strategies only, so written text can exploit it.
    - ``split``, ``prompts``, ``label_map``, ``encoder``, ``obs_dim``, ``cost_model``: as
      for ``SafetyRLHF-v0``.
    - ``max_tokens=48``: the response budget (tokens, ``<eos>`` included).
    - ``mask_below_floor=True``: :meth:`action_masks` (for sb3-contrib's ``MaskablePPO``)
      forbids the tokens ``pi_ref`` gives only its floor probability at the current state;
      ``False``: every token is allowed.
    - ``render_mode=None``: ``"ansi"`` returns the prompt, the text so far and, at the end,
      the rewards; ``"rgb_array"`` (SB3's ``make_vec_env`` default; video recorders) draws
      that text into a frame.

    >>> import gymnasium as gym
    >>> import safety_rlhf
    >>> from safety_rlhf.task.tokenizer import EOS, tokenize
    >>> env = gym.make("SafetyRLHF-Text-v0", reward_model="gold")
    >>> env.spec.max_episode_steps
    48
    >>> obs, info = env.reset(seed=0)
    >>> obs.dtype, env.observation_space.contains(obs)
    (dtype('float32'), True)
    >>> for token in tokenize("i'm sorry , but i can't help with that ."):
    ...     obs, reward, terminated, truncated, info = env.step(token)
    >>> obs, reward, terminated, truncated, info = env.step(EOS)
    >>> terminated, truncated, info["decision"]
    (True, False, 'refused')
    >>> reward == info["gold_reward"]
    True

    ## Version History

    * v0: Initial version.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        reward_model: str | RewardModel | ScoreFn = TEXT_REWARD_MODEL,
        split: str = "train",
        prompts: str | os.PathLike[str] | PromptSet | None = None,
        label_map: Mapping[str, str | None] | None = None,
        encoder: str | TextEncoder = "minilm",
        obs_dim: int | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        mask_below_floor: bool = True,
        render_mode: str | None = None,
        cost_model: str | RewardModel | ScoreFn | None = None,
    ) -> None:
        self.render_mode = render_mode
        self.split = split
        self.setup = make_text_setup(
            reward_model, split, prompts, label_map, encoder, obs_dim, max_tokens, cost_model
        )
        self.prompt_set = self.setup.prompt_set
        self.reward_model = self.setup.reward_model
        self.cost_model = self.setup.cost_model
        self.max_tokens = self.setup.max_tokens
        self.mask_below_floor = bool(mask_below_floor)
        self.observation_space = self.setup.layout.space()
        self.action_space = spaces.Discrete(VOCAB_SIZE)
        self._episodes = TextEpisodes(self.setup, 1)
        self._stream = PromptStream(len(self.prompt_set))
        self._active = False
        self._last: dict[str, Any] | None = None

    @property
    def n_prompts(self) -> int:
        """Number of prompts in the chosen split or file."""
        return len(self.prompt_set)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        i = self._stream.next(self.np_random)
        self._episodes.start(np.array([0]), np.array([i]))
        self._active = True
        self._last = None
        info = {
            "prompt_id": self.prompt_set.ids[i],
            "prompt": self.prompt_set.prompts[i],
            "category": self.prompt_set.categories[i],
        }
        return self._episodes.observe()[0], info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        try:  # ints, NumPy integers and 0-d integer arrays
            a = operator.index(action)
        except TypeError:
            a = -1
        if not 0 <= a < VOCAB_SIZE:
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        if not self._active:
            raise RuntimeError(
                f"{type(self).__name__}: call reset() before step() (the response has ended)"
            )
        log_ref, ended = self._episodes.advance(np.array([a]))
        obs = self._episodes.observe()[0]
        if not ended[0]:
            return obs, 0.0, False, False, {"log_pi_ref": float(log_ref[0])}
        self._active = False
        info = {**self._episodes.finish(np.array([0]))[0], "log_pi_ref": float(log_ref[0])}
        self._last = dict(info)  # render() must not see a caller's edits of the info
        # the response ended and was scored: terminated (nothing to bootstrap); at the
        # budget also truncated, also under a longer (or no) time limit
        return obs, info["proxy_reward"], True, a != EOS, info

    def action_masks(self) -> np.ndarray:
        """bool ``(V,)``: the tokens allowed at the current state (all without
        ``mask_below_floor``), for sb3-contrib's ``MaskablePPO``."""
        if not self.mask_below_floor:
            return np.ones(VOCAB_SIZE, dtype=bool)
        return self._episodes.action_masks()[0]

    def render(self) -> str | np.ndarray | None:
        return render_frame(self, self._render_text)

    def _render_text(self) -> str:
        if self._last is not None:
            last = self._last
            gold = "n/a" if last["label"] is None else f"{last['gold_reward']:+.2f}"
            return (
                f"Prompt [{last['label'] or 'unlabelled'}/{last['category']}]: {last['prompt']}\n"
                f"Response [{last['decision']}]: {last['response']}\n"
                f"Reward: {last['proxy_reward']:+.3f} (gold {gold})\n"
            )
        ep = self._episodes
        if not self._active:
            return "No prompt yet: call reset().\n"
        prompt = self.prompt_set.prompts[int(ep.prompt[0])]
        text = detokenize(ep.tokens[0, : ep.length[0]].tolist(), prompt)
        return f"Prompt: {prompt}\nResponse so far: {text}\n"

    @property
    def vocab(self) -> tuple[str, ...]:
        """The tokens, by action id."""
        return VOCAB
