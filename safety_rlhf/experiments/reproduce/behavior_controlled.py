"""``reproduce behavior-controlled``: parts (a)-(c) run in order, into one run folder."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from safety_rlhf.agents.prompt_evaluation import make_strategy_env, policy_decisions
from safety_rlhf.data.atomic_files import atomic_write_text, write_json
from safety_rlhf.data.prompts import load_corpus
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.reproduce.one_parameter import (
    PUBLISHED,
    REFUSAL_REWARD_SPEC,
    SAFE,
    TOY_PROMPTS,
    UNSAFE,
    bernoulli_policy_metrics,
    corpus_one_parameter_training,
    reach_probabilities,
    toy_one_parameter_training,
)
from safety_rlhf.experiments.reproduce.report import (
    corpus_summary,
    format_epoch_table,
    format_method_table,
    results_markdown,
    toy_agents_summary,
    toy_summary,
)
from safety_rlhf.experiments.run_files import make_run_dir
from safety_rlhf.task.metrics import decision_metrics, decision_shares
from safety_rlhf.task.strategies import Strategy

__all__ = ["reproduce_behavior_controlled"]


def _agent_row(model: Any, env: Any) -> dict[str, Any]:
    """Greedy decisions of ``model`` on every prompt of ``env``: metrics and safety score."""
    actions = policy_decisions(model, env)
    ps = env.prompt_set
    proxy = env.tables.proxy_reward[np.arange(len(actions)), actions]
    metrics = decision_metrics(ps.labels, ps.categories, actions, proxy_rewards=proxy)
    refused = decision_shares(actions)["refused"]
    return {
        "safety_score": float(refused.mean()),
        **metrics,
        "decisions": [Strategy(int(a)).slug for a in actions],
    }


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Limit torch's intra-op threads while training tiny networks (spinning threads cost
    more than they save here, most of all on a busy machine); restore afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train_agent(
    algo: str,
    run_dir: Path,
    seed: int,
    timesteps: int,
    reward_model: str,
    env_kwargs: dict[str, Any],
    progress_bar: bool,
) -> Any:
    cfg = train_module.TrainConfig(
        algo=algo,
        reward_model=reward_model,
        timesteps=timesteps,
        seed=seed,
        log_dir=str(run_dir / "agents"),
        progress_bar=progress_bar,
        env_kwargs=env_kwargs,
    )
    argv = ["train", "--algo", algo, "--reward-model", reward_model, "--timesteps", str(timesteps)]
    return train_module.train(cfg, argv=argv)


def _check_range(name: str, value: Any, low: float, high: float, whole: bool = False) -> None:
    """Refuse ``value`` unless it is a (whole, if ``whole``) number in ``[low, high]``."""
    ok = isinstance(value, int if whole else int | float) and not isinstance(value, bool)
    if not (ok and low <= value <= high):  # NaN fails the comparison
        span = f"{int(low):,} to {int(high):,}" if whole else f"{low:g} to {high:g}"
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{name} must be {kind} from {span}, got {value!r}")


def reproduce_behavior_controlled(
    epochs: int = 20,
    seed: int = 1,
    lr: float = 0.1,
    p0: float = 0.25,
    timesteps: int = 30_000,
    toy_timesteps: int = 4_000,
    log_dir: str | Path = "runs",
    agents: Sequence[str] = ("ppo", "trpo"),
    progress_bar: bool = False,
) -> dict[str, Any]:
    """Re-run the behavior-controlled RLHF experiment (parts (a)-(c) of the module
    docstring), print its tables and summary lines, and save them in a run folder.

    :param epochs: epochs of the one-parameter policy (toy and corpus).
    :param seed: seed of the one-parameter policy's generator and of the agents.
    :param lr: step of the one-parameter policy's update rule.
    :param p0: initial ``p`` (the published initial safety).
    :param timesteps: training steps of each agent on the full corpus (part (c)).
    :param toy_timesteps: training steps of each agent on the four prompts (part (b)).
    :param log_dir: folder that receives the run folder.
    :param agents: SB3 algorithms to compare (empty: only the one-parameter policy).
    :param progress_bar: show the agents' progress bars.
    :return: ``{"config", "published", "toy", "toy_agents", "corpus", "run_dir",
        "seconds"}``, as written to ``results.json``.
    """
    # everything checked before the run folder exists
    _check_range("epochs", epochs, 1, 1_000, whole=True)  # the exact chain: O(epochs^2)
    _check_range("seed", seed, 0, 2**32 - 1, whole=True)  # NumPy's seed range
    _check_range("lr", lr, 1e-6, 1.0)
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"p0 must be in [0, 1], got {p0}")
    if agents:
        _check_range("timesteps", timesteps, 1, 10**9, whole=True)
        _check_range("toy_timesteps", toy_timesteps, 1, 10**9, whole=True)
    start = time.perf_counter()
    run_dir = make_run_dir(log_dir, "behavior-controlled", "reproduce", seed)
    config = {
        "epochs": epochs,
        "seed": seed,
        "lr": lr,
        "p0": p0,
        "timesteps": timesteps,
        "toy_timesteps": toy_timesteps,
        "agents": list(agents),
    }
    print(f"behavior-controlled RLHF, reproduced; run folder: {run_dir}\n")

    # (a) -------------------------------------------------------------------------------
    rows = toy_one_parameter_training(epochs, seed, lr, p0, n_prompts=len(TOY_PROMPTS))
    at_one, at_zero = reach_probabilities(epochs, lr, p0, samples_per_epoch=len(TOY_PROMPTS))
    toy = {
        "epochs": rows,
        "p_at_1_by_epoch": at_one,
        "p_at_0_by_epoch": at_zero,
        **toy_summary(rows, at_one, at_zero, p0),
    }
    print(
        f"(a) one-parameter policy, four published prompts in order: p = P(SAFE), start "
        f"{p0:.2f}, p += {lr:g} x reward per sample, reward +1 SAFE / -1 UNSAFE, seed {seed}"
    )
    print("    safety = share of SAFE responses sampled in the epoch; p = after the epoch\n")
    print(format_epoch_table(rows))
    print(f"\n{toy['summary']}\n")

    # (b) -------------------------------------------------------------------------------
    prompt_file = run_dir / "behavior_controlled_prompts.jsonl"
    atomic_write_text(
        prompt_file,
        "".join(
            json.dumps({"id": f"bc{i + 1}", "prompt": p, "label": lab, "category": cat}) + "\n"
            for i, (p, lab, cat) in enumerate(TOY_PROMPTS)
        ),
    )
    toy_labels = [lab for _, lab, _ in TOY_PROMPTS]
    toy_categories = [cat for _, _, cat in TOY_PROMPTS]
    toy_methods: dict[str, dict[str, Any]] = {
        "one-parameter (a)": bernoulli_policy_metrics(toy_labels, toy_categories, toy["final_p"]),
    }
    toy_runs: dict[str, str] = {}
    if agents:
        toy_env_kwargs = {"prompts": str(prompt_file)}
        toy_env = make_strategy_env(
            "SafetyRLHF-v0", reward_model=REFUSAL_REWARD_SPEC, **toy_env_kwargs
        )
        with _torch_threads(1):
            for algo in agents:
                result = _train_agent(
                    algo, run_dir, seed, toy_timesteps, REFUSAL_REWARD_SPEC, toy_env_kwargs,
                    progress_bar,
                )  # fmt: skip
                toy_methods[algo] = _agent_row(result.model, toy_env)
                toy_runs[algo] = str(result.run_dir)
    trained = f"{', '.join(agents)} trained {toy_timesteps:,} steps" if agents else "no agents"
    print(
        f"(b) the same four prompts as an env: reward +1 for a refusal, -1 otherwise; "
        f"{trained}; safety score = refusal share of the greedy policy (one-parameter: "
        "expected, p)\n"
    )
    print(format_method_table(toy_methods))
    for algo in agents:
        pairs = ", ".join(
            f"{p!r}: {d}"
            for (p, _, _), d in zip(TOY_PROMPTS, toy_methods[algo]["decisions"], strict=True)
        )
        print(f"  {algo} decisions: {pairs}")
    toy_agents = {
        "prompt_file": str(prompt_file),
        "reward_model": REFUSAL_REWARD_SPEC,
        "methods": toy_methods,
        "runs": toy_runs,
        "summary": toy_agents_summary(toy_methods),
    }
    print(f"\n{toy_agents['summary']}\n")

    # (c) -------------------------------------------------------------------------------
    train_set = load_corpus("train")
    history = corpus_one_parameter_training(
        [lab for lab in train_set.labels if lab is not None], epochs, seed, lr, p0
    )
    test_env = make_strategy_env("SafetyRLHF-v0", split="test", reward_model="gold")
    ts = test_env.prompt_set
    corpus_methods: dict[str, dict[str, Any]] = {
        "one-parameter": bernoulli_policy_metrics(
            ts.labels,
            ts.categories,
            history[-1],
            proxy_refuse=test_env.tables.proxy_reward[:, int(SAFE)],
            proxy_comply=test_env.tables.proxy_reward[:, int(UNSAFE)],
        ),
        "always refuse (reference)": bernoulli_policy_metrics(
            ts.labels,
            ts.categories,
            1.0,
            proxy_refuse=test_env.tables.proxy_reward[:, int(SAFE)],
            proxy_comply=test_env.tables.proxy_reward[:, int(UNSAFE)],
        ),
    }
    corpus_runs: dict[str, str] = {}
    if agents:
        with _torch_threads(1):
            for algo in agents:
                result = _train_agent(algo, run_dir, seed, timesteps, "gold", {}, progress_bar)
                row = _agent_row(result.model, test_env)
                row.pop("decisions")
                corpus_methods[algo] = row
                corpus_runs[algo] = str(result.run_dir)
    print(
        f"(c) full corpus, gold reward; one-parameter policy p = P(refuse), {epochs} shuffled "
        f"passes over the train split ({len(train_set):,} prompts), final p = {history[-1]:.2f}"
        f"; {', '.join(agents) or 'no agents'} trained {timesteps:,} steps; all evaluated on "
        f"the test split ({len(ts):,} prompts)\n"
    )
    print(format_method_table(corpus_methods))
    corpus = {
        "one_parameter_p_by_epoch": history,
        "methods": corpus_methods,
        "runs": corpus_runs,
        "summary": corpus_summary(corpus_methods),
    }
    print(f"\n{corpus['summary']}")

    results = {
        "config": config,
        "published": PUBLISHED,
        "toy": toy,
        "toy_agents": toy_agents,
        "corpus": corpus,
        "run_dir": str(run_dir),
        "seconds": time.perf_counter() - start,
    }
    write_json(run_dir / "results.json", results)
    atomic_write_text(run_dir / "results.md", results_markdown(results))
    print(f"\nwrote {run_dir / 'results.json'} and results.md ({results['seconds']:.0f} s)")
    return results
