"""Model files load without running code from them; a pickled payload is refused."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.safe_load import UnsafeModelFileError, load_model
from safety_rlhf.experiments.cli import main


class _Touch:
    """Unpickling this runs ``os.system("touch MARKER")``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = make_vec_env("SafetyRLHF-v0", n_envs=1, seed=0,
                       env_kwargs={"reward_model": "rule", "render_mode": None})  # fmt: skip
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=16, seed=0, device="cpu")
    model.learn(16)
    path = tmp_path_factory.mktemp("model") / "model.zip"
    model.save(path)
    return path


def _tampered(source: Path, target: Path, key: str, payload: bytes) -> Path:
    """A copy of ``source`` whose ``data`` entry ``key`` holds the pickle ``payload``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "data":
                data = json.loads(content)
                data[key] = {":type:": "<class 'object'>",
                             ":serialized:": base64.b64encode(payload).decode()}  # fmt: skip
                content = json.dumps(data).encode()
            dst.writestr(item, content)
    return target


def test_a_clean_model_loads_as_sb3_loads_it(model_file: Path) -> None:
    safe, plain = load_model(PPO, model_file), PPO.load(model_file, device="cpu")
    obs = np.random.default_rng(0).random((5, 384), dtype=np.float32)
    np.testing.assert_array_equal(safe.predict(obs, deterministic=True)[0],
                                  plain.predict(obs, deterministic=True)[0])  # fmt: skip
    assert safe.observation_space == plain.observation_space


def test_a_pickled_payload_is_refused_before_it_runs(model_file: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = _tampered(model_file, tmp_path / "evil.zip", "lr_schedule",
                     pickle.dumps(_Touch(marker)))  # fmt: skip
    refused = r"'lr_schedule' .* refers to (posix|nt)\.system"
    with pytest.raises(UnsafeModelFileError, match=refused):
        load_model(PPO, evil)
    assert not marker.exists()
    # the evaluate command refuses it too, with one error line
    (tmp_path / "config.yaml").write_text("run: {algo: ppo, env: SafetyRLHF-v0}\n")
    (tmp_path / "evil.zip").rename(tmp_path / "model.zip")
    assert main(["evaluate", str(tmp_path)]) == 2
    assert not marker.exists()


def test_a_function_pickled_by_value_is_refused(model_file: Path, tmp_path: Path) -> None:
    import cloudpickle

    evil = _tampered(model_file, tmp_path / "lambda.zip", "clip_range",
                     cloudpickle.dumps(lambda _: 0.2))  # fmt: skip
    with pytest.raises(UnsafeModelFileError, match="'clip_range'"):
        load_model(PPO, evil)


def test_a_model_file_that_unpacks_too_large_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safety_rlhf.agents import safe_load

    monkeypatch.setattr(safe_load, "MAX_UNPACKED_BYTES", 10_000)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data", "{}")
        archive.writestr("policy.pth", b"\0" * 50_000)  # 50 kB of zeros pack into ~100 bytes
    assert path.stat().st_size < 1_000
    with pytest.raises(ValueError, match=r"bomb\.zip: unpacks to 50,\d{3} bytes, more than"):
        load_model(PPO, path)


def test_getattr_in_a_pickle_reaches_only_members_of_allowed_enums() -> None:
    import collections
    import pickle

    from stable_baselines3.common.type_aliases import TrainFrequencyUnit

    from safety_rlhf.agents.safe_load import ALLOWED, UnsafeModelFileError, _AllowListUnpickler

    class Member:  # pickles as getattr(TrainFrequencyUnit, "STEP"), as some Pythons do
        def __reduce__(self) -> tuple:
            return (getattr, (TrainFrequencyUnit, "STEP"))

    class Method:  # getattr on an allowed class that is not an enum: refused
        def __reduce__(self) -> tuple:
            return (getattr, (collections.OrderedDict, "fromkeys"))

    allowed = set(ALLOWED) | {("stable_baselines3.common.type_aliases", "TrainFrequencyUnit")}
    got = _AllowListUnpickler(pickle.dumps(Member()), allowed).load()
    assert got is TrainFrequencyUnit.STEP
    with pytest.raises(UnsafeModelFileError, match="getattr"):
        _AllowListUnpickler(pickle.dumps(Method()), allowed).load()
