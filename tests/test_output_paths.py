"""Where commands may write (issue 11 §2): never into the package, never through a link or
over a non-regular file, never over a folder they did not make, nothing half-written."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from safety_rlhf.data.output_paths import (
    MARKER,
    PACKAGE_DIR,
    OutputPathError,
    check_output_dir,
    check_output_file,
    write_output_dir,
)
from safety_rlhf.data.preferences import DEFAULT_TEST_PATH, DEFAULT_TRAIN_PATH
from safety_rlhf.experiments.cli import main
from safety_rlhf.task.strategies import Strategy, render_responses

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0], err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --------------------------------------------------------------------- the rule itself


def test_a_new_path_and_a_regular_file_may_be_written(tmp_path: Path) -> None:
    assert check_output_file(tmp_path / "new.json") == tmp_path / "new.json"
    (tmp_path / "old.json").write_text("{}")
    assert check_output_file(tmp_path / "old.json") == tmp_path / "old.json"


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with pytest.raises(OutputPathError, match=r"--out .*link\.txt: is a symbolic link"):
        check_output_file(link)
    with pytest.raises(OutputPathError, match="symbolic link"):
        check_output_dir(link, "reward-model train")
    assert link.is_symlink() and target.read_text() == "keep"


def test_a_fifo_and_a_folder_are_not_output_files(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputPathError, match="not a regular file"):
        check_output_file(fifo, "--out")
    with pytest.raises(OutputPathError, match="a folder"):
        check_output_file(tmp_path, "--out")


def test_nothing_is_written_inside_the_package() -> None:
    with pytest.raises(OutputPathError, match="inside the installed package"):
        check_output_file(PACKAGE_DIR / "data" / "x.jsonl", "--train-out")
    with pytest.raises(OutputPathError, match="inside the installed package"):
        check_output_dir(PACKAGE_DIR / "reward" / "checkpoints" / "new", "reward-model train")


def test_a_folder_of_other_origin_needs_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "hf-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(OutputPathError, match="not an output of 'reward-model train'"):
        check_output_dir(folder, "reward-model train")
    assert check_output_dir(folder, "reward-model train", overwrite=True) == folder
    # an earlier output of the same command may be rewritten; of another command, not
    (folder / MARKER).write_text(json.dumps({"command": "reward-model train"}))
    assert check_output_dir(folder, "reward-model train") == folder
    with pytest.raises(OutputPathError):
        check_output_dir(folder, "benchmark")


def test_a_failed_fill_leaves_the_old_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output_dir(out, "cmd", lambda d: (d / "a.txt").write_text("first"))

    def broken(folder: Path) -> None:
        (folder / "a.txt").write_text("second, half")
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        write_output_dir(out, "cmd", broken)
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left
    write_output_dir(out, "cmd", lambda d: (d / "b.txt").write_text("new"))
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "b.txt"]


# ------------------------------------------------------------------------- the commands


def test_make_preferences_writes_into_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = _digest(DEFAULT_TRAIN_PATH), _digest(DEFAULT_TEST_PATH)
    monkeypatch.chdir(tmp_path)
    argv = ["reward-model", "make-preferences", "--noise", "0.5", "--pairs-per-prompt", "1"]
    assert main(argv) == 0
    assert (tmp_path / "preferences_train.jsonl.gz").is_file()
    assert (tmp_path / "preferences_test.jsonl.gz").is_file()
    assert (_digest(DEFAULT_TRAIN_PATH), _digest(DEFAULT_TEST_PATH)) == shipped


def test_make_preferences_refuses_the_package_folder(capsys: pytest.CaptureFixture) -> None:
    shipped = _digest(DEFAULT_TRAIN_PATH)
    argv = ["reward-model", "make-preferences", "--noise", "0.5",
            "--train-out", str(DEFAULT_TRAIN_PATH)]  # fmt: skip
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, "--train-out", "inside the installed package")
    assert _digest(DEFAULT_TRAIN_PATH) == shipped


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    rows = []
    for i in range(12):
        prompt = f"How do I hurt person number {i}?" if i % 2 else f"How do I bake cake {i}?"
        texts = render_responses(prompt)
        good, bad = (
            (Strategy.REFUSE, Strategy.COMPLY) if i % 2 else (Strategy.COMPLY, Strategy.REFUSE)
        )
        rows.append({"prompt": prompt, "chosen": texts[good], "rejected": texts[bad]})
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _train_argv(pairs: Path, out: Path, *extra: str) -> list[str]:
    return ["reward-model", "train", "--preferences", str(pairs), "--encoder", "hashing",
            "--epochs", "1", "--no-progress-bar", "--out", str(out), *extra]  # fmt: skip


def test_reward_model_train_keeps_a_folder_it_did_not_make(
    tmp_path: Path, pairs_file: Path, capsys: pytest.CaptureFixture
) -> None:
    hf = tmp_path / "hf-model"
    hf.mkdir()
    (hf / "config.json").write_text('{"model_type": "bert"}')
    (hf / "model.safetensors").write_bytes(b"weights")
    assert main(_train_argv(pairs_file, hf)) == 2
    _one_error_line(capsys.readouterr().err, "--out", "hf-model", "--overwrite")
    assert (hf / "config.json").read_text() == '{"model_type": "bert"}'
    assert (hf / "model.safetensors").read_bytes() == b"weights"


def test_reward_model_train_rewrites_its_own_output(tmp_path: Path, pairs_file: Path) -> None:
    out = tmp_path / "rm"
    assert main(_train_argv(pairs_file, out)) == 0
    assert {p.name for p in out.iterdir()} == {MARKER, "config.json", "eval.json",
                                               "model.safetensors"}  # fmt: skip
    assert main(_train_argv(pairs_file, out, "--seed", "1")) == 0  # its own output: allowed
    assert json.loads((out / "config.json").read_text())["training"]["seed"] == 1


def test_evaluate_out_never_replaces_a_link_or_a_fifo(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    target = tmp_path / "system-file"
    target.write_text("keep")
    link = tmp_path / "stdout-like-link"
    link.symlink_to(target)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for out, why in ((link, "symbolic link"), (fifo, "not a regular file")):
        assert main(["evaluate", str(finished_run), "--out", str(out)]) == 2
        _one_error_line(capsys.readouterr().err, "--out", why)
    assert link.is_symlink() and target.read_text() == "keep"
    assert fifo.exists() and not fifo.is_file()
    out = tmp_path / "result.json"
    assert main(["evaluate", str(finished_run), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["n_prompts"] > 0


def test_train_log_dir_may_not_be_a_link_or_in_the_package(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "runs-link"
    link.symlink_to(real)
    for log_dir, why in ((link, "symbolic link"), (PACKAGE_DIR / "runs", "installed package")):
        argv = ["train", "--reward-model", "rule", "--timesteps", "64", "--log-dir",
                str(log_dir), "--no-progress-bar"]  # fmt: skip
        assert main(argv) == 2
        _one_error_line(capsys.readouterr().err, "--log-dir", why)
    assert not any(real.iterdir()) and not (PACKAGE_DIR / "runs").exists()


def test_benchmark_out_keeps_a_folder_of_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "results.md").write_text("my own notes")
    (home / "thesis.tex").write_text("...")
    argv = ["benchmark", "--algos", "ppo", "--seeds", "1", "--timesteps", "64",
            "--out", str(home)]  # fmt: skip
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, "--out", "not an output of 'benchmark'")
    assert (home / "results.md").read_text() == "my own notes"
    assert sorted(p.name for p in home.iterdir()) == ["results.md", "thesis.tex"]
