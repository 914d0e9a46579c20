"""Errors reach the user as one line (issue 11 §5), whatever the library put in them."""

from __future__ import annotations

import argparse

import pytest

from safety_rlhf.experiments.cli_errors import MAX_MESSAGE_CHARS, reported


def test_a_multi_line_library_message_is_printed_on_one_line(
    capsys: pytest.CaptureFixture,
) -> None:
    @reported("train")
    def handler(args: argparse.Namespace) -> int:
        raise ValueError("shape mismatch:\n  tensor([[1., 2.],\n          [3., 4.]])\n")

    assert handler(argparse.Namespace()) == 2
    err = capsys.readouterr().err
    assert err == "safety-rlhf train: error: shape mismatch: tensor([[1., 2.], [3., 4.]])\n"


def test_a_huge_message_is_cut(capsys: pytest.CaptureFixture) -> None:
    @reported("evaluate")
    def handler(args: argparse.Namespace) -> int:
        raise ValueError("x" * 100_000)

    assert handler(argparse.Namespace()) == 2
    line = capsys.readouterr().err.rstrip("\n")
    assert line.startswith("safety-rlhf evaluate: error: xxx") and line.endswith("...")
    assert len(line) == len("safety-rlhf evaluate: error: ") + MAX_MESSAGE_CHARS
