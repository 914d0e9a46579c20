"""SIGINT and SIGTERM: how a run stops when asked to, losing nothing it trained.

:class:`Interrupted` is the exception both signals become (a ``KeyboardInterrupt``, so code
that handles Ctrl-C handles SIGTERM the same way); :func:`signals_raise` makes them raise it.
:class:`StopOnSignal` is the callback ``safety-rlhf train`` learns with: the first signal is
held until the next rollout boundary, where the callback writes a checkpoint (as
:class:`~safety_rlhf.agents.checkpoints.RunCheckpointCallback` does, so that a resumed run
ends with the step and update counts of an uninterrupted one) and raises
:class:`Interrupted`; a second signal raises at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import SubprocVecEnv

from safety_rlhf.agents.checkpoints import save_run_checkpoint

__all__ = [
    "SIGNALS",
    "Interrupted",
    "StopOnSignal",
    "SubprocVecEnvIgnoringSigint",
    "signals_raise",
]

#: The signals that stop a run: Ctrl-C and ``kill``'s default.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run was stopped by SIGINT or SIGTERM.

    :param signum: the signal.
    :param checkpoint: the ``state.json`` of the checkpoint written on the way out, if any.
    """

    def __init__(self, signum: int, checkpoint: Path | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.checkpoint = checkpoint
        self.run_dir: Path | None = None
        """The run folder of the interrupted run, once it exists (set by ``train``)."""

    @property
    def name(self) -> str:
        """``"SIGINT"`` or ``"SIGTERM"``."""
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        """The shell's status of a process the signal ended: ``128 + signum`` (130, 143)."""
        return 128 + self.signum


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def signals_raise() -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM raise :class:`Interrupted`; the previous
    handlers are restored after it (main thread only; elsewhere the block runs as is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


class StopOnSignal(BaseCallback):
    """Stop learning at the first rollout boundary after SIGINT or SIGTERM, with a checkpoint.

    Learn between :meth:`arm` and :meth:`disarm`. The first signal is held; at the next rollout
    start (after the previous rollout's gradient updates), or at the end of training if the
    signal came during the last rollout, the callback writes a checkpoint into ``folder``
    and raises :class:`Interrupted` carrying its path. A second signal raises at once, with
    no checkpoint (the last periodic one stays).

    :param folder: the run's ``checkpoint/`` folder.
    :param extra: returns more state to store in the checkpoint (e.g. the multiplier).
    """

    def __init__(self, folder: Path, extra: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.extra = extra
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise Interrupted(signum)
        self.signum = signum

    def arm(self) -> None:
        """From now on, hold SIGINT and SIGTERM until the next rollout boundary (main
        thread only; elsewhere a no-op). Call :meth:`disarm` in a ``finally``."""
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._hold) for s in SIGNALS}

    def disarm(self) -> None:
        """Put back the handlers :meth:`arm` replaced."""
        for s, old in self._previous.items():
            signal.signal(s, old)
        self._previous = {}

    def _stop_here(self) -> None:
        if self.signum is not None:
            extra = self.extra() if self.extra else None
            state = save_run_checkpoint(self.model, self.folder, extra)
            raise Interrupted(self.signum, checkpoint=state)

    def _on_rollout_start(self) -> None:
        self._stop_here()

    def _on_training_end(self) -> None:
        self._stop_here()

    def _on_step(self) -> bool:
        return True


class _IgnoringSigint:
    """An env factory whose ``SubprocVecEnv`` worker ignores SIGINT."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    def __call__(self) -> Any:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return self.make()


class SubprocVecEnvIgnoringSigint(SubprocVecEnv):
    """A ``SubprocVecEnv`` whose workers ignore SIGINT: a Ctrl-C at the terminal reaches
    every process of the foreground group, and the training process alone decides when to
    stop (its workers end when it closes them or exits).

    :param env_fns: the env factories, as for ``SubprocVecEnv``.
    :param start_method: as for ``SubprocVecEnv`` (default: ``forkserver`` where available).
    """

    def __init__(self, env_fns: list[Callable[[], Any]], start_method: str | None = None) -> None:
        super().__init__([_IgnoringSigint(f) for f in env_fns], start_method)
