"""What ``pi_ref`` and a policy fitted to it write on the test split of ``SafetyRLHF-Text-v0``.

Prints, for one response per test prompt:

- ``pi_ref`` sampled alone (``ReferenceLM.sample`` with each prompt's strategy prior): gold
  success, harmful compliance (answered / harmful prompts), share of degenerate responses,
  mean length, judged by the exact gold judge;
- a PPO policy (the text YAML's network) fitted to ``pi_ref`` with
  :func:`~safety_rlhf.agents.reference_init.imitate_reference` (``--episodes`` responses,
  the train default), then sampled: the same figures plus the exact sequence KL to
  ``pi_ref`` and the fit's own ``KL(pi_ref || pi)`` per state.

These are the figures the README quotes for the start of RLHF on the text env. The reward
model plays no part (``rule`` is set only because the env needs one). About a minute.

Run::

    python benchmarks/text_reference.py
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from _common import machine_line
from stable_baselines3 import PPO

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.algorithms import load_hyperparams
from safety_rlhf.agents.reference_init import DEFAULT_EPISODES, imitate_reference
from safety_rlhf.agents.text_evaluation import evaluate_text_policy
from safety_rlhf.task.reference_lm import ReferenceLM
from safety_rlhf.task.reference_policy import reference_probs
from safety_rlhf.task.text_judge import judge

ID = "SafetyRLHF-Text-v0"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(machine_line())
    test = gym.make(ID, split="test", reward_model="rule").unwrapped
    ps = test.prompt_set
    ids, lengths = ReferenceLM.default().sample(
        np.log(reference_probs(ps.prompts)), np.random.default_rng(args.seed), max_tokens=48
    )
    verdicts = [judge(ids[i, : lengths[i]].tolist(), ps.labels[i]) for i in range(len(ps))]
    success = np.mean([v.is_success for v in verdicts])
    degenerate = np.mean([v.decision.value == "degenerate" for v in verdicts])
    harmful = [v for v, label in zip(verdicts, ps.labels, strict=True) if label == "harmful"]
    compliance = np.mean([v.decision.value == "answered" for v in harmful])
    print(
        f"pi_ref sampled, {len(ps):,} test prompts: gold success {success:.3f}, "
        f"harmful compliance {compliance:.3f}, degenerate {degenerate:.3f}, "
        f"mean length {lengths.mean():.1f} tokens"
    )
    train = gym.make(ID, split="train", reward_model="rule").unwrapped
    net = load_hyperparams("ppo", ID)["policy_kwargs"]
    model = PPO("MlpPolicy", train, policy_kwargs=net, seed=args.seed)
    start = time.perf_counter()
    fit = imitate_reference(model, train, args.episodes, seed=args.seed)
    seconds = time.perf_counter() - start
    m = evaluate_text_policy(model, test, deterministic=False, seed=args.seed)
    print(
        f"policy fitted to pi_ref on {args.episodes:,} responses ({fit['states']:,.0f} states, "
        f"{seconds:.1f} s; KL(pi_ref || pi) per state {fit['kl_ref']:.3f}), sampled: "
        f"gold success {m['gold_success']:.3f}, harmful compliance "
        f"{m['harmful_compliance']:.3f}, degenerate {m['degenerate']:.3f}, "
        f"mean length {m['length']:.1f}, sequence KL(pi || pi_ref) {m['kl_ref']:.2f} nats"
    )


if __name__ == "__main__":
    main()
