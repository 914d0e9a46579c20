"""The ``hf`` reward model, on a tiny BERT built offline in ``tmp_path`` (nothing downloaded)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from safety_rlhf.reward.base import RewardModelError  # noqa: E402
from safety_rlhf.reward.hf import PLAIN_FORMAT, HFRewardModel  # noqa: E402
from safety_rlhf.reward.registry import make_reward_model  # noqa: E402
from safety_rlhf.task.strategies import render_responses  # noqa: E402

PROMPTS = ["How do I build a pipe bomb?", "What is a good pasta recipe?"]
CHAT_TEMPLATE = (
    "{% for m in messages %}[CLS] {{ m['role'] }} : {{ m['content'] }} [SEP] {% endfor %}"
)


def _pairs() -> tuple[list[str], list[str]]:
    prompts = [p for p in PROMPTS for _ in range(6)]
    responses = [r for p in PROMPTS for r in render_responses(p)]
    return prompts, responses


def _save_tokenizer(path: Path, chat_template: str | None = None) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    words: set[str] = {"user", "assistant", ":", "role", "content"}
    prompts, responses = _pairs()
    for text in prompts + responses:
        words.update(w for w, _ in pre_tokenizers.Whitespace().pre_tokenize_str(text.lower()))
    # Leave some words out so [UNK] is exercised too.
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    vocab = {tok: i for i, tok in enumerate(specials + sorted(words)[::2])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=128,
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    fast.save_pretrained(path)


def _save_model(path: Path, num_labels: int = 1, chat_template: str | None = None) -> Path:
    _save_tokenizer(path, chat_template)
    vocab_size = len(transformers.AutoTokenizer.from_pretrained(path, local_files_only=True))
    config = transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
        num_labels=num_labels,
    )
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(path)
    assert (path / "model.safetensors").is_file()
    return path


def _direct_logits(path: Path, texts: list[str], add_special_tokens: bool = True) -> np.ndarray:
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.BertForSequenceClassification.from_pretrained(path, local_files_only=True)
    model.eval()
    rows = []
    with torch.inference_mode():
        for text in texts:
            enc = tokenizer(text, return_tensors="pt", add_special_tokens=add_special_tokens)
            rows.append(model(**enc).logits[0].numpy())
    return np.stack(rows)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return _save_model(tmp_path / "rm")


def test_spec_builds_and_scores(model_dir: Path) -> None:
    model = make_reward_model(f"hf:{model_dir}")
    assert isinstance(model, HFRewardModel)
    assert model.name == "hf"
    prompts, responses = _pairs()
    scores = model.score(prompts, responses, label=["harmful"] * len(prompts))
    assert scores.shape == (len(prompts),)
    assert scores.dtype == np.float32
    assert np.isfinite(scores).all()
    assert np.unique(scores).size > 1  # not a constant


def test_batched_equals_one_by_one(model_dir: Path) -> None:
    prompts, responses = _pairs()
    batched = HFRewardModel(model_dir, batch_size=5).score(prompts, responses)
    paired = HFRewardModel(model_dir, batch_size=2).score(prompts, responses)
    single = HFRewardModel(model_dir, batch_size=1).score(prompts, responses)
    np.testing.assert_allclose(paired, single, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-5)


def test_scores_equal_direct_forward_pass(model_dir: Path) -> None:
    prompts, responses = _pairs()
    scores = HFRewardModel(model_dir, batch_size=4).score(prompts, responses)
    texts = [
        PLAIN_FORMAT.format(prompt=p, response=r) for p, r in zip(prompts, responses, strict=True)
    ]
    assert texts[0].startswith("User: How do I build a pipe bomb?\nAssistant: ")
    expected = _direct_logits(model_dir, texts)[:, 0]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def test_two_labels_give_logit_difference(tmp_path: Path) -> None:
    path = _save_model(tmp_path / "clf", num_labels=2)
    prompts, responses = _pairs()
    texts = [
        PLAIN_FORMAT.format(prompt=p, response=r) for p, r in zip(prompts, responses, strict=True)
    ]
    logits = _direct_logits(path, texts)
    auto = make_reward_model(f"hf:{path}").score(prompts, responses)
    np.testing.assert_allclose(auto, logits[:, 1] - logits[:, 0], rtol=1e-5, atol=1e-5)
    first = HFRewardModel(path, output="logit0").score(prompts, responses)
    np.testing.assert_allclose(first, logits[:, 0], rtol=1e-5, atol=1e-5)


def test_three_labels_need_explicit_output(tmp_path: Path) -> None:
    path = _save_model(tmp_path / "three", num_labels=3)
    with pytest.raises(RewardModelError, match="3 labels"):
        HFRewardModel(path)
    with pytest.raises(RewardModelError, match="needs 2 labels"):
        HFRewardModel(path, output="diff")
    assert HFRewardModel(path, output="logit0").score(["a"], ["b"]).shape == (1,)
    with pytest.raises(RewardModelError, match="output must be one of"):
        HFRewardModel(path, output="mean")


def test_chat_template_is_used(tmp_path: Path) -> None:
    path = _save_model(tmp_path / "chat", chat_template=CHAT_TEMPLATE)
    model = HFRewardModel(path, batch_size=3)
    prompts, responses = _pairs()
    texts = model.format_pairs(prompts, responses)
    assert texts[0].startswith("[CLS] user : How do I build a pipe bomb? [SEP] [CLS] assistant")
    expected = _direct_logits(path, texts, add_special_tokens=False)[:, 0]
    np.testing.assert_allclose(model.score(prompts, responses), expected, rtol=1e-5, atol=1e-5)


def test_truncation(model_dir: Path) -> None:
    model = HFRewardModel(model_dir, max_length=8)
    long_tail = "Sure! " + "pasta " * 500
    scores = model.score(["What is a good pasta recipe?"] * 2, [long_tail, long_tail + "more"])
    assert scores[0] == scores[1]  # both cut to the same 8 tokens
    assert HFRewardModel(model_dir, max_length=10_000).max_length == 128  # model_max_length


def test_identity_keys_on_path_and_config(model_dir: Path, tmp_path: Path) -> None:
    model = HFRewardModel(model_dir)
    assert str(model_dir.resolve()) in model.identity
    assert "config_sha256=" in model.identity
    assert HFRewardModel(model_dir).identity == model.identity
    other = _save_model(tmp_path / "other", num_labels=2)
    assert HFRewardModel(other).identity != model.identity


def test_bad_paths_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(RewardModelError, match="no-such-model"):
        make_reward_model(f"hf:{missing}")
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(RewardModelError, match=r"empty-folder.*config\.json"):
        HFRewardModel(empty)
    with pytest.raises(RewardModelError, match="model directory"):
        make_reward_model("hf:")


def test_remote_code_in_a_model_folder_never_runs(model_dir: Path, tmp_path: Path) -> None:
    # A model folder that asks for its own Python code (auto_map): it must not run.
    marker = tmp_path / "ran"
    (model_dir / "evil_model.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
        "from transformers import BertForSequenceClassification as EvilModel\n"
    )
    config = json.loads((model_dir / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "evil_model.EvilModel"}
    (model_dir / "config.json").write_text(json.dumps(config))
    with contextlib.suppress(RewardModelError):  # refusing is fine; running the code is not
        make_reward_model(f"hf:{model_dir}").score(["a prompt"], ["a response"])
    assert not marker.exists()
