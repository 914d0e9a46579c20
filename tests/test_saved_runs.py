"""A run folder cannot run code (issue 11 §1): ``evaluate RUN`` and ``train --resume RUN``
read ``config.yaml`` as untrusted input. A spec that names Python code, an env id with
another module, a path leaving the run folder: each is refused in one line before anything
is imported, and the payload never runs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from safety_rlhf.experiments.cli import main
from safety_rlhf.experiments.saved_runs import check_saved_env_id, check_saved_settings
from safety_rlhf.reward import RewardModelError

PAYLOAD = """
from pathlib import Path

Path({marker!r}).touch()  # on import


def score(prompts, responses, **columns):
    Path({marker!r}).touch()
    return [0.0] * len(prompts)
"""


@pytest.fixture
def payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable module ``evil_payload`` that creates ``marker`` when imported or called."""
    marker = tmp_path / "payload-ran"
    (tmp_path / "evil_payload.py").write_text(PAYLOAD.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "evil_payload", raising=False)
    return marker


def _copy_with(run: Path, tmp_path: Path, edit) -> Path:
    """A copy of ``run`` whose config.yaml was changed by ``edit(config)``."""
    copy = tmp_path / "shared-run"
    shutil.copytree(run, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    edit(config)
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    return copy


def _set_env_kwarg(key: str, value: object):
    def edit(config: dict) -> None:
        config["env_kwargs"][key] = value
        config["run"]["env_kwargs"][key] = value

    return edit


def _set_run(key: str, value: object):
    def edit(config: dict) -> None:
        config["run"][key] = value

    return edit


def _one_error_line(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0], err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


CODE_NAMING = [
    pytest.param(_set_env_kwarg("reward_model", "evil_payload:score"), "evil_payload:score",
                 id="reward_model"),
    pytest.param(_set_run("reward_model", "evil_payload:score"), "evil_payload:score",
                 id="run.reward_model"),
    pytest.param(_set_env_kwarg("reward_model", "composite:rule=1,evil_payload:score=1"),
                 "evil_payload:score", id="composite part"),
    pytest.param(_set_run("cost_model", "evil_payload:score"), "evil_payload:score",
                 id="cost_model"),
    pytest.param(_set_run("env", "evil_payload:SafetyRLHF-v0"), "evil_payload",
                 id="env id with a module"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "named"), CODE_NAMING)
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_run_folder_that_names_code_is_refused_and_nothing_runs(
    finished_run: Path,
    tmp_path: Path,
    payload: Path,
    capsys: pytest.CaptureFixture,
    edit,
    named: str,
    command: str,
) -> None:
    run = _copy_with(finished_run, tmp_path, edit)
    argv = ["evaluate", str(run)] if command == "evaluate" else ["train", "--resume", str(run)]
    assert main([*argv, *([] if command == "evaluate" else ["--no-progress-bar"])]) == 2
    _one_error_line(capsys.readouterr().err, "config.yaml", named)
    assert not payload.exists()  # the module was never imported, the function never called


def test_a_policy_class_named_in_the_run_is_not_imported(
    finished_run: Path, tmp_path: Path, payload: Path, capsys: pytest.CaptureFixture
) -> None:
    """The saved ``policy`` goes to SB3, which looks it up among its own aliases only."""
    run = _copy_with(finished_run, tmp_path, _set_run("policy", "evil_payload:Policy"))
    assert main(["train", "--resume", str(run), "--no-progress-bar"]) == 2
    _one_error_line(capsys.readouterr().err, "evil_payload:Policy")
    assert not payload.exists()


def test_the_same_spec_given_explicitly_is_used(
    finished_run: Path, payload: Path, capsys: pytest.CaptureFixture
) -> None:
    """An import-path spec is the user's own choice on the command line: it is built."""
    assert main(["evaluate", str(finished_run), "--reward-model", "evil_payload:score"]) == 0
    assert payload.exists()


def test_the_literal_exploit_spec_is_refused(finished_run: Path, tmp_path: Path) -> None:
    config = yaml.safe_load((finished_run / "config.yaml").read_text())
    with pytest.raises(RewardModelError, match=r"'pty:spawn' names Python code"):
        check_saved_settings(
            {**config["run"], "reward_model": "pty:spawn"}, {}, finished_run, "config.yaml"
        )


def test_paths_are_resolved_in_the_run_folder_and_may_not_leave_it(
    finished_run: Path, tmp_path: Path
) -> None:
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "hi"}\n')
    run, kwargs = check_saved_settings(
        {"reward_model": "bradley-terry:rm"}, {"prompts": "prompts.jsonl"}, tmp_path, "c.yaml"
    )
    assert run["reward_model"] == f"bradley-terry:{(tmp_path / 'rm').resolve()}"
    assert kwargs["prompts"] == str((tmp_path / "prompts.jsonl").resolve())
    outside = [
        ({}, {"prompts": "../elsewhere.jsonl"}, "env_kwargs.prompts"),
        ({}, {"prompts": "/etc/passwd"}, "env_kwargs.prompts"),
        ({"reward_model": "hf:/opt/model"}, {}, "run.reward_model"),
        ({"reward_model": "composite:rule=1,bradley-terry:../rm=1"}, {}, "run.reward_model"),
        ({"cost_model": "classifier:/opt/cost"}, {}, "run.cost_model"),
    ]
    for run_values, env_values, key in outside:
        with pytest.raises(ValueError, match=rf"c\.yaml: {key}.*lies outside"):
            check_saved_settings(run_values, env_values, tmp_path, "c.yaml")


def test_env_ids_of_the_package_itself_are_allowed() -> None:
    assert check_saved_env_id("SafetyRLHF-v0", "c") == "SafetyRLHF-v0"
    assert check_saved_env_id("safety_rlhf:SafetyRLHF-v0", "c") == "safety_rlhf:SafetyRLHF-v0"
    with pytest.raises(ValueError, match="would import the module 'os'"):
        check_saved_env_id("os:SafetyRLHF-v0", "c")
