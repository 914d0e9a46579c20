"""How subcommands report bad input: one line on stderr and exit status 2, no traceback
(``safety-rlhf --debug COMMAND`` shows it)."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

__all__ = ["MAX_MESSAGE_CHARS", "one_line", "reported"]

#: The longest error message printed; a library's message can hold a whole tensor.
MAX_MESSAGE_CHARS = 400


def one_line(message: str) -> str:
    """``message`` on one line (white space runs folded), cut to :data:`MAX_MESSAGE_CHARS`.

    >>> one_line("bad value:\\n  tensor([[1., 2.],\\n          [3., 4.]])")
    'bad value: tensor([[1., 2.], [3., 4.]])'
    """
    text = " ".join(message.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


Handler = Callable[[argparse.Namespace], int]


def reported(command: str | Callable[[argparse.Namespace], str]) -> Callable[[Handler], Handler]:
    """Decorate a subcommand handler so ``ValueError`` / ``OSError`` (which include
    ``PromptFileError`` and ``RewardModelError``) print ``safety-rlhf COMMAND: error: ...``
    and return 2; with ``--debug`` (``args.debug``) the exception propagates, traceback and all.

    :param command: the command name, or a function of the parsed arguments giving it.
    """

    def decorator(func: Handler) -> Handler:
        @functools.wraps(func)
        def wrapper(args: argparse.Namespace) -> int:
            try:
                return func(args)
            except (ValueError, OSError) as exc:
                if getattr(args, "debug", False):
                    raise
                name = command(args) if callable(command) else command
                print(f"safety-rlhf {name}: error: {one_line(str(exc))}", file=sys.stderr)
                return 2

        return wrapper

    return decorator
