"""Checkpoint size and write time of a default off-policy run (``safety-rlhf train --algo dqn``).

Trains ``safety_rlhf.experiments.train.train`` with the shipped YAML of ``--algo`` (default
``dqn``: 8 envs, ``buffer_size`` 60,000, 60,000 steps; default reward model and encoder,
checkpoints every ``--checkpoint-freq`` steps, default 10,000, as ``safety-rlhf train``).
Each checkpoint that :class:`~safety_rlhf.agents.checkpoints.RunCheckpointCallback` writes
is timed (``save_run_checkpoint``: model zip, replay buffer, ``state.json``; wall time with
``time.perf_counter``) and its files measured on disk. After training, one more checkpoint
of the final model (a full buffer) is written and timed the same way, into a separate
folder. ``buffer arrays`` is the size of the replay buffer's arrays in memory (what a
checkpoint that stores them whole and uncompressed writes). ``load s`` times
``load_replay_buffer`` of that file into the model's own buffer.

Run (2-5 minutes with the defaults on the shared 2-core machine at load average 7-12, most
of it the training)::

    python benchmarks/checkpoint_size.py
    python benchmarks/checkpoint_size.py --algo qrdqn
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine_line, markdown_table

from safety_rlhf.agents import checkpoints
from safety_rlhf.experiments.train import TrainConfig, train

MB = 1e6


def _row(model: Any, folder: Path, seconds: float) -> list[object]:
    state = checkpoints.read_checkpoint(folder.parent)
    buffer = model.replay_buffer
    arrays = sum(v.nbytes for v in vars(buffer).values() if hasattr(v, "nbytes"))
    model_mb = state["model"].stat().st_size / MB
    buffer_mb = state["buffer"].stat().st_size / MB if state["buffer"] else 0.0
    start = time.perf_counter()
    if state["buffer"]:
        checkpoints.load_replay_buffer(buffer, state["buffer"])
    load = time.perf_counter() - start
    return [
        f"{state['num_timesteps']:,}",
        f"{int(buffer.buffer_size if buffer.full else buffer.pos) * buffer.n_envs:,}",
        f"{arrays / MB:.1f}",
        f"{model_mb:.2f}",
        f"{buffer_mb:.2f}",
        f"{model_mb + buffer_mb:.2f}",
        f"{seconds:.2f}",
        f"{load:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", default="dqn", help="off-policy algorithm (default: dqn)")
    parser.add_argument("--timesteps", type=int, default=None, help="default: the YAML's")
    parser.add_argument("--checkpoint-freq", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows: list[list[object]] = []
    save = checkpoints.save_run_checkpoint

    def timed(model: Any, folder: Path, extra: dict[str, Any] | None = None) -> Path:
        start = time.perf_counter()
        path = save(model, folder, extra)
        rows.append(_row(model, folder, time.perf_counter() - start))
        return path

    checkpoints.save_run_checkpoint = timed  # what RunCheckpointCallback calls
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            algo=args.algo,
            timesteps=args.timesteps,
            seed=args.seed,
            checkpoint_freq=args.checkpoint_freq,
            log_dir=tmp,
            progress_bar=False,
        )
        result = train(cfg, argv=[])
        timed(result.model, Path(tmp) / "final" / "checkpoint")
    headers = ["steps", "transitions", "buffer arrays MB", "model MB", "buffer file MB",
               "checkpoint MB", "write s", "load s"]  # fmt: skip
    print(f"\n`safety-rlhf train --algo {args.algo}` checkpoints (last row: final model)\n")
    print(markdown_table(headers, rows))
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
