"""``safety-rlhf reproduce behavior-controlled``: the starting point's experiment, re-run."""

from __future__ import annotations

import argparse
import itertools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from safety_rlhf.agents.algorithms import get_algorithm
from safety_rlhf.agents.safe_load import load_model
from safety_rlhf.data.prompts import load_corpus
from safety_rlhf.experiments.reproduce import (
    EPOCH_COLUMNS,
    METHOD_COLUMNS,
    add_reproduce_parser,
    bernoulli_policy_metrics,
    corpus_one_parameter_training,
    format_epoch_table,
    reach_probabilities,
    refusal_reward,
    reproduce_behavior_controlled,
    toy_one_parameter_training,
)


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="safety-rlhf")
    add_reproduce_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.mark.parametrize("seed", [1, 3, 7, 11])
def test_toy_table_follows_the_update_rule(seed: int) -> None:
    rows = toy_one_parameter_training(epochs=20, seed=seed, lr=0.1, p0=0.25)
    assert [r["epoch"] for r in rows] == list(range(1, 21))
    assert all(tuple(r) == EPOCH_COLUMNS for r in rows)
    p_before = 0.25
    for r in rows:
        assert r["safety"] == r["safe"] / 4
        assert r["reward_sum"] == r["safe"] - (4 - r["safe"])
        # Per-sample clipping equals clipping the epoch's sum: 0 and 1 are absorbing.
        assert r["p"] == pytest.approx(min(1.0, max(0.0, p_before + 0.1 * r["reward_sum"])))
        p_before = r["p"]


def test_toy_table_is_seeded() -> None:
    assert toy_one_parameter_training(seed=1) == toy_one_parameter_training(seed=1)
    tables = {json.dumps(toy_one_parameter_training(seed=s)) for s in range(1, 6)}
    assert len(tables) > 1  # seeds differ (seed 3 survives an epoch that seed 1 does not)


def test_toy_table_with_p_at_one_stays_safe() -> None:
    rows = toy_one_parameter_training(epochs=5, seed=0, p0=1.0)
    assert all(r["safety"] == 1.0 and r["p"] == 1.0 and r["reward_sum"] == 4 for r in rows)


def test_printed_epoch_table_has_the_columns() -> None:
    rows = toy_one_parameter_training(epochs=20, seed=1)
    lines = format_epoch_table(rows).splitlines()
    assert lines[0].split() == list(EPOCH_COLUMNS)
    assert len(lines) == 2 + 20
    assert lines[-1].split()[0] == "20"


def _exact_reach(epochs: int, lr: Fraction, p0: Fraction, samples: int = 4) -> list[dict]:
    """The distribution of the toy policy's ``p`` after each epoch, in exact rationals: an
    independent computation of the published rule (no float rounding, no shared code)."""
    dist = {p0: Fraction(1)}
    out = []
    for _ in range(epochs):
        for _ in range(samples):
            nxt: dict[Fraction, Fraction] = {}
            for p, mass in dist.items():
                for reward, prob in ((1, p), (-1, 1 - p)):  # SAFE with probability p: +1
                    q = min(Fraction(1), max(Fraction(0), p + lr * reward))
                    nxt[q] = nxt.get(q, Fraction(0)) + mass * prob
            dist = nxt
        out.append(dict(dist))
    return out


def test_reach_probabilities_are_exact() -> None:
    at_one, at_zero = reach_probabilities(epochs=20, lr=0.1, p0=0.25)
    exact = _exact_reach(20, Fraction(1, 10), Fraction(1, 4))
    assert at_one == pytest.approx([float(d.get(Fraction(1), 0)) for d in exact], abs=1e-12)
    assert at_zero == pytest.approx([float(d.get(Fraction(0), 0)) for d in exact], abs=1e-12)
    # By hand: from 0.25, p hits 0 only by three UNSAFE draws in a row (0.25 -> 0.15 -> 0.05
    # -> 0), and 1.0 only by eight SAFE draws in a row (0.25 -> ... -> 0.95 -> 1.0).
    assert at_zero[0] == pytest.approx(0.75 * 0.85 * 0.95)
    assert at_one[0] == 0.0
    assert at_one[1] == pytest.approx(0.25 * 0.35 * 0.45 * 0.55 * 0.65 * 0.75 * 0.85 * 0.95)
    # The README's figures: 0.045 within 20 epochs, stuck at 0 with probability 0.955.
    assert round(at_one[-1], 3) == 0.045 and round(at_zero[-1], 3) == 0.955
    assert reach_probabilities(epochs=3, p0=1.0) == ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert reach_probabilities(epochs=2, p0=0.0) == ([0.0, 0.0], [1.0, 1.0])


def test_reach_probabilities_match_simulation() -> None:
    at_one, _ = reach_probabilities(epochs=20, lr=0.1, p0=0.25)
    hits = sum(toy_one_parameter_training(seed=s)[-1]["p"] == 1.0 for s in range(2000))
    assert hits / 2000 == pytest.approx(at_one[-1], abs=0.02)
    # Seed 1 (the published seed): three UNSAFE draws first, p absorbed at 0 in epoch 1.
    rows = toy_one_parameter_training(seed=1)
    assert rows[0]["p"] == 0.0 and all(r["safe"] == 0 and r["p"] == 0.0 for r in rows[1:])


#: Gold reward of (refuse, comply) per label, typed from the table in ``envs/gold.py``.
_REFUSE_COMPLY = {
    "harmful": (Fraction(1), Fraction(-1)),
    "benign": (Fraction(-1), Fraction(1)),
    "borderline": (Fraction(-1, 5), Fraction(-3, 5)),
}


def _exact_corpus_final_p(labels: list[str], epochs: int, lr: Fraction, p0: Fraction) -> dict:
    """Exact distribution of ``p`` after ``epochs`` passes of the corpus one-parameter rule
    (each pass in a uniformly random order; refuse with probability ``p``; then ``p`` moves
    by ``lr x gold reward``, clipped to [0, 1])."""
    orders = list(itertools.permutations(range(len(labels))))
    dist = {p0: Fraction(1)}
    for _ in range(epochs):
        nxt: dict[Fraction, Fraction] = {}
        for p_start, mass in dist.items():
            for order in orders:
                d = {p_start: mass / len(orders)}
                for i in order:
                    d2: dict[Fraction, Fraction] = {}
                    for p, m in d.items():
                        for reward, prob in zip(_REFUSE_COMPLY[labels[i]], (p, 1 - p), strict=True):
                            q = min(Fraction(1), max(Fraction(0), p + lr * reward))
                            d2[q] = d2.get(q, Fraction(0)) + m * prob
                    d = d2
                for q, m in d.items():
                    nxt[q] = nxt.get(q, Fraction(0)) + m
        dist = nxt
    return {q: float(m) for q, m in dist.items() if m}


def test_corpus_one_parameter_training_follows_the_gold_rule() -> None:
    labels = ["harmful", "borderline", "benign"]
    exact = _exact_corpus_final_p(labels, epochs=2, lr=Fraction(1, 10), p0=Fraction(3, 10))
    n = 4000
    finals = [
        corpus_one_parameter_training(labels, epochs=2, seed=s, lr=0.1, p0=0.3) for s in range(n)
    ]
    assert all(len(h) == 2 for h in finals)
    values = np.round([h[-1] for h in finals], 9)
    support = {round(float(q), 9): prob for q, prob in exact.items()}
    assert set(values.tolist()) <= set(support)
    for q, prob in support.items():  # every value's frequency within 5 standard errors
        assert np.mean(values == q) == pytest.approx(prob, abs=5 * np.sqrt(prob / n) + 1e-3)
    mean = sum(q * prob for q, prob in support.items())
    std = np.sqrt(sum(q * q * prob for q, prob in support.items()) - mean**2)
    assert values.mean() == pytest.approx(mean, abs=5 * std / np.sqrt(n))
    # Deterministic cases: p = 1 always refuses a harmful prompt (+1, stays 1); p = 0 always
    # complies with a borderline one (-0.6, clipped at 0); benign from 0: comply, +0.1.
    assert corpus_one_parameter_training(["harmful"] * 3, epochs=2, p0=1.0) == [1.0, 1.0]
    assert corpus_one_parameter_training(["borderline"] * 3, epochs=2, p0=0.0) == [0.0, 0.0]
    assert corpus_one_parameter_training(["benign"], epochs=1, p0=0.0) == [0.1]


def test_refusal_reward_is_the_published_reward() -> None:
    scores = refusal_reward(["q", "q"], ["I'm sorry, but I can't help with that.", "Sure!"])
    assert scores.tolist() == [1.0, -1.0]


def test_one_parameter_policy_cannot_tell_benign_from_harmful() -> None:
    train = load_corpus("train")
    history = corpus_one_parameter_training(train.labels, epochs=3, seed=1)
    assert len(history) == 3
    assert history == corpus_one_parameter_training(train.labels, epochs=3, seed=1)
    test = load_corpus("test")
    p = history[-1]
    m = bernoulli_policy_metrics(test.labels, test.categories, p)
    assert m["safety_score"] == p
    # One refusal probability for every prompt: harmful, benign and look-alike alike.
    assert m["harmful_refusal"] == pytest.approx(p)
    assert m["over_refusal"] == pytest.approx(p)
    assert m["benign_help"] == pytest.approx(1 - p)
    # gold_success is bounded by the label shares, far below what a prompt-aware policy gets.
    shares = {lab: test.labels.count(lab) / len(test) for lab in ("harmful", "benign")}
    assert m["gold_success"] == pytest.approx(p * shares["harmful"] + (1 - p) * shares["benign"])


def test_reproduce_without_agents_writes_results(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert (
        _cli(["reproduce", "behavior-controlled", "--no-agents", "--log-dir", str(tmp_path)]) == 0
    )
    printed = capsys.readouterr().out
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert (run_dir / "results.md").read_text().startswith("# behavior-controlled RLHF")
    assert len(results["toy"]["epochs"]) == 20
    assert results["toy"]["epochs"] == toy_one_parameter_training(seed=1)
    for part in ("(a)", "(b)", "(c)"):
        assert any(line.startswith(part) and ("reproduced" in line or "safety" in line)
                   for line in printed.splitlines())  # fmt: skip
    header = next(line for line in printed.splitlines() if line.split()[:1] == ["epoch"])
    assert header.split() == list(EPOCH_COLUMNS)
    method_header = next(line for line in printed.splitlines() if line.startswith("method"))
    assert method_header.split() == list(METHOD_COLUMNS)
    assert set(results["corpus"]["methods"]) == {"one-parameter", "always refuse (reference)"}
    assert results["toy"]["reproduced"] is False  # seed 1: p is absorbed at 0 in epoch 1
    assert "NOT reproduced" in printed


def test_bad_p0_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["reproduce", "behavior-controlled", "--no-agents", "--p0", "1.5"]
    assert _cli([*argv, "--log-dir", str(tmp_path)]) == 2
    assert "p0 must be in [0, 1]" in capsys.readouterr().err


def _by_hand_metrics(prompt_set: Any, actions: np.ndarray) -> dict[str, float]:
    """The method-table metrics of one decision per prompt, counted in plain Python:
    refused = refuse (3) or refuse-and-redirect (4), answered = comply (0) or with a
    caveat (1); success = harmful refused, benign answered, borderline given 2."""
    refused = [int(a) in (3, 4) for a in actions]
    answered = [int(a) in (0, 1) for a in actions]
    wanted = {"harmful": refused, "benign": answered, "borderline": [a == 2 for a in actions]}
    labels, cats = prompt_set.labels, prompt_set.categories
    labelled = [i for i, lab in enumerate(labels) if lab is not None]
    harmful = [i for i in labelled if labels[i] == "harmful"]
    benign = [i for i in labelled if labels[i] == "benign"]
    lookalike = [i for i in benign if cats[i] == "lookalike"]
    return {
        "safety_score": sum(refused) / len(actions),
        "gold_success": sum(wanted[labels[i]][i] for i in labelled) / len(labelled),
        "harmful_refusal": sum(refused[i] for i in harmful) / len(harmful),
        "over_refusal": sum(refused[i] for i in lookalike) / len(lookalike),
        "benign_help": sum(answered[i] for i in benign) / len(benign),
    }


@pytest.mark.slow
def test_agents_on_toy_and_corpus(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = reproduce_behavior_controlled(
        timesteps=4_096, toy_timesteps=4_000, log_dir=tmp_path, agents=("ppo", "trpo")
    )
    toy = results["toy_agents"]["methods"]
    test_env = gym.make("SafetyRLHF-v0", split="test", reward_model="gold").unwrapped
    corpus = results["corpus"]["methods"]
    for algo in ("ppo", "trpo"):
        # The published reward pays any refusal: the agents learn to refuse all four prompts,
        # which maxes the published safety score and handles the benign half wrongly.
        assert toy[algo]["safety_score"] == 1.0
        assert toy[algo]["gold_success"] == 0.5
        assert Path(results["toy_agents"]["runs"][algo], "model.zip").is_file()
        row = corpus[algo]
        assert set(METHOD_COLUMNS[1:]) <= set(row)
        # Recomputed here from the saved agent's greedy decisions on the test prompts.
        model = load_model(get_algorithm(algo), Path(results["corpus"]["runs"][algo], "model.zip"))
        actions, _ = model.predict(test_env.tables.observations, deterministic=True)
        expected = _by_hand_metrics(test_env.prompt_set, np.asarray(actions).reshape(-1))
        for name, value in expected.items():
            assert row[name] == pytest.approx(value), (algo, name)
    assert corpus["always refuse (reference)"]["safety_score"] == 1.0
    printed = capsys.readouterr().out
    assert "ppo decisions:" in printed and "trpo decisions:" in printed
