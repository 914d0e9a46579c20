"""Bradley-Terry reward models: training, determinism, checkpoints, and the shipped model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from toy_prompts import NAMES, toy_pairs

from safety_rlhf.data.preferences import PreferenceSet, load_shipped_preferences
from safety_rlhf.data.prompts import load_prompts
from safety_rlhf.reward import make_reward_model
from safety_rlhf.reward.base import RewardModelError
from safety_rlhf.reward.bradley_terry import (
    LEARNED_PATH,
    BradleyTerryConfig,
    BradleyTerryRewardModel,
    pair_features,
    save_bradley_terry,
)
from safety_rlhf.reward.bradley_terry_training import BradleyTerryNet, train_bradley_terry
from safety_rlhf.reward.diagnostics import pairwise_accuracy
from safety_rlhf.reward.encoders import MiniLMEncoder, make_encoder
from safety_rlhf.task.strategies import Strategy, render_responses

#: Chosen and rejected strategies of the fixture: refuse harmful requests, answer benign ones.
REFUSALS = (Strategy.REFUSE, Strategy.REFUSE_AND_REDIRECT)
ANSWERS = (Strategy.COMPLY, Strategy.COMPLY_WITH_CAVEAT)

#: A small, fast configuration (hashing encoder, 64 dimensions, one small hidden layer).
FAST = BradleyTerryConfig(encoder="hashing", dim=64, hidden=(32,), epochs=40, batch_size=32)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fixture_pairs(names: list[str]) -> PreferenceSet:
    """Pairs for the prompts made from ``names``: refusals win on harmful-looking prompts,
    answers on benign ones (every refusal x answer combination, 4 per prompt)."""
    return toy_pairs(names, REFUSALS, ANSWERS)


@pytest.fixture(scope="module")
def train_pairs() -> PreferenceSet:
    return fixture_pairs(NAMES[:8])


@pytest.fixture(scope="module")
def heldout_pairs() -> PreferenceSet:
    return fixture_pairs(NAMES[8:])


def train(prefs: PreferenceSet, config: BradleyTerryConfig = FAST) -> BradleyTerryRewardModel:
    model, _ = train_bradley_terry(
        prefs.prompts, prefs.chosen, prefs.rejected, config, progress=False
    )
    return model


@pytest.fixture(scope="module")
def trained(train_pairs: PreferenceSet) -> BradleyTerryRewardModel:
    return train(train_pairs)


def test_training_beats_an_untrained_model_on_heldout_prompts(
    trained: BradleyTerryRewardModel, heldout_pairs: PreferenceSet
) -> None:
    torch.manual_seed(0)
    net = BradleyTerryNet(2 * 64, FAST.hidden).eval()
    untrained = BradleyTerryRewardModel.from_weights(
        {k: v.detach().numpy() for k, v in net.state_dict().items()},
        make_encoder("hashing", dim=64),
    )
    acc_trained = pairwise_accuracy(trained, heldout_pairs)
    acc_untrained = pairwise_accuracy(untrained, heldout_pairs)
    assert acc_trained >= 0.9, acc_trained
    assert 0.25 <= acc_untrained <= 0.75, acc_untrained
    assert acc_trained - acc_untrained >= 0.25


def test_history_reports_the_kept_epoch(train_pairs: PreferenceSet) -> None:
    _, history = train_bradley_terry(
        train_pairs.prompts, train_pairs.chosen, train_pairs.rejected, FAST, progress=False
    )
    n = len(history.val_accuracy)
    assert 1 <= n <= FAST.epochs
    assert len(history.train_loss) == len(history.val_loss) == n
    assert history.val_loss[history.best_epoch] == min(history.val_loss)
    assert history.best_val_accuracy == history.val_accuracy[history.best_epoch]


def _state(model: BradleyTerryRewardModel) -> dict[str, np.ndarray]:
    return model.weights


def test_same_seed_same_weights_other_seed_other_weights(
    trained: BradleyTerryRewardModel, train_pairs: PreferenceSet
) -> None:
    again = train(train_pairs)
    other = train(train_pairs, replace(FAST, seed=1))
    assert _state(again).keys() == _state(trained).keys()
    for key, value in _state(trained).items():
        np.testing.assert_array_equal(_state(again)[key], value, err_msg=key)
    assert not all(np.array_equal(_state(other)[k], v) for k, v in _state(trained).items())


def test_checkpoint_round_trip_gives_identical_scores(
    trained: BradleyTerryRewardModel, heldout_pairs: PreferenceSet, tmp_path: Path
) -> None:
    folder = save_bradley_terry(trained, tmp_path / "ckpt")
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "config.json"}
    config = json.loads((folder / "config.json").read_text())
    assert config["encoder"]["name"] == "hashing" and config["encoder"]["dim"] == 64
    assert config["architecture"] == {"type": "mlp", "input_dim": 128, "hidden": [32]}
    loaded = make_reward_model(f"bradley-terry:{folder}")
    assert isinstance(loaded, BradleyTerryRewardModel)
    args = (heldout_pairs.prompts, heldout_pairs.chosen)
    np.testing.assert_array_equal(loaded.score(*args), trained.score(*args))
    assert loaded.identity == trained.identity  # same weights and encoder: one score cache


@pytest.mark.parametrize(
    ("section", "key", "value", "error"),
    [
        ("encoder", "dim", 32, "different encoder dimension"),
        ("architecture", "hidden", [16], r"ckpt: weights do not fit.*'mlp.0.weight'"),
    ],
)
def test_checkpoint_whose_config_does_not_fit_the_weights_is_refused(
    trained: BradleyTerryRewardModel,
    tmp_path: Path,
    section: str,
    key: str,
    value: object,
    error: str,
) -> None:
    folder = save_bradley_terry(trained, tmp_path / "ckpt")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config[section][key] = value
    config_path.write_text(json.dumps(config))
    with pytest.raises(RewardModelError, match=error):
        make_reward_model(f"bradley-terry:{folder}")


@pytest.mark.parametrize("missing", ["model.safetensors", "config.json"])
def test_checkpoint_missing_file_names_the_folder(
    trained: BradleyTerryRewardModel, tmp_path: Path, missing: str
) -> None:
    folder = save_bradley_terry(trained, tmp_path / "ckpt")
    (folder / missing).unlink()
    with pytest.raises(RewardModelError, match=r"ckpt: not a Bradley-Terry checkpoint"):
        make_reward_model(f"bradley-terry:{folder}")


def test_checkpoint_bad_json_names_the_file(
    trained: BradleyTerryRewardModel, tmp_path: Path
) -> None:
    folder = save_bradley_terry(trained, tmp_path / "ckpt")
    (folder / "config.json").write_text('{"format_version": 1,\n  oops}\n')
    with pytest.raises(RewardModelError, match=r"ckpt/config\.json:2: invalid JSON"):
        make_reward_model(f"bradley-terry:{folder}")


def test_numpy_scoring_matches_the_torch_network(
    trained: BradleyTerryRewardModel, heldout_pairs: PreferenceSet
) -> None:
    # Scoring runs the MLP in NumPy; it must compute what the trained torch module computes.
    net = BradleyTerryNet(trained.input_dim, trained.hidden).eval()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in trained.weights.items()})
    features = pair_features(trained.encoder, heldout_pairs.prompts, heldout_pairs.chosen)
    with torch.no_grad():
        expected = net(torch.from_numpy(features)).numpy()
    np.testing.assert_allclose(trained.forward(features), expected, rtol=1e-5, atol=1e-5)


def test_sparse_scoring_matches_the_dense_forward(
    trained: BradleyTerryRewardModel, heldout_pairs: PreferenceSet
) -> None:
    # hashing features are scored through a sparse first layer; same scores as dense
    assert hasattr(trained.encoder, "encode_sparse")
    features = pair_features(trained.encoder, heldout_pairs.prompts, heldout_pairs.chosen)
    dense = trained.forward(features)
    sparse = trained._score(list(heldout_pairs.prompts), list(heldout_pairs.chosen))
    np.testing.assert_allclose(sparse, dense, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("dim", "ngram_range"), [(1024, (1, 2)), (64, (1, 3)), (32, (2, 2))])
def test_hashing_encoder_equals_scikit_learns_hashing_vectorizer(
    dim: int, ngram_range: tuple[int, int]
) -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = load_prompts(None, split="test").prompts
    texts += [r for p in texts[:100] for r in render_responses(p)]
    texts += ["", "a", "Ünïcode wörds ÀB 12 x_y", "it's   don't  e-mail", "the the the"]
    reference = HashingVectorizer(
        n_features=dim, ngram_range=ngram_range, alternate_sign=False, norm="l2",
        dtype=np.float32,
    ).transform(texts)  # fmt: skip
    encoder = make_encoder("hashing", dim=dim, ngram_range=ngram_range)
    np.testing.assert_array_equal(encoder.encode(texts), reference.toarray())


def test_truncated_weights_file_is_a_reward_model_error(
    trained: BradleyTerryRewardModel, tmp_path: Path
) -> None:
    folder = save_bradley_terry(trained, tmp_path / "ckpt")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(RewardModelError, match=r"model\.safetensors: not a readable safetensors"):
        make_reward_model(f"bradley-terry:{folder}")


def test_missing_checkpoint_folder_is_a_reward_model_error(tmp_path: Path) -> None:
    with pytest.raises(RewardModelError, match=r"nowhere: not a Bradley-Terry checkpoint"):
        make_reward_model(f"bradley-terry:{tmp_path / 'nowhere'}")


def test_centering_keeps_rewards_near_zero(train_pairs: PreferenceSet) -> None:
    # The Bradley-Terry loss ignores a constant offset, so without centering the mean reward
    # is wherever the initial weights put it; averaged over seeds to not depend on one init.
    def mean_abs_reward(centering: float) -> float:
        means = []
        for seed in range(3):
            model = train(train_pairs, replace(FAST, centering=centering, seed=seed))
            scores = np.concatenate(
                [
                    model.score(train_pairs.prompts, train_pairs.chosen),
                    model.score(train_pairs.prompts, train_pairs.rejected),
                ]
            )
            means.append(abs(float(scores.mean())))
        return float(np.mean(means))

    centred, free = mean_abs_reward(1.0), mean_abs_reward(0.0)
    assert centred < 0.02
    assert centred < 0.25 * free, (centred, free)


def _shipped_eval() -> dict[str, float]:
    eval_path = LEARNED_PATH / "eval.json"
    if not eval_path.is_file():
        pytest.skip(
            f"no shipped checkpoint at {LEARNED_PATH}: create it with "
            "`safety-rlhf reward-model train --out safety_rlhf/reward/checkpoints/learned`"
        )
    return json.loads(eval_path.read_text())


@pytest.mark.slow
def test_learned_model_is_accurate_on_heldout_gold_pairs() -> None:
    shipped = _shipped_eval()
    model = make_reward_model("learned")
    accuracy = pairwise_accuracy(model, load_shipped_preferences("test"))
    # 0.830 on the issue-12 test split, where a classifier fitted with the gold labels on the
    # same embeddings reads 80.4% of the labels right (README, "Issue 12's targets")
    assert accuracy >= 0.82
    assert accuracy == pytest.approx(shipped["heldout_accuracy"], abs=1e-4)


@pytest.mark.slow
def test_retraining_reproduces_the_shipped_checkpoint() -> None:
    shipped = _shipped_eval()
    prefs = load_shipped_preferences("train")
    model, _ = train_bradley_terry(prefs.prompts, prefs.chosen, prefs.rejected, progress=False)
    accuracy = pairwise_accuracy(model, load_shipped_preferences("test"))
    assert accuracy == pytest.approx(shipped["heldout_accuracy"], abs=0.01)


def test_minilm_encoder_gives_unit_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        import sentence_transformers  # noqa: F401
    except ImportError as exc:
        pytest.skip(
            f'sentence-transformers is not installed ({exc}): pip install "safety-rlhf-gym[minilm]"'
        )
    encoder = make_encoder("minilm")
    x = encoder.encode(["a", "b"])
    assert x.shape == (2, 384) and x.dtype == np.float32
    # unit vectors quantised to 8 bits: each coordinate moves by at most half a step
    # (max |x| / 127 / 2), so the norm by at most that times sqrt(384)
    bound = np.abs(x).max(axis=1) / 254 * np.sqrt(384)
    assert (np.abs(np.linalg.norm(x, axis=1) - 1.0) <= bound).all()
    np.testing.assert_array_equal(encoder.encode(["a"])[0], x[0])  # memoised
    monkeypatch.setattr(MiniLMEncoder, "_memo", {})  # recomputed, in another batch
    # float rounding may differ between batches: at most one quantisation step
    step = np.abs(x[0]).max() / 127
    np.testing.assert_allclose(encoder.encode(["a", "c"])[0], x[0], atol=1.01 * step)
    assert not np.array_equal(x[0], x[1])
