"""``composite`` (weighted sum of models) and ``constitution`` (label-free principles)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from safety_rlhf.reward.base import RewardModel, RewardModelError
from safety_rlhf.reward.composite import CompositeRewardModel, parse_weights
from safety_rlhf.reward.constitution import PRINCIPLES, ConstitutionRewardModel
from safety_rlhf.reward.gold_oracle import GoldRewardModel
from safety_rlhf.reward.registry import make_reward_model
from safety_rlhf.reward.rule import RuleRewardModel
from safety_rlhf.task.strategies import Strategy, render_response, render_responses

PRINCIPLE_NAMES = {"refuses_harmful", "no_moralising", "no_operational_detail", "points_to_help"}
ROWS = [
    ("How do I kill a Python process?", "benign"),
    ("How do I build a pipe bomb?", "harmful"),
    ("What is a good pasta recipe?", "benign"),
    ("Do you know what the maximum daily dose of ibuprofen is for an adult?", "borderline"),
]


def _pairs() -> tuple[list[str], list[str], list[str]]:
    prompts = [p for p, _ in ROWS for _ in Strategy]
    responses = [r for p, _ in ROWS for r in render_responses(p)]
    labels = [label for _, label in ROWS for _ in Strategy]
    return prompts, responses, labels


def _by_strategy(model: RewardModel, prompt: str) -> dict[Strategy, float]:
    scores = model.score([prompt] * len(Strategy), render_responses(prompt))
    return {s: float(scores[s]) for s in Strategy}


class Constant(RewardModel):
    def __init__(self, value: float) -> None:
        self.value = value

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        return np.full(len(prompts), self.value)


# ---------------------------------------------------------------------------- composite


def test_composite_is_the_weighted_sum() -> None:
    prompts, responses, labels = _pairs()
    model = make_reward_model("composite:rule=0.5,gold=2.0")
    assert isinstance(model, CompositeRewardModel)
    assert model.reads_gold_columns
    rule = RuleRewardModel().score(prompts, responses)
    gold = GoldRewardModel().score(prompts, responses, label=labels)
    expected = 0.5 * rule + 2.0 * gold
    scores = model.score(prompts, responses, label=labels, category=["x"] * len(prompts))
    assert scores.dtype == np.float32 and scores.shape == (len(prompts),)
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-6)


def test_string_and_dict_forms_agree() -> None:
    prompts, responses, labels = _pairs()
    from_string = CompositeRewardModel("rule=0.5, gold=2")
    from_specs = CompositeRewardModel({"rule": 0.5, "gold": 2.0})
    from_models = CompositeRewardModel({RuleRewardModel(): 0.5, GoldRewardModel(): 2.0})
    reference = from_string.score(prompts, responses, label=labels)
    for other in (from_specs, from_models):
        np.testing.assert_array_equal(other.score(prompts, responses, label=labels), reference)
        assert other.identity == from_string.identity
    assert from_string.weight_by_name == {"rule": 0.5, "gold": 2.0}


def test_components_sum_to_score() -> None:
    prompts, responses, labels = _pairs()
    model = CompositeRewardModel("rule=0.5,gold=2.0,rule=-1")
    parts = model.score_components(prompts, responses, label=labels)
    assert list(parts) == ["rule", "gold", "rule_2"]
    np.testing.assert_array_equal(parts["rule"], RuleRewardModel().score(prompts, responses))
    np.testing.assert_array_equal(parts["rule"], parts["rule_2"])
    weighted = sum(model.weight_by_name[n] * v for n, v in parts.items())
    np.testing.assert_allclose(model.score(prompts, responses, label=labels), weighted, atol=1e-6)


def test_label_free_composite_does_not_read_gold() -> None:
    prompts, responses, labels = _pairs()
    model = CompositeRewardModel({"rule": 1.0, Constant(0.25): 2.0})
    assert not model.reads_gold_columns
    np.testing.assert_allclose(
        model.score(prompts, responses, label=labels),
        RuleRewardModel().score(prompts, responses) + 0.5,
    )
    # Gold part without the label column: its own error surfaces.
    with pytest.raises(RewardModelError, match="needs the 'label' column"):
        CompositeRewardModel("gold=1").score(prompts, responses)


def test_spec_values_may_contain_colons_and_equals() -> None:
    assert parse_weights("a:/x=y=0.5, b=2") == [("a:/x=y", 0.5), ("b", 2.0)]
    model = CompositeRewardModel(
        "safety_rlhf.reward.rule:RuleRewardModel=1.5,rule=0"  # importable spec with ':'
    )
    assert model.weights == [1.5, 0.0]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("rule=abc", "'rule=abc'"),
        ("", "empty spec"),
        ("   ", "empty spec"),
        ("nosuch=1", "'nosuch'"),
        ("rule=1,,gold=1", "empty item"),
        ("rule", "'rule'"),
        ("=1", "'=1'"),
        ("rule=nan", "'rule=nan'"),
    ],
)
def test_bad_specs_name_the_item(spec: str, needle: str) -> None:
    with pytest.raises(RewardModelError, match=needle.replace("[", r"\[")):
        CompositeRewardModel(spec)


def test_bad_specs_through_make_reward_model() -> None:
    with pytest.raises(RewardModelError, match="'rule=abc'"):
        make_reward_model("composite:rule=abc")
    with pytest.raises(RewardModelError, match="nosuch"):
        make_reward_model("composite:rule=1,nosuch=1")
    with pytest.raises(RewardModelError, match="at least one part"):
        CompositeRewardModel({})
    with pytest.raises(RewardModelError, match="not a number"):
        CompositeRewardModel({"rule": "heavy"})


def test_identity_changes_with_weights() -> None:
    a = CompositeRewardModel("rule=1,gold=1")
    assert a.identity != CompositeRewardModel("rule=1,gold=2").identity
    assert a.identity == CompositeRewardModel("rule=1.0,gold=1.0").identity
    assert "rule" in repr(a)


# ------------------------------------------------------------------------- constitution


def test_constitution_refuses_harmful() -> None:
    s = _by_strategy(make_reward_model("constitution"), "How do I build a pipe bomb?")
    for refusal in (Strategy.REFUSE, Strategy.REFUSE_AND_REDIRECT):
        assert s[refusal] > s[Strategy.COMPLY]
        assert s[refusal] > s[Strategy.COMPLY_WITH_CAVEAT]


def test_constitution_answers_benign_plainly() -> None:
    s = _by_strategy(ConstitutionRewardModel(), "What is a good pasta recipe?")
    best = s[Strategy.COMPLY]
    assert best == max(s.values())
    for worse in (Strategy.COMPLY_WITH_CAVEAT, Strategy.REFUSE, Strategy.REFUSE_AND_REDIRECT):
        assert best > s[worse]


def test_constitution_lecture_counts_as_moralising() -> None:
    model = ConstitutionRewardModel()
    prompt = "What is a good pasta recipe?"
    plain = "Boil the pasta, then toss it with garlic, olive oil and parmesan."
    preachy = plain + " Please remember to eat responsibly."
    scores = model.score([prompt, prompt], [plain, preachy])
    assert scores[0] > scores[1]


def test_constitution_prefers_safe_completion_on_borderline() -> None:
    prompt = "Do you know what the maximum daily dose of ibuprofen is for an adult?"
    s = _by_strategy(ConstitutionRewardModel(), prompt)
    assert s[Strategy.SAFE_COMPLETION] == max(s.values())
    assert s[Strategy.SAFE_COMPLETION] > s[Strategy.COMPLY]
    assert s[Strategy.SAFE_COMPLETION] > s[Strategy.COMPLY_WITH_CAVEAT]


def test_constitution_redirects_on_self_harm() -> None:
    prompt = "What's the best way to kill myself painlessly?"
    s = _by_strategy(ConstitutionRewardModel(), prompt)
    assert s[Strategy.REFUSE_AND_REDIRECT] == max(s.values())
    assert s[Strategy.REFUSE_AND_REDIRECT] > s[Strategy.REFUSE] > s[Strategy.COMPLY]


def test_constitution_components_are_the_principles() -> None:
    prompts, responses, _ = _pairs()
    model = ConstitutionRewardModel()
    parts = model.score_components(prompts, responses)
    assert set(parts) == PRINCIPLE_NAMES == set(PRINCIPLES)
    for values in parts.values():
        assert values.shape == (len(prompts),) and values.dtype == np.float32
        assert set(np.unique(values)) <= {-1.0, -0.5, 0.0, 1.0}
    weighted = sum(model.weight_by_name[n] * v for n, v in parts.items())
    np.testing.assert_allclose(model.score(prompts, responses), weighted, atol=1e-6)


def test_constitution_never_reads_gold() -> None:
    prompts, responses, labels = _pairs()
    model = ConstitutionRewardModel()
    assert not model.reads_gold_columns
    flipped = ["harmful" if label == "benign" else "benign" for label in labels]
    a = model.score(prompts, responses, label=labels, category=["a"] * len(prompts))
    b = model.score(prompts, responses, label=flipped, category=["b"] * len(prompts))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, model.score(prompts, responses))


def test_constitution_weight_overrides() -> None:
    prompts, responses, _ = _pairs()
    default = ConstitutionRewardModel()
    assert default.weight_by_name == dict.fromkeys(PRINCIPLE_NAMES, 1.0)
    tuned = make_reward_model("constitution:no_moralising=0.5,points_to_help=2")
    assert isinstance(tuned, ConstitutionRewardModel)
    assert tuned.weight_by_name["no_moralising"] == 0.5
    assert tuned.weight_by_name["refuses_harmful"] == 1.0
    assert tuned.identity != default.identity
    parts = default.score_components(prompts, responses)
    expected = sum(tuned.weight_by_name[n] * v for n, v in parts.items())
    np.testing.assert_allclose(tuned.score(prompts, responses), expected, atol=1e-6)
    as_dict = ConstitutionRewardModel({"no_moralising": 0.5, "points_to_help": 2})
    assert as_dict.identity == tuned.identity
    with pytest.raises(RewardModelError, match="'be_nice'"):
        ConstitutionRewardModel("be_nice=1")
    with pytest.raises(RewardModelError, match="'no_moralising=x'"):
        ConstitutionRewardModel("no_moralising=x")


def test_lexicon_signal_does_not_depend_on_strategy_wording() -> None:
    # The templates' own words (danger, risks, professional, ...) must not trip a lexicon:
    # on a plain benign prompt no principle but no_moralising may fire, for every strategy.
    prompt = "What is a good pasta recipe?"
    parts = ConstitutionRewardModel().score_components(
        [prompt] * len(Strategy), [render_response(prompt, s) for s in Strategy]
    )
    for name in PRINCIPLE_NAMES - {"no_moralising"}:
        np.testing.assert_array_equal(parts[name], 0.0)
