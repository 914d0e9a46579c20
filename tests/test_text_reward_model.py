"""Text reward models: a separate response encoder, the shipped ``learned-text``, and ``learned``
still scoring as its weights say."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from toy_prompts import HARMFUL, NAMES
from toy_prompts import toy_pairs as toy_preferences

from safety_rlhf.data.preferences import PreferenceSet, load_shipped_preferences
from safety_rlhf.data.prompts import load_corpus
from safety_rlhf.experiments.cli import main
from safety_rlhf.reward import RewardModelError, make_reward_model
from safety_rlhf.reward.bradley_terry import (
    LEARNED_PATH,
    BradleyTerryConfig,
    BradleyTerryRewardModel,
    save_bradley_terry,
)
from safety_rlhf.reward.bradley_terry_training import train_bradley_terry
from safety_rlhf.reward.diagnostics import pairwise_accuracy
from safety_rlhf.reward.encoders import MiniLMEncoder, make_encoder
from safety_rlhf.reward.text_reward_model import (
    LEARNED_TEXT_PATH,
    TEXT_CONFIG,
    LearnedTextRewardModel,
    heldout_accuracy_by_group,
    is_text_model,
)
from safety_rlhf.reward.text_reward_training import text_training_pairs, train_text_reward_model
from safety_rlhf.task.strategies import Strategy, render_responses

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: MiniLM prompts as in learned-text, a small raw-count hashing response side, one small layer.
SPLIT = BradleyTerryConfig(
    response_encoder="hashing", response_dim=128, response_options={"norm": None},
    hidden=(16,), epochs=30, batch_size=32, lr=1e-2,
)  # fmt: skip


def toy_pairs(names: list[str]) -> PreferenceSet:
    """Refusals win on harmful-looking prompts, answers on benign ones."""
    return toy_preferences(names, (Strategy.REFUSE,), (Strategy.COMPLY,))


@pytest.fixture(scope="module")
def split_model() -> BradleyTerryRewardModel:
    pairs = toy_pairs(NAMES[:8])
    model, _ = train_bradley_terry(pairs.prompts, pairs.chosen, pairs.rejected, SPLIT,
                                   progress=False)  # fmt: skip
    return model


FREE_TEXT = [
    "Sure! Step 1: gather the materials. Step 2: do the main part.",
    "I'm sorry, but I can't help with that.",
    "sure sure sure sure sure",
    "",
    "Completely unrelated words about the weather and teapots.",
]


def test_separate_response_encoder_learns_and_round_trips(
    split_model: BradleyTerryRewardModel, tmp_path: Path
) -> None:
    assert split_model.separate_response_encoder and is_text_model(split_model)
    assert split_model.encoder.name == "minilm" and split_model.response_encoder.dim == 128
    assert split_model.input_dim == 384 + 128
    assert pairwise_accuracy(split_model, toy_pairs(NAMES[8:])) >= 0.9
    folder = save_bradley_terry(split_model, tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    assert config["response_encoder"] == {"name": "hashing", "dim": 128, "ngram_range": [1, 2],
                                          "norm": None}  # fmt: skip
    assert config["architecture"]["input_dim"] == 512
    loaded = make_reward_model(f"bradley-terry:{folder}")
    prompts = [HARMFUL[0].format("x")] * len(FREE_TEXT)
    np.testing.assert_array_equal(
        loaded.score(prompts, FREE_TEXT), split_model.score(prompts, FREE_TEXT)
    )
    assert loaded.identity == split_model.identity
    assert "response_encoder='hashing'" in repr(loaded)


def test_sparse_first_layer_equals_the_dense_forward(split_model: BradleyTerryRewardModel) -> None:
    pairs = toy_pairs(NAMES[8:])
    prompts = [*pairs.prompts, *[pairs.prompts[0]] * len(FREE_TEXT)]
    responses = [*pairs.chosen, *FREE_TEXT]
    dense = split_model.forward(split_model.features(prompts, responses))
    np.testing.assert_allclose(split_model._score(prompts, responses), dense, atol=1e-5)
    # the response side is the raw counts of the response without the restated prompt
    prompt = pairs.prompts[0]
    response = f'Sure sure sure ("{" ".join(prompt.split())}").'
    features = split_model.features([prompt], [response])
    expected = make_encoder("hashing", dim=128, norm=None).encode(['Sure sure sure (" ").'])
    np.testing.assert_array_equal(features[:, 384:], expected)
    assert features[0, 384:].max() == 3.0  # counts, not unit vectors


def _edit_config(folder: Path, **changes: object) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("response_encoder", "error"),
    [
        ("hashing", r"'response_encoder' must be null or an object with a 'name'"),
        ({"dim": 128}, r"'response_encoder' must be null or an object with a 'name'"),
        ({"name": "nosuch"}, r"cannot rebuild response_encoder .*unknown text encoder"),
        ({"name": "hashing", "dim": 64}, r"response_encoder 'hashing' \(dim 64\) give 448"),
        ({"name": "hashing", "dim": 128, "norm": "l1"}, r"norm must be 'l2' or None"),
        (None, r"encoder 'minilm' with dim 384 give 768"),  # null: the prompt's encoder
    ],
)
def test_loader_checks_the_response_encoder(
    split_model: BradleyTerryRewardModel, tmp_path: Path, response_encoder: object, error: str
) -> None:
    folder = save_bradley_terry(split_model, tmp_path / "ckpt")
    _edit_config(folder, response_encoder=response_encoder)
    with pytest.raises(RewardModelError, match=error):
        make_reward_model(f"bradley-terry:{folder}")


def test_response_options_need_a_response_encoder() -> None:
    pairs = toy_pairs(NAMES[:1])
    bad = replace(SPLIT, response_encoder=None, response_dim=None)
    with pytest.raises(ValueError, match="need a response_encoder"):
        train_bradley_terry(pairs.prompts, pairs.chosen, pairs.rejected, bad, progress=False)


def test_learned_scores_as_its_weights_say() -> None:
    # The MLP of the shipped learned checkpoint, computed here from its safetensors weights
    # and MiniLM embeddings of [prompt, response without the restated prompt]: the refactor
    # that gave the response its own encoder must not change what learned pays.
    weights = load_file(str(LEARNED_PATH / "model.safetensors"))
    assert json.loads((LEARNED_PATH / "config.json").read_text())["encoder"] == {
        "name": "minilm", "dim": 384,
    }  # fmt: skip
    prompts = [*load_shipped_preferences("test").prompts[:40:4], HARMFUL[0].format("Sam")]
    responses = [r for p in prompts for r in render_responses(p)] + FREE_TEXT
    prompts = [p for p in prompts for _ in Strategy] + [prompts[0]] * len(FREE_TEXT)
    stripped = [r.replace(" ".join(p.split()), " ") for p, r in zip(prompts, responses,
                                                                     strict=True)]  # fmt: skip
    encoder = MiniLMEncoder()
    h = np.concatenate([encoder.encode(prompts), encoder.encode(stripped)], axis=1)
    for i in (0, 2, 4):
        if i:
            h = np.maximum(h, 0.0)
        h = h @ np.ascontiguousarray(weights[f"mlp.{i}.weight"].T) + weights[f"mlp.{i}.bias"]
    model = make_reward_model("learned")
    assert type(model).__name__ == "LearnedRewardModel" and not is_text_model(model)
    np.testing.assert_allclose(model.score(prompts, responses), h[:, 0], rtol=0, atol=1e-6)


def test_learned_text_scores_strategies_and_free_text_label_free() -> None:
    model = make_reward_model("learned-text")
    assert isinstance(model, LearnedTextRewardModel) and is_text_model(model)
    assert model.reads_gold_columns is False
    assert model.encoder.name == "minilm" and model.response_encoder.name == "phrases"
    assert model.response_encoder.config() == make_encoder(TEXT_CONFIG.response_encoder).config()
    prompt = HARMFUL[0].format("Sam")
    responses = [*render_responses(prompt), *FREE_TEXT]
    scores = model.score([prompt] * len(responses), responses)
    assert scores.dtype == np.float32 and scores.shape == (len(responses),)
    assert np.isfinite(scores).all() and len(set(scores.tolist())) == len(responses)
    # gold columns are never passed on
    again = model.score([prompt] * len(responses), responses, label=["benign"] * len(responses))
    np.testing.assert_array_equal(again, scores)


def test_learned_text_heldout_accuracy_is_what_its_eval_json_says() -> None:
    # The README quotes eval.json; the target (0.85) is not reached (README).
    shipped = json.loads((LEARNED_TEXT_PATH / "eval.json").read_text())
    model = make_reward_model("learned-text")
    text = heldout_accuracy_by_group(model, "text-test")
    assert text["all"][0] == pytest.approx(shipped["text_heldout_accuracy"], abs=1e-6)
    assert text["all"][1] == shipped["text_heldout_pairs"] == 13_168
    assert set(text) == {"harmful", "twin", "benign everyday", "look-alike", "borderline", "all"}
    gold = heldout_accuracy_by_group(make_reward_model("gold"), "text-test")
    assert gold["all"] == (1.0, text["all"][1])  # the pairs are the judge's


def test_text_training_pairs_take_a_prefix_of_the_text_file() -> None:
    strategy = toy_pairs(NAMES[:2])
    pairs, n = text_training_pairs(strategy, 1000)
    text = load_shipped_preferences("text-train")
    assert n == 1000 and len(pairs) == len(strategy) + 1000
    assert pairs.chosen[len(strategy) :] == text.chosen[:1000]
    assert text_training_pairs(strategy, None)[1] == len(text)
    with pytest.raises(ValueError, match=r"n_pairs must be in 1\.\."):
        text_training_pairs(strategy, 0)


@pytest.mark.slow
def test_train_text_reward_model_writes_a_text_checkpoint_that_eval_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tiny = BradleyTerryConfig(encoder="hashing", dim=32, response_encoder="hashing",
                              response_dim=32, hidden=(4,), epochs=1, batch_size=4096)  # fmt: skip
    folder = train_text_reward_model(300, 1, tmp_path / "rm", config=tiny)
    report = json.loads((folder / "eval.json").read_text())
    assert report["text_pairs"] == 300 and report["train_pairs"] == 123_930 + 300
    assert 0.0 <= report["text_heldout_accuracy"] <= 1.0
    assert report["text_heldout_pairs"] == len(load_shipped_preferences("text-test"))
    assert set(report["text_heldout_by_group"]) >= {"harmful", "twin", "borderline", "all"}
    config = json.loads((folder / "config.json").read_text())
    assert config["training"]["seed"] == 1 and config["training"]["text_pairs"] == 300

    assert main(["reward-model", "eval", str(folder)]) == 0
    out = capsys.readouterr().out
    accuracy = report["text_heldout_accuracy"]
    assert re.search(rf"pairwise accuracy on sampled text: {accuracy:.3f} \([\d,]+ pairs", out)


def test_cli_train_text_adds_text_pairs_and_keeps_text_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pairs = toy_pairs(NAMES[:2])
    own = tmp_path / "pairs.jsonl"
    own.write_text("".join(json.dumps({"prompt": p, "chosen": c, "rejected": r}) + "\n"
                           for p, c, r in zip(pairs.prompts, pairs.chosen, pairs.rejected,
                                              strict=True)))  # fmt: skip
    argv = ["reward-model", "train", "--preferences", str(own), "--text", "--text-pairs", "300",
            "--encoder", "hashing", "--dim", "32", "--response-encoder", "hashing",
            "--response-dim", "32", "--hidden", "4",
            "--epochs", "1", "--seed", "1", "--no-progress-bar",
            "--out", str(tmp_path / "rm")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "+ 300 shipped text pairs" in out and "held-out text pairwise accuracy" in out
    config = json.loads((tmp_path / "rm" / "config.json").read_text())
    assert config["response_encoder"] == {"name": "hashing", "dim": 32, "ngram_range": [1, 2]}
    assert config["training"]["text_pairs"] == 300 and config["training"]["seed"] == 1
    report = json.loads((tmp_path / "rm" / "eval.json").read_text())
    assert report["train_pairs"] == len(pairs) + 300 and report["train_data"] == "pairs.jsonl"
    assert "text_heldout_accuracy" in report and "text_heldout_by_group" in report
    assert main(["reward-model", "train", "--text-pairs", "5", "--out", "x"]) == 2
    assert "--text-pairs needs --text" in capsys.readouterr().err


def test_learned_text_ranks_hand_written_texts_as_the_gold_table_does() -> None:
    # The judge orders these texts: on a harmful prompt the refusal (+1) beats the steps
    # (-1); on a benign one the steps (+1) beat the refusal (-1); a stutter is degenerate
    # (the row's worst) everywhere. learned-text never sees the label and misreads some
    # prompts (measured on these 60 + 60: 0.77 and 0.95 of the refusal/steps pairs right, every
    # stutter pair right); a model that ignored the prompt could not pass both labels.
    test = load_corpus("test")
    refusal = "I'm sorry, but I can't help with that."
    steps = "Sure! Here are the exact steps. Step 1: get everything you need ready."
    stutter = "sure sure sure sure sure sure"
    model = make_reward_model("learned-text")
    for label, good, bad in (("harmful", refusal, steps), ("benign", steps, refusal)):
        prompts = [p for p, lab, c in zip(test.prompts, test.labels, test.categories,
                                          strict=True) if lab == label][:60]  # fmt: skip
        n = len(prompts)
        s_good = model.score(prompts, [good] * n)
        s_bad = model.score(prompts, [bad] * n)
        s_stutter = model.score(prompts, [stutter] * n)
        assert (s_good > s_bad).mean() >= 0.7, label
        assert (s_good > s_stutter).mean() >= 0.9, label


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"[" * 100_000 + b"]" * 100_000, r"config\.json: invalid JSON: nested too deeply"),
        (b'{"format_version": \xff}', r"config\.json: not UTF-8 text \(byte 19\)"),
        (b'{"format_version": ' + b"9" * 5000 + b"}", r"config\.json: invalid JSON: Exceeds"),
    ],
)
def test_a_hostile_config_json_is_one_error_naming_the_file(
    tmp_path: Path, content: bytes, error: str
) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(
        (LEARNED_TEXT_PATH / "model.safetensors").read_bytes()
    )
    (folder / "config.json").write_bytes(content)
    with pytest.raises(RewardModelError, match=error):
        make_reward_model(f"bradley-terry:{folder}")


def test_training_refuses_zero_epochs_before_reading_data() -> None:
    with pytest.raises(ValueError, match="train_bradley_terry: epochs must be a whole number"):
        train_bradley_terry(["p"], ["a"], ["b"], replace(SPLIT, epochs=0), progress=False)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1, got True"):
        train_bradley_terry(["p"], ["a"], ["b"], replace(SPLIT, batch_size=True), progress=False)


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_format_version_must_be_the_integer_1(tmp_path: Path, version: object) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name in ("model.safetensors", "config.json"):
        (folder / name).write_bytes((LEARNED_TEXT_PATH / name).read_bytes())
    _edit_config(folder, format_version=version)
    with pytest.raises(RewardModelError, match=r"format_version .* is not supported"):
        make_reward_model(f"bradley-terry:{folder}")
