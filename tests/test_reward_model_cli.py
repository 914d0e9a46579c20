"""The ``safety-rlhf reward-model`` command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from toy_prompts import BENIGN, HARMFUL
from toy_prompts import NAMES as ALL_NAMES

from safety_rlhf.data.output_paths import MARKER
from safety_rlhf.data.preferences import DEFAULT_TEST_PATH, DEFAULT_TRAIN_PATH
from safety_rlhf.experiments.cli import main
from safety_rlhf.task.strategies import Strategy, render_responses

NAMES = ALL_NAMES[:6]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def pairs_jsonl(tmp_path: Path) -> Path:
    """A small preference file: refusals win on harmful-looking prompts, answers on benign."""
    rows = []
    for name in NAMES:
        for templates, good, bad in (
            (HARMFUL, Strategy.REFUSE, Strategy.COMPLY),
            (BENIGN, Strategy.COMPLY, Strategy.REFUSE),
        ):
            for template in templates:
                prompt = template.format(name)
                texts = render_responses(prompt)
                rows.append({"prompt": prompt, "chosen": texts[good], "rejected": texts[bad]})
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_make_preferences_defaults_reproduce_the_shipped_files(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    train, test = tmp_path / "train.jsonl.gz", tmp_path / "test.jsonl.gz"
    assert main(["reward-model", "make-preferences", "--train-out", str(train),
                 "--test-out", str(test)]) == 0  # fmt: skip
    assert train.read_bytes() == DEFAULT_TRAIN_PATH.read_bytes()
    assert test.read_bytes() == DEFAULT_TEST_PATH.read_bytes()
    out = capsys.readouterr().out
    # 15 pairs per train prompt (8,262); every strategy pair whose gold rewards differ per
    # test prompt: 13 for harmful (912), 14 for benign (2,172) and borderline (228)
    assert f"{train} (123,930 pairs)" in out and f"{test} (45,456 pairs)" in out


def test_make_preferences_options_change_the_train_pairs(tmp_path: Path) -> None:
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    argv = ["reward-model", "make-preferences", "--train-out", str(train), "--test-out",
            str(test), "--pairs-per-prompt", "2", "--noise", "0", "--seed", "5"]  # fmt: skip
    assert main(argv) == 0
    records = [json.loads(line) for line in train.read_text().splitlines()]
    assert len(records) == 2 * 8262
    assert not any(r["flipped"] for r in records)


def test_train_writes_a_checkpoint_that_eval_reads(
    tmp_path: Path, pairs_jsonl: Path, capsys: pytest.CaptureFixture
) -> None:
    out_dir = tmp_path / "rm"
    argv = ["reward-model", "train", "--encoder", "hashing", "--dim", "64", "--epochs", "3",
            "--hidden", "16", "--preferences", str(pairs_jsonl), "--no-progress-bar",
            "--out", str(out_dir)]  # fmt: skip
    assert main(argv) == 0
    assert {p.name for p in out_dir.iterdir()} == {
        "model.safetensors",
        "config.json",
        "eval.json",
        MARKER,
    }
    report = json.loads((out_dir / "eval.json").read_text())
    assert report["train_pairs"] == 4 * len(NAMES)
    assert report["train_data"] == "pairs.jsonl"
    assert report["heldout_pairs"] == 45456
    assert 1 <= report["best_epoch"] <= report["epochs_run"] <= 3
    out = capsys.readouterr().out
    assert f"held-out gold pairwise accuracy: {report['heldout_accuracy']:.3f}" in out
    config = json.loads((out_dir / "config.json").read_text())
    assert config["architecture"]["hidden"] == [16]
    assert config["training"]["epochs"] == 3

    assert main(["reward-model", "eval", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"pairwise accuracy: [01]\.\d{3} \(45,456 pairs", out)
    assert f"{report['heldout_accuracy']:.3f}" in out
    for label in ("harmful", "benign", "borderline"):
        assert re.search(rf"^{label}\s+model .*  (agrees|DISAGREES)$", out, re.MULTILINE)


def test_eval_gold_is_perfect_and_agrees_everywhere(capsys: pytest.CaptureFixture) -> None:
    assert main(["reward-model", "eval", "gold"]) == 0
    out = capsys.readouterr().out
    assert "pairwise accuracy: 1.000 (45,456 pairs" in out
    for group in ("harmful", "twin", "benign everyday", "look-alike", "borderline"):
        assert re.search(rf"  {group} +1\.000 \(", out), group
    verdicts = re.findall(r"^\w+\s+model .*  (agrees|DISAGREES)$", out, re.MULTILINE)
    assert verdicts == ["agrees"] * 3


def test_eval_on_own_pairs_file(pairs_jsonl: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["reward-model", "eval", "rule", "--pairs", str(pairs_jsonl)]) == 0
    assert f"pairs, {pairs_jsonl})" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "no-such-model"], "unknown reward model 'no-such-model'"),
        (["eval", "bradley-terry:/no/such/dir"], "not a Bradley-Terry checkpoint"),
        (["eval", "rule", "--pairs", "/no/such.jsonl"], "preference file not found"),
        (["train", "--preferences", "/no/such.jsonl", "--out", "x"], "preference file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["reward-model", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("safety-rlhf reward-model ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_hidden_sizes_are_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["reward-model", "train", "--hidden", "256,x", "--out", "x"])
    assert exc.value.code == 2
    assert "layer sizes like 256,64" in capsys.readouterr().err


def test_strategy_table_of_gold_is_the_gold_table() -> None:
    from safety_rlhf.data.prompts import load_corpus
    from safety_rlhf.reward import make_reward_model
    from safety_rlhf.reward.diagnostics import strategy_table
    from safety_rlhf.task.gold_tables import GOLD_REWARD

    table = strategy_table(make_reward_model("gold"), load_corpus("test"))
    assert list(table) == ["harmful", "benign", "borderline"]
    for label, row in table.items():
        np.testing.assert_allclose(row, GOLD_REWARD[label], atol=1e-6)


def test_format_strategy_table_flags_an_exploitable_model() -> None:
    from safety_rlhf.reward.diagnostics import format_strategy_table

    text = format_strategy_table(
        {
            "harmful": np.array([0.1, 0.9, 0.0, 0.2, 0.3, 0.0]),  # likes caveated compliance
            "benign": np.array([0.9, 0.5, 0.0, -1.0, -1.0, 0.0]),
        }
    )
    rows = [line for line in text.splitlines() if " model " in line]
    assert rows[0].startswith("harmful") and rows[0].endswith("  DISAGREES")
    assert "+0.900*" in rows[0] and rows[0].count("*") == 1
    assert rows[1].startswith("benign") and rows[1].endswith("  agrees")
    gold_harmful = text.splitlines()[3]
    assert gold_harmful.split()[0] == "gold" and gold_harmful.count("*") == 2  # a tie
