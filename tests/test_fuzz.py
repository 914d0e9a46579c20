"""Property-based tests: whatever the input, the loaders and the spec parser either succeed
or raise their documented error (1,300 generated inputs in all)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from safety_rlhf.data.preferences import PreferenceFileError, load_preferences
from safety_rlhf.data.prompts import PromptFileError, PromptSet, load_prompts
from safety_rlhf.reward import RewardModel, RewardModelError, make_reward_model

# derandomize: the same 1,300 inputs on every run (CI stays reproducible); no example database
SETTINGS = settings(
    max_examples=325,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# JSON values and rows that look like the real thing often enough to get past the parser
_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
_keys = st.sampled_from(["prompt", "label", "id", "category", "split", "chosen", "rejected",
                         "text", "subtype"])  # fmt: skip
_rows = st.dictionaries(_keys, _values, max_size=6)
_jsonl = st.lists(_rows, max_size=6).map(lambda rows: "".join(json.dumps(r) + "\n" for r in rows))
_file_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    _jsonl.map(str.encode),
)


@contextlib.contextmanager
def _written(suffix: str, data: bytes) -> Iterator[Path]:
    """A file holding ``data``, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="safety-rlhf-fuzz-") as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        yield path


@SETTINGS
@given(data=_file_bytes, suffix=st.sampled_from([".jsonl", ".csv"]))
def test_prompt_loader_raises_only_prompt_file_errors(data: bytes, suffix: str) -> None:
    with _written(suffix, data) as path:
        try:
            prompts = load_prompts(path)
        except PromptFileError:
            return
    assert isinstance(prompts, PromptSet) and len(prompts) > 0


@SETTINGS
@given(data=_file_bytes, suffix=st.sampled_from([".jsonl", ".csv"]))
def test_preference_loader_raises_only_preference_file_errors(data: bytes, suffix: str) -> None:
    with _written(suffix, data) as path:
        try:
            prefs = load_preferences(path)
        except PreferenceFileError:
            return
    assert len(prefs.prompts) == len(prefs.chosen) == len(prefs.rejected) > 0


_names = st.sampled_from(["rule", "gold", "constitution", "composite", "learned", "hf",
                          "bradley-terry", "nosuch", "", " "])  # fmt: skip
_specs = st.one_of(
    st.text(max_size=40),
    st.builds(lambda n, a: f"{n}:{a}", _names, st.text(max_size=30)),
    st.builds(
        lambda parts: "composite:" + ",".join(parts),
        st.lists(
            st.builds(lambda n, w: f"{n}={w}", _names, st.one_of(st.floats(), st.text(max_size=5))),
            max_size=4,
        ),
    ),
)


def _imports_a_real_module(spec: str) -> bool:
    """Whether ``spec`` would import an installed module (``package.module:object``)."""
    module, sep, _ = spec.strip().partition(":")
    if not sep or not module or not all(p.isidentifier() for p in module.split(".")):
        return False
    return importlib.util.find_spec(module.split(".")[0]) is not None


@SETTINGS
@given(spec=_specs)
def test_spec_parser_raises_only_reward_model_errors(spec: str) -> None:
    # never import what happens to be installed (a generated "os:system" is only wrapped,
    # but importing arbitrary modules is not this test's business)
    assume(not _imports_a_real_module(spec) or spec.strip().partition(":")[0] == "composite")
    try:
        model = make_reward_model(spec)
    except RewardModelError:
        return
    assert isinstance(model, RewardModel)


@SETTINGS
@given(text=st.text(max_size=200), label=st.sampled_from(["harmful", "benign", "unsafe", ""]))
def test_single_rows_load_or_name_their_line(text: str, label: str) -> None:
    row = (json.dumps({"prompt": text, "label": label}) + "\n").encode()
    with _written(".jsonl", row) as path:
        try:
            prompts = load_prompts(path)
        except PromptFileError as exc:
            assert f"{path}" in str(exc)
            return
    assert prompts.prompts == [text]
