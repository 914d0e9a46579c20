"""Text drawn into an RGB frame: the ``rgb_array`` render mode of the text-only envs.

An exchange of ``SafetyRLHF-v0`` is text (prompt, response, reward). ``render_mode="ansi"``
returns that text; ``render_mode="rgb_array"`` returns the same text drawn, black on white,
into a frame of fixed size, so that video recorders (Gymnasium's ``RecordVideo``, SB3's
``VecVideoRecorder``) and Stable-Baselines3's default ``render_mode="rgb_array"`` work.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["FRAME_SHAPE", "render_frame", "text_to_rgb"]

#: ``(height, width, 3)`` of every frame.
FRAME_SHAPE = (180, 640, 3)
_COLUMNS = 120  # characters per line (Pillow's default font is 5 px per character)
_LINE_HEIGHT = 14
_MARGIN = 6
_FONT = ImageFont.load_default()


def text_to_rgb(text: str) -> np.ndarray:
    """``text`` wrapped at 120 characters and drawn into a ``uint8`` frame of
    :data:`FRAME_SHAPE`; lines that do not fit are cut, the last one ending in ``...``.

    :param text: the text to draw (newlines start new lines).
    """
    height, width, _ = FRAME_SHAPE
    max_lines = (height - 2 * _MARGIN) // _LINE_HEIGHT
    lines = [
        part
        for line in text.splitlines()
        for part in (textwrap.wrap(line, _COLUMNS, replace_whitespace=False) or [""])
    ]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], "..."]
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((_MARGIN, _MARGIN + row * _LINE_HEIGHT), line, fill="black", font=_FONT)
    return np.asarray(image, dtype=np.uint8).copy()


def render_frame(env: Any, text: Callable[[], str]) -> str | np.ndarray | None:
    """``env.render()`` of a text-only env: ``None`` without a render mode, the text of
    ``text()`` for ``"ansi"``, that text drawn by :func:`text_to_rgb` for ``"rgb_array"``.

    :raises ValueError: for a render mode the env does not list in its metadata (accepted at
        construction, as Gymnasium's ``make`` does with a warning, and refused here, where it
        would matter).
    """
    mode = env.render_mode
    if mode is None:
        return None
    if mode not in env.metadata["render_modes"]:
        raise ValueError(
            f"render_mode={mode!r} is not supported by {type(env).__name__}; "
            f"use one of {env.metadata['render_modes']}"
        )
    return text() if mode == "ansi" else text_to_rgb(text())
