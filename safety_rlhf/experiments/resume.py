"""Resuming a train run: its settings read back from its own folder, checked against the
checkpoint it resumes from (untrusted input: nothing in it names code or a file outside)."""

from __future__ import annotations

import inspect
import json
import math
import os
import zipfile
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import yaml

from safety_rlhf.agents.algorithms import get_algorithm
from safety_rlhf.agents.checkpoints import read_checkpoint
from safety_rlhf.experiments.saved_runs import check_saved_settings
from safety_rlhf.experiments.train_config import TrainConfig

__all__ = ["resume_config"]


def resume_config(run_dir: str | os.PathLike[str]) -> TrainConfig:
    """The :class:`TrainConfig` of a run folder, from its own ``config.yaml``, set to resume.

    The saved, resolved settings (``run`` and ``algo_kwargs``) are carried in
    ``hyperparams``, so :func:`resolve` reproduces them whatever the hyperparameter YAMLs
    say today.

    :raises FileNotFoundError: when the run folder has no ``config.yaml``.
    :raises ValueError: naming ``config.yaml`` when it is malformed, or when it does not
        match the checkpoint's model (another algorithm, other settings, other ``n_envs``).
    """
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; cannot resume without the run's settings")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from exc
    saved = config.get("run") if isinstance(config, dict) else None
    algo_kwargs = config.get("algo_kwargs") if isinstance(config, dict) else None
    if not isinstance(saved, dict) or not isinstance(algo_kwargs, dict):
        raise ValueError(f"{path}: expected the mappings 'run' and 'algo_kwargs' of a train run")
    env_kwargs = saved.get("env_kwargs") or {}
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"{path}: run: env_kwargs must be a mapping")
    # untrusted: names no code, reads no file outside the run folder
    saved, saved["env_kwargs"] = check_saved_settings(saved, env_kwargs, Path(run_dir), str(path))
    types = {f.name: f for f in fields(TrainConfig)}
    missing = sorted({"algo", "env", "seed", "n_envs", "n_timesteps", "policy"} - set(saved))
    if missing:
        raise ValueError(f"{path}: run: missing key(s) {missing}")
    try:
        cls = get_algorithm(str(saved["algo"]))
    except ValueError as exc:
        raise ValueError(f"{path}: run: {exc}") from exc
    foreign = sorted(set(algo_kwargs) - set(inspect.signature(cls.__init__).parameters))
    if foreign:
        raise ValueError(
            f"{path}: does not match the checkpoint: algo_kwargs {foreign} are not "
            f"{cls.__name__} arguments"
        )
    kept = {k: v for k, v in saved.items() if k in types and k not in ("resume", "hyperparams")}
    kept.update(timesteps=saved["n_timesteps"], n_envs=saved["n_envs"])
    hyper = {**algo_kwargs, "policy": saved["policy"]}
    try:
        cfg = TrainConfig(**kept)
    except TypeError as exc:
        raise ValueError(f"{path}: run: {exc}") from exc
    cfg = replace(cfg, hyperparams=hyper, resume=str(run_dir), log_dir=str(Path(run_dir).parent))
    _check_matches_checkpoint(path, cfg, algo_kwargs)
    return cfg


def _check_matches_checkpoint(path: Path, cfg: TrainConfig, algo_kwargs: dict[str, Any]) -> None:
    """Compare the saved settings with the checkpoint model's own record of them (the
    ``data`` JSON of SB3's zip, read without unpickling anything)."""
    checkpoint = read_checkpoint(cfg.resume or ".")
    try:
        with zipfile.ZipFile(checkpoint["model"]) as archive:
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{checkpoint['model']}: unreadable checkpoint model: {exc}") from exc
    expected = {**algo_kwargs, "n_envs": cfg.n_envs}
    wrong = []
    for key, value in expected.items():
        if key not in data:  # a setting this algorithm's model does not have
            wrong.append(f"{key}={value!r} (checkpoint: none)")
            continue
        found = data[key]
        scalars = [v for v in (value, found) if isinstance(v, int | float) and v is not True]
        if len(scalars) < 2 or isinstance(value, bool) or isinstance(found, bool):
            continue  # schedules, policy_kwargs, train_freq: stored in other shapes
        if not math.isclose(found, value, rel_tol=1e-9):
            wrong.append(f"{key}={value!r} (checkpoint: {found!r})")
    if wrong:
        raise ValueError(
            f"{path}: does not match the checkpoint {checkpoint['model'].name} "
            f"({cfg.algo}): {', '.join(wrong)}"
        )
