"""Reward-model throughput on uncached text: pairs per second of ``model.score``.

Measures three reward models built with ``safety_rlhf.reward.make_reward_model``:

- ``rule``: the keyword filter;
- ``bt-hashing``: a Bradley-Terry model on the ``hashing`` encoder, trained here for one
  epoch on ``--train-pairs`` shipped preference pairs (a throwaway checkpoint in a temp
  dir, loaded back with ``make_reward_model("bradley-terry:DIR")``; training is not timed);
- ``learned``: the shipped Bradley-Terry model on MiniLM sentence embeddings,

each at batch sizes 1 and 256 (``--batch-sizes``), as ``model.score(prompts, responses)``,
on two kinds of text (``--text``): ``new words`` (below) and ``corpus``, the shipped
prompts and their rendered responses with the in-process score cache emptied before every
call (the vocabulary is then known, as when an env scores its tables; not run for
``learned``, whose in-memory embedding memo would serve the repeated prompts).

Every timed call sees (prompt, response) pairs never scored before: the prompts are the
shipped train prompts with a unique counter appended (one fresh prompt per pair), the
responses ``render_responses(prompt)[strategy]`` with a strategy from a seeded
``np.random.default_rng``. So the in-process score cache misses, and MiniLM embeds every
prompt afresh: ``SAFETY_RLHF_CACHE`` is pointed at a new temp dir before ``safety_rlhf`` is
imported (deleted at exit), so its on-disk embedding cache is empty too, and the write of
each call's embeddings to that cache is part of the time, as in real uncached use. One
thing stays cached, by design of the models: they strip the prompt's restatement from the
response, so the response half of a pair is one of six fixed template texts, which MiniLM
keeps in its in-memory memo after the first call (as it does in training).

Text generation is not timed: each call is timed alone with ``time.perf_counter``. A cell
runs (after 3 warm-up calls) until it has scored ``--min-pairs`` pairs and spent
``--min-seconds`` in ``score``, or made ``--max-calls`` calls (``--learned-max-calls`` for
``learned`` at batch size 1, which is slow). Reported: pairs/s over the cell and the
throughput at the median call (batch size / median seconds per call: robust to the other
load on a shared machine), over the whole cell (pairs / total seconds) and the median
milliseconds per call. Torch keeps its default number of threads (the environment scores
its prompt tables that way), unless ``--torch-threads`` says otherwise.

Run (about 1.5 minutes with the defaults)::

    python benchmarks/reward_models.py
    python benchmarks/reward_models.py --models rule bt-hashing --batch-sizes 1 64 256
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before safety_rlhf is imported: MiniLM embeddings go to a fresh, empty on-disk cache,
# deleted when the process exits.
_CACHE_DIR = tempfile.mkdtemp(prefix="safety-rlhf-bench-cache-")
os.environ["SAFETY_RLHF_CACHE"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)

import argparse  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import fmt_float, fmt_int, machine_line, markdown_table, median  # noqa: E402

from safety_rlhf.data.preferences import load_shipped_preferences  # noqa: E402
from safety_rlhf.data.prompts import load_prompts  # noqa: E402
from safety_rlhf.reward import RewardModel, make_reward_model  # noqa: E402
from safety_rlhf.reward.bradley_terry import BradleyTerryConfig, save_bradley_terry  # noqa: E402
from safety_rlhf.reward.bradley_terry_training import train_bradley_terry  # noqa: E402
from safety_rlhf.task.strategies import render_responses  # noqa: E402

MODELS = ("rule", "bt-hashing", "learned")


def train_hashing_model(folder: Path, n_pairs: int, seed: int) -> str:
    """Train a one-epoch Bradley-Terry model on the hashing encoder; return its spec."""
    prefs = load_shipped_preferences("train")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(prefs), size=min(n_pairs, len(prefs)), replace=False)
    model, _ = train_bradley_terry(
        [prefs.prompts[i] for i in idx],
        [prefs.chosen[i] for i in idx],
        [prefs.rejected[i] for i in idx],
        config=BradleyTerryConfig(encoder="hashing", epochs=1, seed=seed),
        progress=False,
    )
    save_bradley_terry(model, folder)
    return f"bradley-terry:{folder}"


class FreshPairs:
    """Yields batches of (prompt, response) pairs never produced before in this process."""

    def __init__(self, seed: int) -> None:
        self.base = load_prompts(None, split="train").prompts
        self.rng = np.random.default_rng(seed)
        self.counter = itertools.count()

    def batch(self, size: int) -> tuple[list[str], list[str]]:
        prompts, responses = [], []
        strategies = self.rng.integers(0, 6, size=size)
        for s in strategies:
            k = next(self.counter)
            prompt = f"{self.base[k % len(self.base)]} (request {k})"
            prompts.append(prompt)
            responses.append(render_responses(prompt)[int(s)])
        return prompts, responses


class CorpusPairs:
    """Yields batches of (prompt, response) pairs of the shipped corpus (every split, every
    strategy), in a seeded random order, and empties the in-process score cache before each
    batch: scores are computed afresh, but the words are the corpus's (already seen once
    the first batches went through), as when an env scores its prompt tables."""

    def __init__(self, seed: int) -> None:
        prompts = [p for s in ("train", "test", "jailbreak") for p in load_prompts(None, s).prompts]
        pairs = [(p, r) for p in prompts for r in render_responses(p)]
        order = np.random.default_rng(seed).permutation(len(pairs))
        self.pairs = [pairs[i] for i in order]
        self.counter = itertools.count()

    def batch(self, size: int) -> tuple[list[str], list[str]]:
        from safety_rlhf.reward import base

        base._SCORE_CACHE.clear()
        chosen = [self.pairs[next(self.counter) % len(self.pairs)] for _ in range(size)]
        return [p for p, _ in chosen], [r for _, r in chosen]


def time_cell(
    model: RewardModel,
    pairs: FreshPairs | CorpusPairs,
    batch_size: int,
    min_pairs: int,
    min_seconds: float,
    max_calls: int,
) -> tuple[float, float, float, int, int]:
    """(pairs/s at the median call, pairs/s overall, median ms per call, pairs, calls)."""
    for _ in range(3):  # warm-up (fresh text too)
        model.score(*pairs.batch(batch_size))
    times: list[float] = []
    while len(times) < max_calls and (
        len(times) * batch_size < min_pairs or sum(times) < min_seconds
    ):
        prompts, responses = pairs.batch(batch_size)
        start = time.perf_counter()
        model.score(prompts, responses)
        times.append(time.perf_counter() - start)
    n = len(times) * batch_size
    return batch_size / median(times), n / sum(times), 1000 * median(times), n, len(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--min-pairs", type=int, default=2_560, help="fewest pairs per cell")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="least time per cell")
    parser.add_argument("--max-calls", type=int, default=5_000, help="most calls per cell")
    parser.add_argument(
        "--learned-max-calls", type=int, default=200, help="most calls for learned at batch 1"
    )
    parser.add_argument(
        "--train-pairs", type=int, default=3_000, help="pairs to train the hashing model on"
    )
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch threads (0: torch's default)"
    )
    parser.add_argument(
        "--text",
        nargs="+",
        choices=("new-words", "corpus"),
        default=["new-words", "corpus"],
        help="new-words: every prompt carries a word never seen before; corpus: the "
        "shipped prompts and responses, scores not cached (not for learned)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    sources = {"new words": FreshPairs(args.seed)}
    if "corpus" in args.text:
        sources["corpus"] = CorpusPairs(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="safety-rlhf-bench-bt-") as tmp:
        for name in args.models:
            start = time.perf_counter()
            spec = (
                train_hashing_model(Path(tmp), args.train_pairs, args.seed)
                if name == "bt-hashing"
                else name
            )
            model = make_reward_model(spec)
            setup = time.perf_counter() - start
            first = len(rows)
            for text, pairs in sources.items():
                if text == "corpus" and name == "learned":
                    continue  # MiniLM's memo would serve repeated corpus prompts
                for b in args.batch_sizes:
                    max_calls = args.max_calls
                    if name == "learned" and b == 1:
                        max_calls = min(max_calls, args.learned_max_calls)
                    rate, overall, ms, n, calls = time_cell(
                        model, pairs, b, args.min_pairs, args.min_seconds, max_calls
                    )
                    rows.append(
                        [
                            name,
                            text,
                            b,
                            fmt_int(rate),
                            fmt_int(overall),
                            fmt_float(ms, 3),
                            f"{n:,}",
                            f"{calls:,}",
                            fmt_float(setup, 1) if len(rows) == first else "",
                        ]
                    )

    print("## Reward-model throughput on uncached pairs\n")
    print(
        markdown_table(
            [
                "model",
                "text",
                "batch",
                "pairs/s (median call)",
                "pairs/s (overall)",
                "ms/call (median)",
                "pairs",
                "calls",
                "setup s",
            ],
            rows,
        )
    )
    print(
        "\nsetup s: building the model (bt-hashing: includes training it for one epoch), "
        "not part of pairs/s."
    )
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
