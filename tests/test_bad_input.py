"""Bad input, one row each: the error type, and a message naming what is wrong and where.

Every row makes its own bad file, spec or call in ``tmp_path`` and checks that the failure
is one of the package's documented errors (never a bare ``KeyError``, ``UnicodeDecodeError``
or assertion from a library), with the file and line, argument or model in the message.
The command-line rows also check exit status 2, one ``error:`` line on stderr without a
traceback (unless ``--debug``), and that no run folder was left behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import safety_rlhf  # noqa: F401  (registers the env ids)
from safety_rlhf.data.preferences import PreferenceFileError, load_preferences
from safety_rlhf.data.prompts import PromptFileError, load_prompts
from safety_rlhf.experiments.cli import main
from safety_rlhf.reward import RewardModelError, make_cost_model, make_reward_model


def _file(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _jsonl(*rows: dict[str, Any]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def _prompts(name: str, content: str | bytes) -> Callable[[Path], Any]:
    return lambda tmp: load_prompts(_file(tmp, name, content))


def _prefs(name: str, content: str | bytes) -> Callable[[Path], Any]:
    return lambda tmp: load_preferences(_file(tmp, name, content))


def _score(fn: Callable[..., Any]) -> Callable[[Path], Any]:
    return lambda tmp: make_reward_model(fn).score(["a prompt"], ["a response"])


def _raise(prompts: list[str], responses: list[str]) -> Any:
    raise RuntimeError("the scorer broke")


def _checkpoint(tmp: Path, damage: Callable[[Path], None]) -> Any:
    from safety_rlhf.reward.bradley_terry import LEARNED_PATH

    folder = tmp / "ckpt"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((LEARNED_PATH / name).read_bytes())
    damage(folder)
    return make_reward_model(f"bradley-terry:{folder}")


def _truncate(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])


def _other_dim(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["encoder"] = {"name": "hashing", "dim": 64, "ngram_range": [1, 2]}
    (folder / "config.json").write_text(json.dumps(config))


def _bad_architecture(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["architecture"] = "mlp"
    (folder / "config.json").write_text(json.dumps(config))


def _pickle(folder: Path) -> None:
    import pickle

    (folder / "model.safetensors").write_bytes(pickle.dumps({"mlp.0.weight": [1.0]}))


def _step_before_reset(tmp: Path) -> Any:
    return gym.make("SafetyRLHF-v0", reward_model="rule").unwrapped.step(0)


def _bad_action(tmp: Path) -> Any:
    env = gym.make("SafetyRLHF-v0", reward_model="rule")
    env.reset(seed=0)
    return env.step(6)


LONG = "x" * 1_000_001
HH_NO_ASSISTANT = {"chosen": "\n\nHuman: hi", "rejected": "\n\nHuman: hello"}
DUP = {"id": "x", "prompt": "a"}
PAIR = {"prompt": "a", "chosen": "b", "rejected": "c"}

CASES: list[tuple[str, Callable[[Path], Any], type[Exception], str]] = [
    # prompt files
    ("prompt file missing", lambda tmp: load_prompts(tmp / "no.jsonl"), PromptFileError,
     r"no\.jsonl: prompt file not found"),
    ("prompt file empty", _prompts("p.jsonl", ""), PromptFileError, r"p\.jsonl: no prompts"),
    ("prompt file not UTF-8", _prompts("p.jsonl", b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n'),
     PromptFileError, r"p\.jsonl:2: not UTF-8"),
    ("prompt JSONL malformed", _prompts("p.jsonl", '{"prompt": "a"}\n{oops\n'), PromptFileError,
     r"p\.jsonl:2: invalid JSON"),
    ("prompt column missing", _prompts("p.jsonl", _jsonl({"text": "a"})), PromptFileError,
     r"p\.jsonl:1: missing or empty 'prompt'"),
    ("prompt empty", _prompts("p.csv", "prompt,label\n  ,benign\n"), PromptFileError,
     r"p\.csv:2: missing or empty 'prompt'"),
    ("label unknown, no label_map",
     _prompts("p.jsonl", _jsonl({"prompt": "a", "label": "unsafe"})), PromptFileError,
     r"p\.jsonl:1: 'label' value 'unsafe'.*label_map"),
    ("duplicate ids", _prompts("p.jsonl", _jsonl(DUP, {**DUP, "prompt": "b"})), PromptFileError,
     r"p\.jsonl:2: duplicate id 'x' \(first at line 1\)"),
    ("1 MB prompt", _prompts("p.jsonl", _jsonl({"prompt": LONG})), PromptFileError,
     r"p\.jsonl:1: the 'prompt' has 1,000,001 characters"),
    ("control characters", _prompts("p.jsonl", _jsonl({"prompt": "a\x00b"})), PromptFileError,
     r"p\.jsonl:1: the 'prompt' holds control character U\+0000"),
    ("prompt file type", _prompts("p.txt", "a prompt\n"), PromptFileError,
     r"p\.txt: unsupported prompt file type"),
    # preference files
    ("preference file missing", lambda tmp: load_preferences(tmp / "no.jsonl"),
     PreferenceFileError, r"no\.jsonl: preference file not found"),
    ("preference file empty", _prefs("q.jsonl", ""), PreferenceFileError,
     r"q\.jsonl: no preference pairs"),
    ("preference file not UTF-8", _prefs("q.jsonl", b'{"prompt": "caf\xe9"}\n'),
     PreferenceFileError, r"q\.jsonl:1: not UTF-8"),
    ("preference JSONL malformed", _prefs("q.jsonl", '{"prompt": "a", "chosen": "b"\n'),
     PreferenceFileError, r"q\.jsonl:1: invalid JSON"),
    ("preference column missing", _prefs("q.jsonl", _jsonl({"prompt": "a", "chosen": "b"})),
     PreferenceFileError, r"q\.jsonl:1: missing or empty 'rejected'"),
    ("chosen equals rejected", _prefs("q.jsonl", _jsonl({**PAIR, "rejected": "b"})),
     PreferenceFileError, r"q\.jsonl:1: 'chosen' and 'rejected' are the same response"),
    ("transcript without assistant turn", _prefs("q.jsonl", _jsonl(HH_NO_ASSISTANT)),
     PreferenceFileError, r"q\.jsonl:1: 'chosen' transcript has no"),
    ("1 MB response", _prefs("q.jsonl", _jsonl({**PAIR, "chosen": LONG})), PreferenceFileError,
     r"q\.jsonl:1: the 'chosen' has 1,000,001 characters"),
    ("control characters in a response",
     _prefs("q.jsonl", _jsonl({**PAIR, "chosen": "b\x1b[31m"})),
     PreferenceFileError, r"q\.jsonl:1: the 'chosen' holds control character U\+001B"),
    # reward models
    ("unknown reward model", lambda tmp: make_reward_model("nosuch"), RewardModelError,
     r"unknown reward model 'nosuch'; registered: .*rule"),
    ("unknown cost model", lambda tmp: make_cost_model("nosuch"), RewardModelError,
     r"unknown cost model 'nosuch'; registered: .*learned-cost"),
    ("unknown cost model in the env",
     lambda tmp: gym.make("SafetyRLHF-v0", reward_model="rule", cost_model="nosuch"),
     RewardModelError, r"unknown cost model 'nosuch'"),
    ("bad name:argument", lambda tmp: make_reward_model("rule:extra"), RewardModelError,
     r"reward model 'rule:extra'"),
    ("bad composite weight", lambda tmp: make_reward_model("composite:rule=abc"),
     RewardModelError, r"'rule=abc' has weight 'abc', not a number"),
    ("import path missing", lambda tmp: make_reward_model("no_such_pkg.mod:score"),
     RewardModelError, r"'no_such_pkg.mod:score': cannot import 'no_such_pkg.mod'"),
    ("import attribute missing", lambda tmp: make_reward_model("safety_rlhf.reward:nope"),
     RewardModelError, r"module 'safety_rlhf.reward' has no attribute 'nope'"),
    ("callable raises", _score(_raise), RewardModelError,
     r"CallableRewardModel\('_raise'\) failed on 1 pair\(s\) with RuntimeError: the scorer broke"),
    ("callable wrong length", _score(lambda p, r: [0.0, 1.0]), RewardModelError,
     r"returned shape \(2,\) for 1 pairs"),
    ("callable NaN", _score(lambda p, r: [float("nan")]), RewardModelError,
     r"returned nan for pair 0 \(prompt='a prompt'"),
    ("callable infinity", _score(lambda p, r: [np.inf]), RewardModelError,
     r"returned inf for pair 0"),
    ("callable string", _score(lambda p, r: ["good"]), RewardModelError,
     r"returned dtype <U4; expected a numeric array"),
    ("checkpoint truncated", lambda tmp: _checkpoint(tmp, _truncate), RewardModelError,
     r"ckpt/model\.safetensors: not a readable safetensors file"),
    ("checkpoint of another encoder dimension", lambda tmp: _checkpoint(tmp, _other_dim),
     RewardModelError, r"ckpt: .*different encoder dimension"),
    ("checkpoint is a pickle", lambda tmp: _checkpoint(tmp, _pickle), RewardModelError,
     r"ckpt/model\.safetensors: is a Python pickle, not safetensors; refusing"),
    # env use
    ("action outside the space", _bad_action, ValueError, r"action 6 is not in Discrete\(6\)"),
    ("step before reset", _step_before_reset, RuntimeError, r"call reset\(\) before step\(\)"),
    ("unknown split", lambda tmp: gym.make("SafetyRLHF-v0", split="valid"), ValueError,
     r"unknown split 'valid'"),
    # issue 11: what a hostile user found
    ("lone surrogate", _prompts("p.jsonl", '{"prompt": "a\\ud800b"}\n'), PromptFileError,
     r"p\.jsonl:1: the 'prompt' holds a lone surrogate U\+D800"),
    ("deeply nested JSON",
     _prompts("p.jsonl", '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n"),
     PromptFileError, r"p\.jsonl:1: invalid JSON: nested too deeply"),
    ("5,000-digit id", _prompts("p.jsonl", '{"id": 1' + "0" * 5000 + ', "prompt": "a"}\n'),
     PromptFileError, r"p\.jsonl:1: invalid JSON: Exceeds the limit"),
    ("preference file not gzip", _prefs("q.jsonl.gz", b"not gzip at all"), PreferenceFileError,
     r"q\.jsonl\.gz: not a readable gzip file"),
    ("callable complex", _score(lambda p, r: [1 + 2j]), RewardModelError,
     r"returned dtype complex128; expected a numeric array of real numbers"),
    ("checkpoint architecture malformed", lambda tmp: _checkpoint(tmp, _bad_architecture),
     RewardModelError, r"ckpt/config\.json: 'architecture' must be an object"),
    ("model class by path that needs arguments",
     lambda tmp: make_reward_model("safety_rlhf.reward.bradley_terry:BradleyTerryRewardModel"),
     RewardModelError, r"cannot build BradleyTerryRewardModel\(\): .*path"),
    ("obs_dim not whole", lambda tmp: gym.make("SafetyRLHF-v0", encoder="hashing", obs_dim=1.5),
     ValueError, r"dim \(the env's obs_dim\) must be a whole number from 1 to 8,192, got 1\.5"),
    ("obs_dim too large",
     lambda tmp: gym.make("SafetyRLHF-v0", encoder="hashing", obs_dim=2_000_000), ValueError,
     r"obs_dim\) must be a whole number from 1 to 8,192, got 2000000"),
    ("obs_dim not MiniLM's", lambda tmp: gym.make("SafetyRLHF-v0", obs_dim=512), ValueError,
     r"MiniLMEncoder: all-MiniLM-L6-v2 embeds in 384 dimensions, not 512"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "error", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_input_is_a_clear_error(
    tmp_path: Path, build: Callable[[Path], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build(tmp_path)


def _yaml(tmp: Path, body: str) -> str:
    return str(_file(tmp, "h.yml", "SafetyRLHF-v0:\n  n_timesteps: 64\n" + body))


CLI_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("unknown algorithm", lambda tmp: ["--algo", "nosuch"], r"unknown algorithm 'nosuch'"),
    ("zero timesteps", lambda tmp: ["--timesteps", "0"], r"timesteps must be a whole number"),
    ("negative timesteps", lambda tmp: ["--timesteps", "-5"], r"timesteps must be a whole"),
    ("zero envs", lambda tmp: ["--n-envs", "0"], r"n_envs must be a whole number from 1"),
    ("unknown env id", lambda tmp: ["--env", "NoSuch-v0"], r"unknown env id 'NoSuch-v0'"),
    ("unknown hyperparameter", lambda tmp: ["--config", _yaml(tmp, "  no_such_key: 1\n")],
     r"h\.yml: SafetyRLHF-v0: unknown key\(s\) \['no_such_key'\] for PPO"),
    ("hyperparameter of a wrong type",
     lambda tmp: ["--config", _yaml(tmp, "  learning_rate: fast\n")],
     r"h\.yml: SafetyRLHF-v0: learning_rate must be a finite number > 0, <= 10, got 'fast'"),
    ("unknown reward model", lambda tmp: ["--reward-model", "nosuch"], r"unknown reward model"),
    ("unknown cost model", lambda tmp: ["--cost-model", "nosuch", "--cost-limit", "0.05"],
     r"unknown cost model 'nosuch'; registered: classifier, gold, learned-cost"),
    ("missing config file", lambda tmp: ["--config", str(tmp / "none.yml")], r"none\.yml"),
    ("kl_coef with an off-policy algorithm", lambda tmp: ["--algo", "dqn", "--kl-coef", "0.1"],
     r"kl_coef 0\.1 is not supported by DQN: the KL penalty needs the log-probability"),
    ("negative kl_coef", lambda tmp: ["--kl-coef", "-1"],
     r"kl_coef must be a finite number >= 0, got -1"),
    ("non-finite kl_coef", lambda tmp: ["--kl-coef", "nan"],
     r"kl_coef must be a finite number >= 0, got nan"),
    ("YAML with a Python tag",
     lambda tmp: ["--config", _yaml(tmp, "  gamma: !!python/name:os.system\n")],
     r"h\.yml: invalid YAML: could not determine a constructor"),
    # issue 11 §5: values SB3 would choke on, refused before the run folder exists
    ("infinite n_timesteps", lambda tmp: ["--config", _yaml(tmp, "  n_timesteps: .inf\n")],
     r"h\.yml: SafetyRLHF-v0: n_timesteps must be a whole number >= 1, <= 1e\+09, got inf"),
    ("zero n_epochs", lambda tmp: ["--config", _yaml(tmp, "  n_epochs: 0\n")],
     r"h\.yml: SafetyRLHF-v0: n_epochs must be a whole number >= 1, <= 10000, got 0"),
    ("private constructor key",
     lambda tmp: ["--config", _yaml(tmp, "  _init_setup_model: false\n")],
     r"h\.yml: SafetyRLHF-v0: '_init_setup_model' is private to PPO; refusing it"),
    ("network too large for memory",
     lambda tmp: ["--config", _yaml(tmp, "  policy_kwargs: {net_arch: [100000000]}\n")],
     r"h\.yml: SafetyRLHF-v0: policy_kwargs asks for a network of 819,300,000,000 "
     r"parameters \(counting 8,192 input features\); at most 50,000,000"),
    ("--hyperparams override out of range", lambda tmp: ["--hyperparams", "gamma:1.5"],
     r"hyperparams: gamma must be a finite number >= 0, <= 1, got 1\.5"),
    ("--hyperparams class named by a string",
     lambda tmp: ["--hyperparams", "policy_kwargs:{activation_fn: os.system}"],
     r"hyperparams: policy_kwargs: activation_fn takes a Python class, which a hyperparameter "
     r"file cannot name"),
    ("--hyperparams seed", lambda tmp: ["--hyperparams", "seed:3"],
     r"hyperparams: seed is not a hyperparameter here; use --seed"),
    ("replay buffer too large", lambda tmp: ["--algo", "dqn", "--hyperparams", "buffer_size:1e12"],
     r"hyperparams: buffer_size must be a whole number >= 1, <= 1e\+07, got 1000000000000\.0"),
    ("env not of this package", lambda tmp: ["--env", "CartPole-v1", "--vec-env", "dummy"],
     r"env 'CartPole-v1' is not a safety-rlhf-gym env; train takes "
     r"\['SafetyRLHF-v0', 'SafetyRLHF-Text-v0'\]"),
    ("overflowing kl_coef", lambda tmp: ["--kl-coef", "1e308", "--timesteps", "64"],
     r"kl_coef must be at most 1000, got 1e\+308"),
    ("cost limit above 1", lambda tmp: ["--cost-limit", "2", "--timesteps", "64"],
     r"cost_limit must be a finite number from 0.0 to 1.0, got 2\.0"),
    ("negative cost limit", lambda tmp: ["--cost-limit", "-1", "--timesteps", "64"],
     r"cost_limit must be a finite number from 0.0 to 1.0, got -1\.0"),
    ("negative checkpoint_freq", lambda tmp: ["--checkpoint-freq", "-5", "--timesteps", "64"],
     r"checkpoint_freq must be a whole number from 0 to 1,000,000,000, got -5"),
    ("negative seed", lambda tmp: ["--seed", "-1", "--timesteps", "64"],
     r"seed must be a whole number from 0 to 4,294,967,295, got -1"),
    ("seed beyond NumPy's range", lambda tmp: ["--seed", str(2**32), "--timesteps", "64"],
     r"seed must be a whole number from 0 to 4,294,967,295, got 4294967296"),
    ("too many envs", lambda tmp: ["--n-envs", "100000", "--timesteps", "64"],
     r"n_envs must be a whole number from 1 to 1,024, got 100000"),
    ("too many timesteps", lambda tmp: ["--timesteps", str(10**12)],
     r"timesteps must be a whole number from 1 to 1,000,000,000, got 1000000000000"),
    ("negative lagrange_lr",
     lambda tmp: ["--lagrange-lr", "-1", "--cost-limit", "0.1", "--timesteps", "64"],
     r"lagrange_lr must be a finite number from 0.0 to 1,000,000.0, got -1\.0"),
    ("infinite lagrange_init", lambda tmp: ["--lagrange-init", "inf", "--timesteps", "64"],
     r"lagrange_init must be a finite number from 0.0 to 1,000,000.0, got inf"),
    ("negative eval_freq", lambda tmp: ["--eval-freq", "-1", "--timesteps", "64"],
     r"eval_freq must be a whole number from 0 to 1,000,000,000, got -1"),
    ("zero torch_threads", lambda tmp: ["--torch-threads", "0", "--timesteps", "64"],
     r"torch_threads must be a whole number from 1 to 1,024, got 0"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "message"), [c[1:] for c in CLI_CASES],
                         ids=[c[0] for c in CLI_CASES])  # fmt: skip
def test_cli_bad_input_exits_2_without_traceback_or_run_folder(
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    extra: Callable[[Path], list[str]],
    message: str,
) -> None:
    runs = tmp_path / "runs"
    argv = ["train", "--log-dir", str(runs), "--no-progress-bar", *extra(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("safety-rlhf train: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
    assert not runs.exists() or not any(runs.iterdir())  # nothing half-written


REPRODUCE_CASES: list[tuple[str, list[str], str]] = [
    ("negative seed", ["--seed", "-1"],
     r"seed must be a whole number from 0 to 4,294,967,295, got -1"),
    ("seed beyond NumPy's range", ["--seed", str(2**32)], r"seed must be a whole number"),
    ("zero epochs", ["--epochs", "0"], r"epochs must be a whole number from 1 to 1,000, got 0"),
    ("too many epochs", ["--epochs", "100000"],
     r"epochs must be a whole number from 1 to 1,000, got 100000"),
    ("NaN update step", ["--lr", "nan"], r"lr must be a number from 1e-06 to 1, got nan"),
    ("zero agent timesteps", ["--timesteps", "0"], r"timesteps must be a whole number from 1"),
    ("negative toy timesteps", ["--toy-timesteps", "-4"], r"toy_timesteps must be a whole"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "message"), [c[1:] for c in REPRODUCE_CASES],
                         ids=[c[0] for c in REPRODUCE_CASES])  # fmt: skip
def test_reproduce_bad_input_exits_2_before_its_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str
) -> None:
    import re

    # --no-agents only where the agents' budgets are not the point (they are checked first)
    agents = [] if any("timesteps" in a for a in extra) else ["--no-agents"]
    argv = ["reproduce", "behavior-controlled", "--log-dir", str(tmp_path / "runs"), *agents]
    assert main([*argv, *extra]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("safety-rlhf reproduce: error: ") and re.search(message, line), line
    assert not (tmp_path / "runs").exists()  # it made its folder first (issue 11 §5)


def test_benchmark_out_folder_holding_another_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cell = tmp_path / "runs" / "ppo__kl0__seed0"
    cell.mkdir(parents=True)
    (cell / "done.json").write_text(json.dumps({"settings": {"timesteps": 999}}))
    argv = ["benchmark", "--algos", "ppo", "--seeds", "1", "--timesteps", "64",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ppo__kl0__seed0 were made with other settings" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing else written


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        main(["--debug", "train", "--algo", "nosuch", "--log-dir", str(tmp_path)])


def test_the_table_has_at_least_30_cases() -> None:
    # + the benchmark case above
    assert len(CASES) + len(CLI_CASES) + len(REPRODUCE_CASES) + 1 >= 30
