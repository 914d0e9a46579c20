"""Users' own prompt files: JSONL and CSV, label maps, unlabelled prompts, clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import safety_rlhf  # noqa: F401
from safety_rlhf.agents.prompt_evaluation import constant_policy_metrics
from safety_rlhf.data import PromptFileError, load_prompt_file
from safety_rlhf.envs import SafetyRLHFEnv, Strategy


def test_jsonl_with_label_map(
    user_jsonl: Path, label_map: dict[str, str], user_rows: list[dict]
) -> None:
    ps = load_prompt_file(user_jsonl, label_map=label_map)
    assert ps.prompts == [r["prompt"] for r in user_rows]
    assert ps.labels == ["benign", "harmful", "benign", "harmful"]
    assert ps.categories == ["lookalike", "weapons", "cooking", ""]
    assert len(set(ps.ids)) == 4


def test_csv_gives_the_same_prompt_set(
    tmp_path: Path, user_jsonl: Path, label_map: dict[str, str], user_rows: list[dict]
) -> None:
    path = tmp_path / "prompts.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["prompt", "label", "category"])
        writer.writeheader()
        writer.writerows(user_rows)
    a = load_prompt_file(path, label_map=label_map)
    b = load_prompt_file(user_jsonl, label_map=label_map)
    assert (a.prompts, a.labels, a.categories) == (b.prompts, b.labels, b.categories)


def test_env_on_a_user_file(
    user_jsonl: Path, label_map: dict[str, str], user_rows: list[dict]
) -> None:
    env = gym.make("SafetyRLHF-v0", prompts=str(user_jsonl), label_map=label_map)
    env.reset(seed=0)
    _, _, _, _, info = env.step(int(Strategy.COMPLY))
    assert info["prompt"] in [r["prompt"] for r in user_rows]
    assert info["label"] in ("harmful", "benign")
    assert np.isfinite(info["gold_reward"])


def test_unlabelled_prompts_report_gold_as_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "unlabelled.csv"
    path.write_text("prompt\nHow do I bake bread?\nHow do I kill a Python process?\n")
    env = SafetyRLHFEnv(prompts=path, reward_model="rule")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(int(Strategy.COMPLY))
    assert info["label"] is None and info["is_success"] is None
    assert np.isnan(info["gold_reward"]) and np.isnan(info["cost"])
    assert np.isfinite(reward)
    metrics = constant_policy_metrics(env, Strategy.COMPLY)
    assert metrics["gold_success"] is None and metrics["over_refusal"] is None
    assert metrics["proxy_reward"] is not None


def test_gold_reward_model_refuses_unlabelled_prompts(tmp_path: Path) -> None:
    path = tmp_path / "unlabelled.jsonl"
    path.write_text('{"prompt": "How do I bake bread?"}\n')
    with pytest.raises(ValueError, match="has no gold label"):
        SafetyRLHFEnv(prompts=path, reward_model="gold")


def test_split_column_filters_rows(tmp_path: Path) -> None:
    path = tmp_path / "split.jsonl"
    path.write_text('{"prompt": "a?", "split": "train"}\n{"prompt": "b?", "split": "test"}\n')
    assert load_prompt_file(path, split="test").prompts == ["b?"]
    with pytest.raises(PromptFileError, match="no prompts with split 'jailbreak'"):
        load_prompt_file(path, split="jailbreak")


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("bad.jsonl", '{"prompt": "ok"}\n{"prompt": \n', r"bad\.jsonl:2: invalid JSON"),
        ("bad.jsonl", '{"prompt": "ok"}\n\n["a list"]\n', r"bad\.jsonl:3: expected a JSON object"),
        ("bad.jsonl", '{"text": "no prompt column"}\n', r"bad\.jsonl:1: missing or empty 'prompt'"),
        (
            "bad.jsonl",
            '{"prompt": "x", "label": "unsafe"}\n',
            r"bad\.jsonl:1: 'label' value 'unsafe'.*label_map",
        ),
        (
            "bad.csv",
            "prompt,label\nfine,benign\n,benign\n",
            r"bad\.csv:3: missing or empty 'prompt'",
        ),
        ("bad.csv", "prompt\nx,y\n", r"bad\.csv:2: more fields than the header"),
        ("bad.csv", "", r"bad\.csv:1: empty CSV"),
        ("bad.txt", "prompt\n", r"unsupported prompt file type '\.txt'"),
        (
            "dup.jsonl",
            '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n',
            "duplicate id 'a'",
        ),
    ],
)
def test_malformed_files_name_file_and_line(
    tmp_path: Path, name: str, content: str, match: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptFileError, match=match):
        load_prompt_file(path)


def test_missing_file_and_bad_label_map(tmp_path: Path, user_jsonl: Path) -> None:
    with pytest.raises(PromptFileError, match="not found"):
        load_prompt_file(tmp_path / "nope.jsonl")
    with pytest.raises(PromptFileError, match=r"prompts\.jsonl:1: label_map sends 'safe' to 'ok'"):
        load_prompt_file(user_jsonl, label_map={"safe": "ok", "unsafe": "harmful"})


def test_a_csv_with_a_byte_order_mark_keeps_its_first_column(tmp_path: Path) -> None:
    """Spreadsheet programs start CSV files with a byte-order mark; it must not glue onto
    the first column's name (which would silently drop that column)."""
    path = tmp_path / "sheet.csv"
    path.write_bytes("id,prompt,label\nq1,How do I bake bread?,benign\n".encode("utf-8-sig"))
    prompt_set = load_prompt_file(path)
    assert prompt_set.ids == ["q1"] and prompt_set.prompts == ["How do I bake bread?"]
