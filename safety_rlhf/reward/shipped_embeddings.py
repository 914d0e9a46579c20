"""Build or check the shipped MiniLM embeddings of the shipped corpus (a maintainer tool).

The table (:mod:`safety_rlhf.data.embedding_table`) holds every prompt of the train and test
splits of ``prompts.jsonl.gz`` and every response text the Bradley-Terry and cost models embed
for them (the rendered responses without the restated prompt): what ``safety-rlhf train``
and the benchmarks need. The jailbreak split is left out to keep the file under 5 MB; its
prompts are embedded on first use (and cached on disk). Run it after
``python -m safety_rlhf.data.generate`` changes the corpus::

    python -m safety_rlhf.reward.shipped_embeddings            # rewrite the shipped table
    python -m safety_rlhf.reward.shipped_embeddings --check    # exit 1 if it is stale

``--check`` needs no model for the coverage part (every text has an entry); it then embeds
``--sample`` texts live and requires their 8-bit codes to match the shipped ones within one
step (float rounding may differ between machines; the model may not).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_bytes
from safety_rlhf.data.embedding_table import SHIPPED_EMBEDDINGS, EmbeddingTable, quantize
from safety_rlhf.data.prompts import load_corpus
from safety_rlhf.reward.bradley_terry import strip_restatement
from safety_rlhf.reward.encoders import MODEL_PACKAGE, MiniLMEncoder, package_version
from safety_rlhf.task.strategies import render_responses

SPLITS: tuple[str, ...] = ("train", "test")


def corpus_texts() -> list[str]:
    """Every text the shipped corpus makes the ``minilm`` encoder embed, without repeats."""
    texts: dict[str, None] = {}
    for split in SPLITS:
        for prompt in load_corpus(split).prompts:
            texts[prompt] = None
            for response in render_responses(prompt):
                texts[strip_restatement(prompt, response)] = None
    return list(texts)


def build_table(texts: Sequence[str]) -> EmbeddingTable:
    """Embed ``texts`` with the model (never the shipped table) and quantise them."""
    vectors = MiniLMEncoder(shipped=False)._embed(list(texts))
    return EmbeddingTable.build(texts, vectors, package_version(MODEL_PACKAGE))


def check_table(table: EmbeddingTable | None, texts: Sequence[str], sample: int) -> list[str]:
    """Problems of ``table`` for ``texts`` (empty when it is up to date)."""
    if table is None:
        return ["the shipped table is missing or malformed"]
    found, _ = table.lookup(texts)
    problems = []
    if not found.all():
        problems.append(f"{int((~found).sum())} of {len(texts)} corpus texts have no entry")
    step = max(1, len(texts) // max(sample, 1))
    picked = [t for t, f in zip(texts[::step], found[::step], strict=True) if f][:sample]
    if picked:
        # the model itself, not the disk cache: compare vectors, within one step of each row
        live = MiniLMEncoder(shipped=False)._embed(picked, use_cache=False)
        _, shipped = table.lookup(picked)
        _, steps = quantize(live)
        worst = float((np.abs(live - shipped).max(axis=1) / steps).max())
        if worst > 1.01:
            problems.append(f"live embeddings differ from the shipped ones by {worst:.1f} steps")
    installed = package_version(MODEL_PACKAGE)
    if table.version != installed:
        problems.append(f"made with {MODEL_PACKAGE} {table.version!r}, installed {installed!r}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=SHIPPED_EMBEDDINGS, help="table file")
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    parser.add_argument("--sample", type=int, default=200, help="texts re-embedded by --check")
    args = parser.parse_args(argv)
    texts = corpus_texts()
    if args.check:
        table = EmbeddingTable.load(args.path, MiniLMEncoder.DIM)
        problems = check_table(table, texts, args.sample)
        for problem in problems:
            print(f"{args.path}: {problem}; run without --check to rebuild it", file=sys.stderr)
        if not problems:
            print(f"{args.path} is up to date ({len(texts):,} texts)")
        return 1 if problems else 0
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **build_table(texts).arrays())
    atomic_write_bytes(args.path, buffer.getvalue())
    print(f"wrote {args.path} ({len(texts):,} texts, {len(buffer.getvalue()) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
