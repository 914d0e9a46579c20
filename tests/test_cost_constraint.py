"""The env's cost model and the constraint that penalises it (never gold, unless asked)."""

from __future__ import annotations

import functools
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.agents.lagrangian import (
    LagrangeMultiplier,
    LagrangianCostWrapper,
    VecLagrangianCostWrapper,
)
from safety_rlhf.agents.native_vec_env import make_native_vec_env
from safety_rlhf.envs.strategy_env import SafetyRLHFEnv
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.cli import metrics_table
from safety_rlhf.experiments.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENV_ID = "SafetyRLHF-v0"


def quarter_for_compliance(prompts: list[str], responses: list[str]) -> list[float]:
    """A label-free cost model: 0.25 for a plain compliance ("Sure! Here is exactly..."),
    else 0."""
    return [0.25 if r.startswith("Sure! Here is exactly") else 0.0 for r in responses]


def test_env_reports_the_cost_models_cost_next_to_gold() -> None:
    env = gym.make(ENV_ID, reward_model="gold", cost_model=quarter_for_compliance)
    plain = gym.make(ENV_ID, reward_model="gold")
    env.reset(seed=0), plain.reset(seed=0)
    for action in (0, 1, 3) * 6:
        info = env.step(action)[-1]
        info_plain = plain.step(action)[-1]
        env.reset(), plain.reset()  # one prompt per episode
        assert info["proxy_cost"] == (0.25 if action == 0 else 0.0)
        assert info["cost"] == info_plain["cost"]  # gold, unchanged
        assert "proxy_cost" not in info_plain  # no cost model, no proxy cost
        if info["label"] == "harmful" and action == 1:
            assert info["cost"] == 1.0 and info["proxy_cost"] == 0.0


def test_native_vector_env_reports_the_same_proxy_cost() -> None:
    kwargs = {"reward_model": "rule", "cost_model": "gold"}
    venv = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.vector.SyncVectorEnv(
        [lambda: gym.make(ENV_ID, **kwargs) for _ in range(3)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,  # the native env's default
    )
    venv.reset(seed=5), sync.reset(seed=5)
    seen = 0.0
    for _ in range(15):  # same_step: every step answers a prompt, reported in final_info
        actions = np.array([0, 1, 4])
        i1, i2 = venv.step(actions)[-1]["final_info"], sync.step(actions)[-1]["final_info"]
        assert i1["proxy_cost"].dtype == i2["proxy_cost"].dtype == np.float64
        np.testing.assert_array_equal(i1["proxy_cost"], i2["proxy_cost"])
        np.testing.assert_array_equal(i1["proxy_cost"], i1["cost"])  # gold = the gold cost
        seen += i1["proxy_cost"].sum()
    assert seen > 0


def test_table_cache_keys_the_cost_model(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SAFETY_RLHF_CACHE", str(tmp_path))
    gold = SafetyRLHFEnv(reward_model="rule", cost_model="gold")
    entries = set((tmp_path / "tables").iterdir())
    without = SafetyRLHFEnv(reward_model="rule")  # another entry, no proxy cost in it
    assert without.tables.proxy_cost is None
    assert len(set((tmp_path / "tables").iterdir()) - entries) == 1
    again = SafetyRLHFEnv(reward_model="rule", cost_model="gold")  # from the cache
    np.testing.assert_array_equal(again.tables.proxy_cost, gold.tables.proxy_cost)
    np.testing.assert_array_equal(gold.tables.proxy_cost, gold.tables.cost)


def test_wrapper_penalises_the_proxy_cost_not_gold() -> None:
    """Hand-computed: lambda = 2, proxy cost 0.25 for a plain compliance (gold cost 0 or 1):
    the penalty is 0.5 per compliance whatever the label, 0 for a caveated one."""
    multiplier = LagrangeMultiplier(cost_limit=0.0, init=2.0)
    env = LagrangianCostWrapper(
        gym.make(ENV_ID, reward_model="gold", cost_model=quarter_for_compliance), multiplier
    )
    harmful_seen = False
    for t in range(16):  # one prompt per episode
        env.reset(seed=3 if t == 0 else None)
        action = 0 if t % 2 == 0 else 1
        _, reward, terminated, _, info = env.step(action)
        expected_penalty = 0.5 if action == 0 else 0.0
        assert info["lagrangian_penalty"] == expected_penalty
        assert reward == info["gold_reward"] - expected_penalty
        assert terminated and info["episode_cost"] == expected_penalty / 2.0
        harmful_seen |= info["cost"] == 1.0
    assert harmful_seen  # a step whose gold cost (1) was not what was penalised

    venv = VecLagrangianCostWrapper(
        make_native_vec_env(
            n_envs=2,
            seed=3,
            env_kwargs={"reward_model": "gold", "cost_model": quarter_for_compliance},
        ),
        multiplier,
    )
    venv.reset()
    _, rewards, _, infos = venv.step(np.array([0, 1]))
    assert [i["lagrangian_penalty"] for i in infos] == [0.5, 0.0]
    assert rewards.tolist() == [infos[0]["gold_reward"] - 0.5, infos[1]["gold_reward"]]


def test_wrapper_without_a_cost_model_says_how_to_add_one() -> None:
    env = LagrangianCostWrapper(gym.make(ENV_ID, reward_model="rule"), LagrangeMultiplier(0.1))
    env.reset(seed=0)
    with pytest.raises(KeyError, match=r"'proxy_cost'.*cost_model='learned-cost'"):
        env.step(0)


def _run(tmp_path: Path, name: str, **kwargs) -> train_module.TrainResult:
    cfg = TrainConfig(reward_model="rule", timesteps=512, n_envs=2, cost_limit=0.0,
                      log_dir=str(tmp_path / name), progress_bar=False, eval_freq=0,
                      checkpoint_freq=0, **kwargs)  # fmt: skip
    return train(cfg)


def test_gold_cost_model_reproduces_the_old_gold_penalty(tmp_path: Path, monkeypatch) -> None:
    """``--cost-model gold`` trains the agent the old code trained (which penalised
    ``info["cost"]``), and logs and reports the proxy cost next to the gold cost."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    new = _run(tmp_path, "new", cost_model="gold")
    old_wrapper = functools.partial(VecLagrangianCostWrapper, cost_key="cost")
    monkeypatch.setattr(train_module, "VecLagrangianCostWrapper", old_wrapper)
    old = _run(tmp_path, "old", cost_model="gold")
    assert new.metrics == old.metrics
    for a, b in zip(new.model.policy.parameters(), old.model.policy.parameters(), strict=True):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    for split in ("train", "test"):
        assert new.metrics[split]["proxy_cost"] == new.metrics[split]["cost"]
    assert "proxy_cost" in metrics_table(new.metrics)
    config = yaml.safe_load((new.run_dir / "config.yaml").read_text())
    assert config["run"]["cost_model"] == "gold" and config["env_kwargs"]["cost_model"] == "gold"
    (events_dir,) = {p.parent for p in new.run_dir.rglob("events.out.tfevents*")}
    acc = EventAccumulator(str(events_dir), size_guidance={"scalars": 0})
    acc.Reload()
    assert {"safety/proxy_cost", "safety/cost"} <= set(acc.Tags()["scalars"])
    proxy = [e.value for e in acc.Scalars("safety/proxy_cost")]
    gold = [e.value for e in acc.Scalars("safety/cost")]
    assert proxy == gold


def three_quarters(prompts: list[str], responses: list[str]) -> list[float]:
    """A cost model that charges every response 0.75 (gold charges refusals nothing)."""
    return [0.75] * len(responses)


def test_the_constraint_penalises_the_cost_models_cost(tmp_path: Path) -> None:
    """Hand-computed: every episode's cost is 0.75 under this cost model, so with a limit
    of 0 and ``lagrange_lr`` 0.5 each dual update adds 0.5 * 0.75 to lambda."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = f"{__name__}:three_quarters"
    result = _run(tmp_path, "constant", cost_model=spec)
    assert result.metrics["train"]["proxy_cost"] == 0.75
    config = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert config["env_kwargs"]["cost_model"] == spec
    (events_dir,) = {p.parent for p in result.run_dir.rglob("events.out.tfevents*")}
    acc = EventAccumulator(str(events_dir), size_guidance={"scalars": 0})
    acc.Reload()
    costs = [e.value for e in acc.Scalars("safety/episode_cost")]
    lambdas = [e.value for e in acc.Scalars("safety/lagrange_multiplier")]
    assert costs and all(c == 0.75 for c in costs)
    assert max(lambdas) == pytest.approx(0.375 * len(costs))
    assert TrainConfig().cost_model == "learned-cost"
