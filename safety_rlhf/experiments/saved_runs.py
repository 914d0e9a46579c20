"""What a run folder's ``config.yaml`` may name: data, never code.

Run folders are shared (downloaded results, colleagues' runs, benchmark outputs), so
``safety-rlhf evaluate RUN`` and ``safety-rlhf train --resume RUN`` read their
``config.yaml`` as untrusted input, like ``model.zip``. Every value of it that could make
the package import or run code, or read a file elsewhere, is checked here before anything
is built:

* **reward and cost models** (``reward_model``, ``cost_model``, also inside
  ``env_kwargs``): only registered names and ``NAME:ARGUMENT`` of registered kinds
  (:func:`~safety_rlhf.reward.registry.check_spec_from_file`); a ``package.module:object``
  spec is refused, with how to pass it explicitly (``--reward-model`` / ``--cost-model``);
* **the env id**: a registered id, bare or ``safety_rlhf:ID``; ``other.module:ID`` would
  import ``other.module`` and is refused;
* **paths** (``env_kwargs.prompts``, checkpoint folders in ``bradley-terry:``, ``hf:`` and
  ``classifier:`` specs): resolved against the run folder and refused if they leave it.

The algorithm and its hyperparameters are data already: the algorithm is looked up in the
package's table, the hyperparameters are checked against its constructor, and the ``policy``
must be one of the algorithm's own SB3 aliases (``MlpPolicy``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safety_rlhf.agents.algorithms import get_algorithm
from safety_rlhf.reward.cost import check_cost_spec_from_file
from safety_rlhf.reward.registry import check_spec_from_file, inside

__all__ = ["check_saved_env_id", "check_saved_settings"]

#: The package whose ``package:ID`` env ids a run folder may name.
OWN_PACKAGE = "safety_rlhf"


def check_saved_env_id(env_id: object, source: str) -> str:
    """``env_id`` if a run folder may name it: no module to import but the package's own.

    :raises ValueError: naming ``source``.
    """
    if not isinstance(env_id, str) or not env_id.strip():
        raise ValueError(f"{source}: env must be a non-empty string, got {env_id!r}")
    module, sep, _ = env_id.rpartition(":")
    if sep and module != OWN_PACKAGE:
        raise ValueError(
            f"{source}: env {env_id!r} would import the module {module!r}; a run folder may "
            f"only name registered env ids (or '{OWN_PACKAGE}:ID')"
        )
    return env_id


def check_saved_settings(
    run: Mapping[str, Any], env_kwargs: Mapping[str, Any], run_dir: Path, source: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run, env_kwargs)`` of a saved config, checked, with paths resolved inside
    ``run_dir``; see the module docstring for the rules.

    :param run: the config's ``run`` mapping (the saved :class:`TrainConfig` fields).
    :param env_kwargs: the config's ``env_kwargs`` mapping.
    :param run_dir: the run folder the config belongs to.
    :param source: the config file, for messages.
    :raises ValueError: one line naming ``source`` and the key (``RewardModelError`` for a
        model spec).
    """
    run, env_kwargs = dict(run), dict(env_kwargs)
    if "policy" in run and "algo" in run:  # SB3 policy aliases only, never an import path
        try:
            aliases = sorted(get_algorithm(str(run["algo"])).policy_aliases)
        except ValueError as exc:
            raise ValueError(f"{source}: run: {exc}") from exc
        if run["policy"] not in aliases:
            raise ValueError(
                f"{source}: run: policy {run['policy']!r} is not one of {run['algo']}'s "
                f"policies ({', '.join(aliases)})"
            )
    if "env" in run:
        run["env"] = check_saved_env_id(run["env"], f"{source}: run")
    for where, values in (("run", run), ("env_kwargs", env_kwargs)):
        if values.get("reward_model") is not None:
            values["reward_model"] = check_spec_from_file(
                values["reward_model"], f"{source}: {where}.reward_model", base_dir=run_dir
            )
        if values.get("cost_model") is not None:
            values["cost_model"] = check_cost_spec_from_file(
                values["cost_model"], f"{source}: {where}.cost_model", base_dir=run_dir
            )
    prompts = env_kwargs.get("prompts")
    if prompts is not None:
        if not isinstance(prompts, str):
            raise ValueError(f"{source}: env_kwargs.prompts must be a path, got {prompts!r}")
        env_kwargs["prompts"] = inside(prompts, run_dir, f"{source}: env_kwargs.prompts")
    return run, env_kwargs
