"""The package's optional extras, imported only by the commands that use them."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_extra"]


def import_extra(module: str, needed_by: str, install: str) -> ModuleType:
    """The optional dependency ``module``, imported now.

    :param module: its import name (``"ray"``, ``"optuna"``).
    :param needed_by: what needs it, for the message (``"--backend ray"``, ``"tune"``).
    :param install: the pip command that installs it.
    :raises ValueError: one line naming ``install`` when ``module`` is not installed.

    >>> import_extra("no_such_module_here", "this example", 'pip install "x[y]"')
    Traceback (most recent call last):
    ...
    ValueError: this example needs no_such_module_here, not installed here: pip install "x[y]"
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"{needed_by} needs {module}, not installed here: {install}") from None
