"""Load Stable-Baselines3 model files without running code from them.

An SB3 ``model.zip`` holds the network weights as ``.pth`` files, which SB3 reads with
``torch.load(weights_only=True)``, and its other attributes in a JSON file, ``data``, where
everything JSON cannot hold (the spaces, the policy class, the schedules, numpy arrays...)
is a base64 *pickle*. SB3 unpickles those with ``cloudpickle.loads``, and unpickling can run
any code: a model file from someone else could do anything on ``PPO.load``.

:func:`load_model` unpickles each of those entries itself, with an unpickler that resolves
only the names on an allow-list (:data:`ALLOWED`: numpy arrays and generators, Gymnasium
spaces, ``collections.deque``, the SB3 and sb3-contrib policy, buffer and schedule classes,
torch optimizers). Anything else, a function pickled by value, ``os.system``, ``eval``...,
is refused with :class:`UnsafeModelFileError` naming the entry and the name, before it can
run. The unpickled entries go to SB3 as ``custom_objects``, so SB3 unpickles nothing.
"""

from __future__ import annotations

import base64
import enum
import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["ALLOWED", "UnsafeModelFileError", "load_model", "safe_custom_objects"]


class UnsafeModelFileError(ValueError):
    """A model file asks to unpickle something that is not on the allow-list."""


#: (module, name) pairs a model file's pickled attributes may refer to.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("collections", "deque"),
        ("collections", "OrderedDict"),
        ("builtins", "slice"),
        ("builtins", "range"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random._pcg64", "PCG64"),
        ("numpy.random._mt19937", "MT19937"),
        ("numpy.random.bit_generator", "SeedSequence"),
        ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
        ("gymnasium.spaces.box", "Box"),
        ("gymnasium.spaces.discrete", "Discrete"),
        ("gymnasium.spaces.multi_discrete", "MultiDiscrete"),
        ("gymnasium.spaces.multi_binary", "MultiBinary"),
        ("gymnasium.spaces.dict", "Dict"),
        ("gymnasium.spaces.tuple", "Tuple"),
        ("stable_baselines3.common.utils", "FloatSchedule"),
        ("stable_baselines3.common.utils", "LinearSchedule"),
        ("stable_baselines3.common.utils", "ConstantSchedule"),
        ("stable_baselines3.common.type_aliases", "TrainFreq"),
        ("stable_baselines3.common.type_aliases", "TrainFrequencyUnit"),
        ("stable_baselines3.common.buffers", "RolloutBuffer"),
        ("stable_baselines3.common.buffers", "DictRolloutBuffer"),
        ("stable_baselines3.common.buffers", "ReplayBuffer"),
        ("stable_baselines3.common.buffers", "DictReplayBuffer"),
        ("sb3_contrib.common.recurrent.buffers", "RecurrentRolloutBuffer"),
        ("sb3_contrib.common.recurrent.buffers", "RecurrentDictRolloutBuffer"),
        ("torch.optim.adam", "Adam"),
        ("torch.optim.adamw", "AdamW"),
        ("torch.optim.rmsprop", "RMSprop"),
        ("torch.optim.sgd", "SGD"),
        ("torch.nn.modules.activation", "ReLU"),
        ("torch.nn.modules.activation", "Tanh"),
    }
)


def _policy_classes() -> set[tuple[str, str]]:
    """(module, name) of every policy class the algorithms of the table accept."""
    from safety_rlhf.agents.algorithms import ALGORITHMS, get_algorithm

    names = set()
    for algo in ALGORITHMS:
        for policy in get_algorithm(algo).policy_aliases.values():
            names.add((policy.__module__, policy.__qualname__))
    return names


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, allowed: set[tuple[str, str]]) -> None:
        super().__init__(io.BytesIO(data))
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            # some Python versions pickle an enum member as getattr(EnumClass, "NAME"):
            # allowed only for a member of an enum class that itself passed the allow-list
            return _enum_member
        if (module, name) not in self.allowed:
            raise UnsafeModelFileError(f"{module}.{name}")
        return super().find_class(module, name)


def _enum_member(cls: Any, name: Any) -> Any:
    """``getattr(cls, name)`` for a member ``name`` of the enum class ``cls`` only."""
    if isinstance(cls, enum.EnumMeta) and isinstance(name, str) and name in cls.__members__:
        return cls.__members__[name]
    raise UnsafeModelFileError(f"builtins.getattr on {cls!r}")


#: The most a model file may unpack to, in bytes: SB3 model files of this package's
#: networks unpack to a few MB; a file that claims gigabytes is broken or hostile.
MAX_UNPACKED_BYTES = 512 * 2**20


def _check_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse an archive that would unpack to more than :data:`MAX_UNPACKED_BYTES`.
    (``zipfile`` stops each member at its declared size, so the declared sizes bound what
    reading can produce.)"""
    total = sum(info.file_size for info in archive.infolist())
    if total > MAX_UNPACKED_BYTES:
        raise ValueError(
            f"{path}: unpacks to {total:,} bytes, more than the {MAX_UNPACKED_BYTES:,} a model "
            "file may hold; refusing to read it"
        )


def safe_custom_objects(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The pickled attributes of an SB3 model file, unpickled through the allow-list.

    :raises UnsafeModelFileError: naming the file, the attribute and the refused name.
    :raises ValueError: if the file is not an SB3 model file.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            _check_sizes(path, archive)
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a Stable-Baselines3 model file ({exc})") from exc
    allowed = set(ALLOWED) | _policy_classes()
    objects: dict[str, Any] = {}
    for key, value in data.items():
        if not (isinstance(value, dict) and ":serialized:" in value):
            continue
        raw = base64.b64decode(value[":serialized:"])
        try:
            objects[key] = _AllowListUnpickler(raw, allowed).load()
        except UnsafeModelFileError as exc:
            raise UnsafeModelFileError(
                f"{path}: attribute {key!r} is a pickle that refers to {exc}, which is not on "
                "the allow-list of safety_rlhf.agents.safe_load; refusing to unpickle it "
                "(unpickling can run code). Load it with SB3 directly only if you trust "
                "whoever made the file."
            ) from None
        except Exception as exc:
            raise ValueError(f"{path}: attribute {key!r} cannot be read: {exc}") from exc
    return objects


def load_model(cls: Any, path: str | os.PathLike[str], device: str = "cpu", env: Any = None) -> Any:
    """``cls.load(path, env=env)`` (an SB3 algorithm class) with no code run from the file.

    :raises UnsafeModelFileError: if the file pickles anything off the allow-list.
    """
    return cls.load(path, env=env, device=device, custom_objects=safe_custom_objects(path))
