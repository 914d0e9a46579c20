"""Checkpoints of a training run, written so that a crash at any moment loses at most the
steps since the last one, and none of the counted ones before it.

:class:`RunCheckpointCallback` writes into ``<run>/checkpoint/`` at the first rollout
boundary after every ``every`` environment steps:

- ``model-<steps>.zip``: the SB3 model (weights, optimizer state, step and update counts);
- ``buffer-<steps>.npz``: the filled part of the replay buffer (off-policy algorithms),
  NumPy arrays only, compressed (:func:`save_replay_buffer`);
- ``state.json``: the step count, the files above, the torch, NumPy and Python RNG states
  and the caller's extra state (the Lagrange multiplier).

**When.** At the start of a rollout, i.e. after the previous rollout's gradient updates:
for on-policy algorithms (PPO, A2C, TRPO, RecurrentPPO, ...) every counted sample has been
trained on, and for off-policy ones (DQN, QR-DQN) every counted transition is in the buffer
and has had its gradient steps. A run resumed from it (``safety-rlhf train --resume``)
therefore ends with the same step count and the same number of gradient updates
(``model._n_updates``) as the run that was not interrupted.

**Atomic.** Each file is streamed into a temporary file in the same folder and renamed into
place, and ``state.json``, which names the model and buffer files, is renamed last; the
previous checkpoint's files are deleted only after that. A kill at any point therefore
leaves a ``state.json`` whose files exist. :func:`read_checkpoint` reads it back, and
nothing in a checkpoint is unpickled.
"""

from __future__ import annotations

import base64
import json
import os
import random
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from safety_rlhf.data.atomic_files import atomic_write_text, atomic_writer
from safety_rlhf.data.readers import read_json

__all__ = [
    "RunCheckpointCallback",
    "load_replay_buffer",
    "read_checkpoint",
    "restore_rng",
    "resume_seed",
    "save_replay_buffer",
    "save_run_checkpoint",
]

STATE = "state.json"
#: A buffer array is stored as a table of its distinct rows and an index into it when
#: it has at most this share of distinct rows (SafetyRLHF-v0's observations: one row per
#: prompt of the train split); else as it is.
_DEDUP_SHARE = 0.5
_DEDUP_MAX_BYTES = 64 << 20  # distinct rows held in memory at most while looking
_DEDUP_MIN_ROW_BYTES = 64  # smaller rows (actions) compress well as they are


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # SB3 samples from it
    assert isinstance(keys, np.ndarray)
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


def _buffer_arrays(buffer: Any) -> dict[str, np.ndarray]:
    """The buffer's per-transition arrays by name; those of a dict observation space
    (``DictReplayBuffer``) as ``observations.<key>``."""
    arrays: dict[str, np.ndarray] = {}
    for name, value in vars(buffer).items():
        if isinstance(value, dict):
            arrays.update((f"{name}.{k}", v) for k, v in value.items() if isinstance(v, np.ndarray))
        elif isinstance(value, np.ndarray):
            arrays[name] = value
    return {k: v for k, v in arrays.items() if v.shape[:1] == (buffer.buffer_size,)}


def _filled_rows(buffer: Any, pos: int, full: bool) -> int:
    """Rows of ``buffer`` that hold data at ``pos`` and ``full``: all once it is full, else
    up to ``pos`` (one more with ``optimize_memory_usage``, whose next observation sits in
    row ``pos``)."""
    if full:
        return int(buffer.buffer_size)
    return pos + int(bool(getattr(buffer, "optimize_memory_usage", False)))


def _distinct_rows(array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(table of distinct rows, index of each row into it) of ``array`` viewed as rows of its
    trailing axes after the first two, bit for bit; ``None`` if there are too many."""
    if array.ndim < 3 or array.size == 0 or array[0, 0].nbytes < _DEDUP_MIN_ROW_BYTES:
        return None
    rows = array.reshape(array.shape[0] * array.shape[1], -1)
    limit = min(int(len(rows) * _DEDUP_SHARE), _DEDUP_MAX_BYTES // max(rows[0].nbytes, 1))
    seen: dict[bytes, int] = {}
    index = np.empty(len(rows), dtype=np.uint32)
    for i, row in enumerate(rows):
        index[i] = seen.setdefault(row.tobytes(), len(seen))
        if len(seen) > limit:
            return None
    table = np.frombuffer(b"".join(seen), dtype=array.dtype).reshape(-1, *array.shape[2:])
    return table, index.reshape(array.shape[:2])


def save_replay_buffer(buffer: Any, path: str | os.PathLike[str]) -> Path:
    """Stream the filled part of an SB3 replay buffer into a compressed ``.npz`` at ``path``.

    Only rows that hold data are written (see ``pos`` and ``full``), in the buffer's own
    (ring) order, with ``_pos`` and ``_full``, so that :func:`load_replay_buffer` gives back
    a buffer that samples exactly like this one. An array with few distinct rows (the
    observations of an env with a finite prompt set) is stored as ``<name>.rows``, its
    distinct rows, and ``<name>.index``; the others as they are. The file is
    ``np.savez_compressed`` written into a temporary file and renamed (no pickles; no copy
    of the whole buffer in memory).
    """
    path = Path(path)
    n = _filled_rows(buffer, int(buffer.pos), bool(buffer.full))
    arrays: dict[str, np.ndarray] = {
        "_pos": np.asarray(int(buffer.pos), dtype=np.int64),
        "_full": np.asarray(bool(buffer.full)),
    }
    for name, array in _buffer_arrays(buffer).items():
        distinct = _distinct_rows(array[:n])
        if distinct is None:
            arrays[name] = array[:n]
        else:
            arrays[f"{name}.rows"], arrays[f"{name}.index"] = distinct
    with atomic_writer(path) as f:
        np.savez_compressed(f, allow_pickle=False, **arrays)
    return path


class _BadBuffer(ValueError):
    pass


def _read_array(npz: Any, key: str) -> np.ndarray:
    if key not in npz.files:
        raise _BadBuffer(f"has no array {key!r}")
    return np.asarray(npz[key])


def _check(what: str, got: np.ndarray, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    if got.dtype != dtype or got.shape != shape:
        raise _BadBuffer(
            f"{what} is {got.dtype}{list(got.shape)}, the model's buffer needs {dtype}{list(shape)}"
        )
    return got


def load_replay_buffer(buffer: Any, path: str | os.PathLike[str]) -> None:
    """Fill an SB3 replay buffer from a file of :func:`save_replay_buffer`.

    Every array is checked against ``buffer`` (names, dtypes, shapes, ``pos``, indices)
    before the buffer is touched; the buffer gets new arrays, whose rows the file does not
    hold are zeros, as in a new buffer.

    :raises ValueError: one line naming ``path``, when the file is unreadable, corrupt or
        does not fit ``buffer`` (e.g. another ``buffer_size``, ``n_envs`` or observation).
    """
    targets = _buffer_arrays(buffer)
    size, n_envs = int(buffer.buffer_size), int(buffer.n_envs)
    loaded: dict[str, np.ndarray | tuple[np.ndarray, np.ndarray]] = {}
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise _BadBuffer("is not an .npz archive")
        with npz:
            pos = _read_array(npz, "_pos")
            full = _read_array(npz, "_full")
            if pos.shape != () or pos.dtype.kind not in "iu" or not 0 <= int(pos) < size:
                raise _BadBuffer(
                    f"_pos must be a whole number in [0, {size}), got {pos.tolist()!r}"
                )
            if full.shape != () or full.dtype != np.bool_:
                raise _BadBuffer(f"_full must be a boolean, got {full.tolist()!r}")
            buffer_pos, buffer_full = int(pos), bool(full)
            n = _filled_rows(buffer, buffer_pos, buffer_full)
            names = {"_pos", "_full"}
            for name, target in targets.items():
                shape = (n, *target.shape[1:])
                if f"{name}.rows" in npz.files:
                    rows = _read_array(npz, f"{name}.rows")
                    rows_shape = (*rows.shape[:1], *shape[2:])  # any number of rows
                    rows = _check(f"{name}.rows", rows, target.dtype, rows_shape)
                    index = _read_array(npz, f"{name}.index")
                    index = _check(f"{name}.index", index, np.dtype(np.uint32), (n, n_envs))
                    if index.size and int(index.max()) >= len(rows):
                        raise _BadBuffer(f"{name}.index points past its {len(rows)} rows")
                    loaded[name] = (rows, index)
                    names |= {f"{name}.rows", f"{name}.index"}
                else:
                    loaded[name] = _check(name, _read_array(npz, name), target.dtype, shape)
                    names.add(name)
            if set(npz.files) - names:
                raise _BadBuffer(
                    f"has arrays the model's buffer lacks: {sorted(set(npz.files) - names)}"
                )
    except (_BadBuffer, OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile,
            zlib.error) as exc:  # fmt: skip
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"{path}: not a replay buffer of this model: {detail}") from None
    for name, value in loaded.items():
        # a new array: np.zeros leaves the rows past n unallocated until they are written
        array = np.zeros(targets[name].shape, dtype=targets[name].dtype)
        if isinstance(value, tuple):
            rows, index = value
            np.take(rows, index, axis=0, out=array[:n])
        else:
            array[:n] = value
        attr, _, key = name.partition(".")
        if key:
            getattr(buffer, attr)[key] = array
        else:
            setattr(buffer, attr, array)
    buffer.pos, buffer.full = buffer_pos, buffer_full


def save_run_checkpoint(model: Any, folder: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write one checkpoint of a training run's ``model`` into ``folder`` (see the module
    docstring) and return the path of its ``state.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = int(model.num_timesteps)
    model_name = f"model-{steps}.zip"
    with atomic_writer(folder / model_name) as f:
        model.save(f)
    buffer_name = None
    if getattr(model, "replay_buffer", None) is not None:
        buffer_name = f"buffer-{steps}.npz"
        save_replay_buffer(model.replay_buffer, folder / buffer_name)
    state = {
        "num_timesteps": steps,
        "model": model_name,
        "buffer": buffer_name,
        "rng": _rng_state(),
        **(extra or {}),
    }
    atomic_write_text(folder / STATE, json.dumps(state) + "\n")
    # only now, the new state naming the new files: the previous checkpoint's files and
    # the temporary files of writes that a kill interrupted
    for old in folder.iterdir():
        if old.name not in (STATE, model_name, buffer_name):
            old.unlink(missing_ok=True)
    return folder / STATE


def resume_seed(seed: int, steps: int) -> int:
    """The seed of the envs of a run resumed after ``steps`` steps: a new stream, drawn
    from ``np.random.SeedSequence([seed, steps])``, in NumPy's seed range ``[0, 2**32)``
    whatever ``seed`` and ``steps`` are (``seed + steps`` overflows it near ``2**32``).

    >>> resume_seed(4294967290, 96) < 2**32
    True
    """
    return int(np.random.SeedSequence([seed, steps]).generate_state(1)[0])


def _check_state(state: Any, path: Path) -> None:
    """Refuse a ``state.json`` that :func:`save_run_checkpoint` did not write: every key
    of the right type, file names inside the checkpoint folder."""

    def bad(what: str) -> ValueError:
        return ValueError(f"{path}: {what}; not a checkpoint of safety-rlhf train")

    if not isinstance(state, dict):
        raise bad(f"expected a JSON object, got {type(state).__name__}")
    steps = state.get("num_timesteps")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= 10**12:
        raise bad(f"num_timesteps must be a whole number >= 0, got {steps!r}")
    for key in ("model", "buffer"):
        name = state.get(key)
        if key == "buffer" and name is None:
            continue
        if not isinstance(name, str) or not name or Path(name).name != name or name[0] == ".":
            raise bad(f"{key} must name a file in the checkpoint folder, got {name!r}")
    rng = state.get("rng")
    numpy_state = rng.get("numpy") if isinstance(rng, dict) else None
    python_state = rng.get("python") if isinstance(rng, dict) else None
    ok = (
        isinstance(rng, dict)
        and isinstance(rng.get("torch"), str)
        and len(rng["torch"]) == len(_rng_state()["torch"])  # base64 of torch's state
        and isinstance(numpy_state, list)
        and len(numpy_state) == 5
        and numpy_state[0] == "MT19937"
        and isinstance(numpy_state[1], list)
        and len(numpy_state[1]) == 624
        and all(isinstance(k, int) and 0 <= k < 2**32 for k in numpy_state[1])
        and isinstance(numpy_state[2], int)
        and 0 <= numpy_state[2] <= 624
        and all(isinstance(v, int | float) for v in numpy_state[3:])
        and isinstance(python_state, list)
        and len(python_state) == 3
        and python_state[0] == 3
        and isinstance(python_state[1], list)
        and len(python_state[1]) == 625
        and all(isinstance(k, int) and 0 <= k < 2**32 for k in python_state[1])
        and python_state[1][-1] <= 624
        and (python_state[2] is None or isinstance(python_state[2], float))
    )
    if ok and isinstance(rng, dict):
        try:
            base64.b64decode(rng["torch"], validate=True)
        except ValueError:
            ok = False
    if not ok:
        raise bad("'rng' is not the torch, NumPy and Python RNG states")
    value = state.get("lagrange_multiplier", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e300:
        raise bad(f"lagrange_multiplier must be a finite number >= 0, got {value!r}")


def read_checkpoint(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``state.json`` of a run folder's checkpoint, with its files' paths resolved.

    :raises FileNotFoundError: naming the run folder when it has no usable checkpoint.
    :raises ValueError: naming ``state.json`` when it is malformed.
    """
    folder = Path(run_dir) / "checkpoint"
    path = folder / STATE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no checkpoint to resume from ({path} is missing)")
    state = read_json(path, ValueError)
    _check_state(state, path)
    for key in ("model", "buffer"):
        if state.get(key):
            state[key] = folder / state[key]
            if not state[key].is_file():
                raise FileNotFoundError(f"{path}: names {state[key].name}, which is missing")
    return state


class RunCheckpointCallback(BaseCallback):
    """Write a checkpoint at the first rollout start after every ``every`` environment
    steps (see the module docstring for why there).

    :param folder: the run's ``checkpoint/`` folder.
    :param every: environment steps between checkpoints (at least).
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

    def _on_rollout_start(self) -> None:
        # the previous rollout has had its gradient updates (SB3 calls train() between
        # collect_rollouts calls), and, off-policy, its transitions are in the buffer
        if self.num_timesteps - self._last >= self.every:
            self._last = self.num_timesteps
            save_run_checkpoint(self.model, self.folder, self.extra() if self.extra else None)

    def _on_step(self) -> bool:
        return True
