"""Bradley-Terry checkpoint folders: ``model.safetensors`` + ``config.json``, read and checked.

``config.json`` holds ``format_version`` (1), ``encoder`` (the prompt encoder's
:meth:`~safety_rlhf.reward.encoders.TextEncoder.config`: ``{"name": ..., "dim": ...}``),
optionally ``response_encoder`` (the same for the response side; absent or ``null``: the
response is read with ``encoder`` too, as in every checkpoint written before it existed),
``architecture`` (``{"type": "mlp", "input_dim": ..., "hidden": [...]}``, where
``input_dim`` is the prompt encoder's dimension plus the response encoder's) and training
metadata. A checkpoint is untrusted input: the weights are safetensors (a pickle is
refused), and every entry the loader reads is type-checked before use, so a malformed
folder is a one-line :class:`~safety_rlhf.reward.base.RewardModelError` naming the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from safety_rlhf.data.atomic_files import atomic_write_bytes, atomic_write_text
from safety_rlhf.data.readers import read_json
from safety_rlhf.reward.base import RewardModelError
from safety_rlhf.reward.encoders import TextEncoder, make_encoder

__all__ = [
    "FORMAT_VERSION",
    "load_checkpoint",
    "mlp_layers",
    "rebuild_encoders",
    "save_bradley_terry",
]

FORMAT_VERSION = 1


class Checkpointable(Protocol):
    """What :func:`save_bradley_terry` writes: weights and the ``config.json`` content."""

    weights: dict[str, np.ndarray]

    def checkpoint_config(self) -> dict[str, Any]: ...


def save_bradley_terry(model: Checkpointable, path: str | os.PathLike[str]) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into the folder ``path`` (atomically,
    file by file)."""
    from safetensors.numpy import save

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "model.safetensors", save(model.weights))
    atomic_write_text(
        folder / "config.json", json.dumps(model.checkpoint_config(), indent=2) + "\n"
    )
    return folder


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a checkpoint folder's config and weights (safetensors: no code is executed)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(path)
    config_path, weights_path = folder / "config.json", folder / "model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise RewardModelError(
            f"{folder}: not a Bradley-Terry checkpoint (needs config.json and model.safetensors)"
        )
    config = read_json(config_path, RewardModelError)
    if not isinstance(config, dict):
        raise RewardModelError(f"{config_path}: expected a JSON object")
    for key in ("format_version", "encoder", "architecture"):
        if key not in config:
            raise RewardModelError(f"{config_path}: missing key {key!r}")
    _check_layout(config, config_path)
    if type(config["format_version"]) is not int or config["format_version"] != FORMAT_VERSION:
        raise RewardModelError(
            f"{config_path}: format_version {config['format_version']!r} is not supported "
            f"(this version reads {FORMAT_VERSION})"
        )
    with weights_path.open("rb") as f:
        head = f.read(2)
    if len(head) == 2 and head[0] == 0x80 and head[1] <= 5:  # the PROTO opcode of a pickle
        raise RewardModelError(
            f"{weights_path}: is a Python pickle, not safetensors; refusing to load it "
            "(unpickling can run code). Save the weights with safetensors."
        )
    try:
        return config, load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RewardModelError(f"{weights_path}: not a readable safetensors file: {exc}") from exc


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 1_000_000


def _check_layout(config: dict[str, Any], config_path: Path) -> None:
    """The ``encoder``, ``response_encoder`` and ``architecture`` entries have the types the
    loader reads."""
    encoder, arch = config["encoder"], config["architecture"]
    if not isinstance(encoder, dict) or not isinstance(encoder.get("name"), str):
        raise RewardModelError(f"{config_path}: 'encoder' must be an object with a 'name'")
    response = config.get("response_encoder")
    if response is not None and (
        not isinstance(response, dict) or not isinstance(response.get("name"), str)
    ):
        raise RewardModelError(
            f"{config_path}: 'response_encoder' must be null or an object with a 'name', "
            f"got {response!r:.200}"
        )
    hidden = arch.get("hidden") if isinstance(arch, dict) else None
    if (
        not isinstance(arch, dict)
        or not _is_size(arch.get("input_dim"))
        or not isinstance(hidden, list)
        or not all(_is_size(h) for h in hidden)
    ):
        raise RewardModelError(
            f"{config_path}: 'architecture' must be an object with a positive integer "
            f"'input_dim' and a list of positive integer 'hidden' sizes, got {arch!r:.200}"
        )


def _rebuild(entry: dict[str, Any], key: str, path: str | os.PathLike[str]) -> TextEncoder:
    """The encoder a ``config.json`` entry describes (``{"name": ..., **kwargs}``)."""
    kwargs = dict(entry)
    name = kwargs.pop("name", None)
    if isinstance(kwargs.get("ngram_range"), list):
        kwargs["ngram_range"] = tuple(kwargs["ngram_range"])
    try:
        return make_encoder(name, **kwargs)
    except (TypeError, ValueError) as exc:
        raise RewardModelError(f"{path}: cannot rebuild {key} {entry}: {exc}") from exc


def rebuild_encoders(
    config: dict[str, Any], path: str | os.PathLike[str]
) -> tuple[TextEncoder, TextEncoder | None]:
    """The prompt encoder and the separate response encoder (``None``: the prompt encoder
    reads the response too) of a checked ``config.json``.

    :raises RewardModelError: naming ``path``, for an unknown encoder or bad parameters.
    """
    encoder = _rebuild(config["encoder"], "encoder", path)
    response = config.get("response_encoder")
    return encoder, None if response is None else _rebuild(response, "response_encoder", path)


def mlp_layers(state: dict[str, np.ndarray], hidden: Sequence[int], input_dim: int) -> list[str]:
    """Check that ``state`` holds the MLP ``input_dim -> hidden... -> 1``; return the
    prefixes of its linear layers (``mlp.0``, ``mlp.2``, ...), in order.

    :raises ValueError: naming the first missing, unexpected or misshaped tensor.
    """
    widths = [int(input_dim), *(int(h) for h in hidden), 1]
    # Linear layers sit at even indices of the torch Sequential (ReLUs in between).
    prefixes = [f"mlp.{2 * i}" for i in range(len(widths) - 1)]
    expected: dict[str, tuple[int, ...]] = {}
    for prefix, fan_in, fan_out in zip(prefixes, widths, widths[1:], strict=False):
        expected[f"{prefix}.weight"] = (fan_out, fan_in)
        expected[f"{prefix}.bias"] = (fan_out,)
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ValueError(f"unexpected tensor {extra[0]!r}")
    for key, shape in expected.items():
        if key not in state:
            raise ValueError(f"missing tensor {key!r}")
        got = tuple(state[key].shape)
        if got != shape:
            raise ValueError(f"tensor {key!r} has shape {got}, expected {shape}")
    return prefixes
