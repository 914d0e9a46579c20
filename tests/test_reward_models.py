"""The reward-model interface: registry, spec parsing, output validation, built-in models."""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np
import pytest

from safety_rlhf.reward import (
    GoldRewardModel,
    RewardModel,
    RewardModelError,
    RuleRewardModel,
    list_reward_models,
    make_reward_model,
    register_reward_model,
)
from safety_rlhf.reward import registry as reward_registry
from safety_rlhf.task.strategies import Strategy, render_responses


class ConstantModel(RewardModel):
    def __init__(self, value: Any = 0.5) -> None:
        self.value = value

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> Any:
        return [self.value] * len(prompts)


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    registry = dict(reward_registry._REGISTRY)
    monkeypatch.setattr(reward_registry, "_REGISTRY", registry)
    return registry


def test_builtins_are_registered() -> None:
    assert {"gold", "rule"} <= set(list_reward_models())


def test_duplicate_name_is_rejected(scratch_registry: dict) -> None:
    register_reward_model("constant-test")(ConstantModel)
    with pytest.raises(ValueError, match="already registered"):
        register_reward_model("constant-test")(ConstantModel)
    with pytest.raises(ValueError, match="already registered"):
        register_reward_model("rule")(ConstantModel)


def test_spec_forms(scratch_registry: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    register_reward_model("constant-test")(ConstantModel)
    assert isinstance(make_reward_model("rule"), RuleRewardModel)
    assert isinstance(make_reward_model(" gold "), GoldRewardModel)
    with_arg = make_reward_model("constant-test:0.25")
    assert isinstance(with_arg, ConstantModel) and with_arg.value == "0.25"
    instance = ConstantModel()
    assert make_reward_model(instance) is instance

    module = types.ModuleType("my_rm_module")
    module.fn = lambda prompts, responses: np.ones(len(prompts))  # type: ignore[attr-defined]
    module.Model = ConstantModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_rm_module", module)
    from_fn = make_reward_model("my_rm_module:fn")
    assert from_fn.score(["p"], ["r"]).tolist() == [1.0]
    assert isinstance(make_reward_model("my_rm_module:Model"), ConstantModel)

    assert make_reward_model(lambda p, r: [2.0] * len(p)).score(
        ["a", "b"], ["c", "d"]
    ).tolist() == [2.0, 2.0]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("no-such-model", "unknown reward model 'no-such-model'"),
        ("", "non-empty"),
        ("no_such_module_xyz:fn", "cannot import 'no_such_module_xyz'"),
        ("safety_rlhf.reward:does_not_exist", "has no attribute 'does_not_exist'"),
        ("safety_rlhf.reward:__all__", "is a list, not a model"),
        (42, "non-empty string"),
    ],
)
def test_bad_specs_are_named(spec: Any, match: str) -> None:
    with pytest.raises(RewardModelError, match=match):
        make_reward_model(spec)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (float("nan"), "pair 0 .*finite"),
        (float("inf"), "pair 0 .*finite"),
        ("high", "dtype"),
    ],
)
def test_invalid_scores_name_model_and_pair(value: Any, match: str) -> None:
    with pytest.raises(RewardModelError, match=match) as info:
        ConstantModel(value).score(["How do I bake bread?"], ["Sure!"])
    assert "ConstantModel" in str(info.value)


def test_wrong_length_and_mismatched_inputs_are_rejected() -> None:
    class Short(ConstantModel):
        def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> Any:
            return [0.0]

    with pytest.raises(RewardModelError, match=r"shape \(1,\) for 2 pairs"):
        Short().score(["a", "b"], ["c", "d"])
    with pytest.raises(RewardModelError, match="2 prompts but 1 responses"):
        ConstantModel().score(["a", "b"], ["c"])
    with pytest.raises(RewardModelError, match="column 'label' has 1 values for 2 pairs"):
        ConstantModel().score(["a", "b"], ["c", "d"], label=["harmful"])


def test_output_is_float32() -> None:
    scores = ConstantModel(1).score(["a", "b"], ["c", "d"])
    assert scores.dtype == np.float32 and scores.tolist() == [1.0, 1.0]


def test_label_free_models_never_receive_gold_columns() -> None:
    seen: list[dict] = []

    class Spy(ConstantModel):
        def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> Any:
            seen.append(columns)
            return [0.0] * len(prompts)

    Spy().score(["a"], ["b"], label=["harmful"], category=["weapons"])
    assert seen == [{}]

    received: list[dict] = []

    def oracle(prompts: list[str], responses: list[str], label: list[str]) -> list[float]:
        received.append({"label": label})
        return [1.0] * len(prompts)

    make_reward_model(oracle).score(["a"], ["b"], label=["benign"], category=["x"])
    assert received == [{"label": ["benign"]}]


def test_rule_model_is_label_free() -> None:
    prompt = "How do I build a pipe bomb?"
    responses = render_responses(prompt)
    rule = RuleRewardModel()
    as_harmful = rule.score([prompt] * 6, responses, label=["harmful"] * 6)
    as_benign = rule.score([prompt] * 6, responses, label=["benign"] * 6)
    np.testing.assert_array_equal(as_harmful, as_benign)
    assert as_harmful.argmax() in (Strategy.REFUSE, Strategy.REFUSE_AND_REDIRECT)


def test_rule_model_answers_unflagged_and_over_refuses_lookalikes() -> None:
    rule = RuleRewardModel()
    pasta = "What is a good pasta recipe for two?"
    assert rule.score([pasta] * 6, render_responses(pasta)).argmax() == Strategy.COMPLY
    process = "How do I kill a Python process?"  # benign, but 'kill' is in the lexicon
    assert rule.score([process] * 6, render_responses(process)).argmax() == Strategy.REFUSE


def test_gold_model_follows_the_gold_table() -> None:
    from safety_rlhf.task.gold_tables import GOLD_REWARD

    gold = GoldRewardModel()
    prompt = "How do I kill a Python process?"
    for label in ("harmful", "benign", "borderline"):
        scores = gold.score([prompt] * 6, render_responses(prompt), label=[label] * 6)
        np.testing.assert_allclose(scores, GOLD_REWARD[label])
    free_text = gold.score([prompt], ["I can't help with that."], label=["benign"])
    assert free_text.tolist() == [GOLD_REWARD["benign"][Strategy.REFUSE]]
    with pytest.raises(RewardModelError, match="needs the 'label' column"):
        gold.score([prompt], ["x"])
    with pytest.raises(RewardModelError, match=r"pair 0 .* has no gold label"):
        gold.score([prompt], ["x"], label=[None])
