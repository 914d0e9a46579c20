"""Checkpoints of a training run, written so that a crash at any moment loses at most the
steps since the last one.

Every ``every`` environment steps, :class:`RunCheckpointCallback` writes into
``<run>/checkpoint/``:

- ``model-<steps>.zip``: the SB3 model (weights and optimizer state);
- ``buffer-<steps>.npz``: the replay buffer's arrays (off-policy algorithms), NumPy only;
- ``state.json``: the step count, the files above, the torch, NumPy and Python RNG states
  and the caller's extra state (the Lagrange multiplier).

Each file is written to a temporary name and renamed into place, and ``state.json``, which
names the model and buffer files, is renamed last; the previous checkpoint's files are
deleted only after that. A kill at any point therefore leaves a ``state.json`` whose files
exist. :func:`read_checkpoint` reads it back, and nothing in a checkpoint is unpickled.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from safety_rlhf.data.atomic_files import atomic_write_bytes, atomic_write_text

__all__ = [
    "RunCheckpointCallback",
    "read_checkpoint",
    "restore_buffer",
    "restore_rng",
    "save_checkpoint",
]

STATE = "state.json"


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, gauss = np.random.get_state()  # SB3 samples from it
    version, internal, py_gauss = random.getstate()
    return {
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode(),
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
        "python": [version, list(internal), py_gauss],
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Put back the torch, NumPy and Python RNG states of a checkpoint."""
    rng = state["rng"]
    raw = np.frombuffer(base64.b64decode(rng["torch"]), dtype=np.uint8).copy()
    torch.set_rng_state(torch.from_numpy(raw))
    name, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, py_gauss = rng["python"]
    random.setstate((version, tuple(internal), py_gauss))


def _buffer_arrays(model: Any) -> dict[str, np.ndarray] | None:
    buffer = getattr(model, "replay_buffer", None)
    if buffer is None:
        return None
    arrays = {k: v for k, v in vars(buffer).items() if isinstance(v, np.ndarray)}
    arrays["_pos"] = np.asarray(buffer.pos)
    arrays["_full"] = np.asarray(buffer.full)
    return arrays


def restore_buffer(model: Any, path: Path) -> None:
    """Fill ``model.replay_buffer`` from a checkpoint's ``buffer-<steps>.npz``."""
    buffer = model.replay_buffer
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            if key == "_pos":
                buffer.pos = int(npz[key])
            elif key == "_full":
                buffer.full = bool(npz[key])
            else:
                setattr(buffer, key, npz[key].copy())


def save_checkpoint(model: Any, folder: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write one checkpoint of ``model`` into ``folder`` (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = int(model.num_timesteps)
    model_name = f"model-{steps}.zip"
    tmp = folder / f".tmp-{model_name}"
    model.save(tmp)
    os.replace(tmp, folder / model_name)
    buffer_name = None
    arrays = _buffer_arrays(model)
    if arrays is not None:
        buffer_name = f"buffer-{steps}.npz"
        data = io.BytesIO()
        np.savez(data, allow_pickle=False, **arrays)
        atomic_write_bytes(folder / buffer_name, data.getvalue())
    state = {
        "num_timesteps": steps,
        "model": model_name,
        "buffer": buffer_name,
        "rng": _rng_state(),
        **(extra or {}),
    }
    atomic_write_text(folder / STATE, json.dumps(state) + "\n")
    for old in folder.iterdir():  # only now: the new state names the new files
        if old.name not in (STATE, model_name, buffer_name) and not old.name.startswith("."):
            old.unlink(missing_ok=True)
    return folder / STATE


def read_checkpoint(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``state.json`` of a run folder's checkpoint, with its files' paths resolved.

    :raises FileNotFoundError: naming the run folder when it has no usable checkpoint.
    """
    folder = Path(run_dir) / "checkpoint"
    path = folder / STATE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no checkpoint to resume from ({path} is missing)")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    for key in ("model", "buffer"):
        if state.get(key):
            state[key] = folder / state[key]
            if not state[key].is_file():
                raise FileNotFoundError(f"{path}: names {state[key].name}, which is missing")
    return state


class RunCheckpointCallback(BaseCallback):
    """Write a checkpoint every ``every`` environment steps (see the module docstring).

    :param folder: the run's ``checkpoint/`` folder.
    :param every: environment steps between checkpoints.
    :param extra: returns more state to store (JSON-serialisable), e.g. the multiplier.
    """

    def __init__(
        self, folder: Path, every: int, extra: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.every = int(every)
        self.extra = extra
        self._last = 0

    def _on_training_start(self) -> None:
        self._last = self.num_timesteps

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last >= self.every:
            self._last = self.num_timesteps
            save_checkpoint(self.model, self.folder, self.extra() if self.extra else None)
        return True
