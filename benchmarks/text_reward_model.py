"""Scoring speed of a text reward model (default ``learned-text``) on text it has never scored.

The text env calls ``reward_model.score(prompts, texts)`` once per step for the episodes
that ended in it: a few texts per call with a few envs, hundreds with a 256-env vector env.
This script times ``model.score`` on batches of ``--batch-sizes`` pairs (default 8 and 256)
of two kinds, every pair new to the model's in-process score cache:

- ``sampled text``: responses sampled from the text env's ``pi_ref`` (half with its own
  strategy prior, half with a uniform one, as the text preference pairs are) for the test
  split's prompts, rendered with ``detokenize``; duplicate (prompt, text) pairs are dropped
  before timing, so no call is served by the cache;
- ``strategy responses``: the six rendered strategies of the test prompts (each
  (prompt, response) pair once).

The prompts are the shipped corpus's, whose MiniLM embeddings the package ships (as in the
env); the model is built and warmed up (3 untimed calls) before timing; sampling and
rendering are not timed. Each call is timed alone with ``time.perf_counter``; a cell runs
``--calls`` calls (fewer if the pairs run out). Reported: pairs per second at the median
call (batch size / median seconds per call, robust to other load on a shared machine), over
all calls of the cell, and the median milliseconds per call.

Run (about 20 seconds with the defaults)::

    python benchmarks/text_reward_model.py
    python benchmarks/text_reward_model.py --model learned --calls 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import fmt_float, fmt_int, machine_line, markdown_table, median

from safety_rlhf.data.prompts import load_corpus
from safety_rlhf.data.text_preferences import TextPreferenceConfig, sample_responses
from safety_rlhf.reward import make_reward_model
from safety_rlhf.task.strategies import render_responses


def sampled_pairs(seed: int) -> list[tuple[str, str]]:
    """Distinct (prompt, text) pairs sampled from ``pi_ref`` for the test prompts (8 per
    prompt), in a seeded random order."""
    corpus = load_corpus("test")
    samples = sample_responses(corpus, TextPreferenceConfig(), np.random.default_rng(seed))
    pairs = [(p, s.text) for p, row in zip(corpus.prompts, samples, strict=True) for s in row]
    unique = list(dict.fromkeys(pairs))
    return [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]


def strategy_pairs(seed: int) -> list[tuple[str, str]]:
    """Every (test prompt, rendered strategy) pair, in a seeded random order."""
    pairs = [(p, r) for p in load_corpus("test").prompts for r in render_responses(p)]
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [pairs[i] for i in order]


def time_cell(model: object, pairs: list[tuple[str, str]], batch: int, calls: int) -> list[float]:
    """Seconds of each ``model.score`` call on consecutive, unscored batches of ``pairs``."""
    times = []
    for start in range(0, min(len(pairs), batch * calls) - batch + 1, batch):
        chunk = pairs[start : start + batch]
        prompts, texts = [p for p, _ in chunk], [t for _, t in chunk]
        begin = time.perf_counter()
        model.score(prompts, texts)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - begin)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="learned-text", help="reward-model spec")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 256])
    parser.add_argument("--calls", type=int, default=100, help="timed calls per cell")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    kinds = {
        "sampled text": sampled_pairs(args.seed),
        "strategy responses": strategy_pairs(args.seed),
    }
    rows = []
    for kind, pairs in kinds.items():
        model = make_reward_model(args.model)  # a fresh model: empty score cache
        warm, pairs = pairs[:24], pairs[24:]
        for i in range(0, len(warm), 8):
            model.score([p for p, _ in warm[i : i + 8]], [t for _, t in warm[i : i + 8]])
        for batch in args.batch_sizes:
            times = time_cell(model, pairs, batch, args.calls)
            pairs = pairs[batch * len(times) :]  # never score a pair twice
            rows.append([
                kind, fmt_int(batch), fmt_int(len(times)),
                fmt_int(batch / median(times)), fmt_int(batch * len(times) / sum(times)),
                fmt_float(1e3 * median(times), 2),
            ])  # fmt: skip
    print(f"## `{args.model}`: score() on pairs never scored before\n")
    header = ["pairs", "batch", "calls", "pairs/s (median call)", "pairs/s (all calls)",
              "ms per call (median)"]  # fmt: skip
    print(markdown_table(header, rows))
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
