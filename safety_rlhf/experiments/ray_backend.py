"""Running independent work on Ray: ``benchmark --backend ray`` cells and ``tune`` trials.

Ray is an optional extra (``pip install "safety-rlhf-gym[ray]"``): this module imports it
only when a command asks for the Ray backend (:func:`import_ray`), so that the package and
its local backends work without it.

:func:`ray_session` starts a local Ray instance with the machine's cores, or joins the
cluster at ``--address`` after checking, in a few seconds, that something listens there
(``ray.init`` itself waits without end for an unreachable address).
:func:`run_ray_tasks` runs one function over many items as Ray tasks, each with its own CPU
request, hands every result to a callback on the driver as it arrives, and on any exception
(SIGINT and SIGTERM included) cancels every task, running ones too, before re-raising.

A task's function must be importable by the workers (a module-level function of this
package): every node needs the package installed, at the driver's version.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any

from safety_rlhf.agents.interrupts import SIGNALS, Interrupted

__all__ = [
    "BACKENDS",
    "RAY_INSTALL",
    "check_address",
    "import_ray",
    "ray_session",
    "run_ray_tasks",
]

#: The values of ``--backend``.
BACKENDS = ("local", "ray")

#: The pip command that installs Ray, named by every error about a missing Ray.
RAY_INSTALL = 'pip install "safety-rlhf-gym[ray]"'

#: Seconds to wait for a TCP connection to ``--address`` before calling it unreachable.
CONNECT_TIMEOUT = 5.0

#: Environment variables the driver passes to every worker: where the package's caches are.
_PASSED_ENV = ("SAFETY_RLHF_CACHE",)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def import_ray() -> ModuleType:
    """The ``ray`` module.

    :raises ValueError: naming :data:`RAY_INSTALL` when Ray is not installed.
    """
    try:
        import ray  # an optional extra: imported only when the Ray backend is asked for
    except ImportError:
        raise ValueError(f"--backend ray needs Ray, not installed here: {RAY_INSTALL}") from None
    return ray


def check_address(address: str) -> tuple[str, int]:
    """``address`` (``HOST:PORT`` or ``ray://HOST:PORT``) as (host, port), once a TCP
    connection to it has succeeded within :data:`CONNECT_TIMEOUT` seconds.

    :raises ValueError: one line naming ``--address`` for a malformed or unreachable address.
    """
    hostport = address.removeprefix("ray://")
    host, sep, port_text = hostport.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"--address {address!r}: expected HOST:PORT, e.g. 127.0.0.1:6379")
    port = int(port_text)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(
            f"--address {address}: no Ray cluster reachable there ({reason}); start one with "
            f"'ray start --head --port={port}' or drop --address to start a local one"
        ) from None
    return host, port


def _join_error(address: str, exc: Exception) -> str:
    """One line on why joining the cluster at ``address`` failed."""
    cause = exc.__cause__ or exc
    if "auth" in type(cause).__name__.lower() or "token" in str(cause).lower():
        return (
            f"--address {address}: the cluster refused the connection: it uses token "
            "authentication; run with RAY_AUTH_MODE=token and the cluster's token in "
            "RAY_AUTH_TOKEN or ~/.ray/auth_token ('ray get-auth-token' on the head prints it)"
        )
    return f"--address {address}: Ray could not join the cluster: {type(cause).__name__}: {cause}"


@contextmanager
def ray_session(address: str | None, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Ray, connected for the duration of the block, and shut down (or disconnected) after it.

    :param address: an existing cluster's ``HOST:PORT`` (or ``ray://HOST:PORT``); ``None``
        starts a local instance.
    :param num_cpus: CPUs of the local instance (``None``: the machine's); ignored when
        joining a cluster, whose nodes declared their own.
    :raises ValueError: when Ray is missing, ``address`` unreachable (checked first), or
        the cluster there refuses this driver (e.g. a token it lacks).

    SIGINT and SIGTERM raise :class:`~safety_rlhf.agents.interrupts.Interrupted` inside the
    block, as in the rest of the package (``ray.init`` installs a handler of its own; a
    signal that arrives inside a Ray call, which Ray turns into a plain ``KeyboardInterrupt``,
    comes out as the ``Interrupted`` of that signal).
    """
    ray = import_ray()
    if address is not None:
        check_address(address)
    env_vars = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "configure_logging": False,
        "runtime_env": {"env_vars": env_vars} if env_vars else None,
    }
    if address is None:
        ray.init(num_cpus=num_cpus, **kwargs)
    else:
        try:
            ray.init(address=address, **kwargs)
        except Exception as exc:  # ConnectionError, with Ray's reason as its cause
            raise ValueError(_join_error(address, exc)) from exc
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, on_signal) for s in SIGNALS} if _main_thread() else {}
    try:
        yield ray
    except KeyboardInterrupt as exc:
        if isinstance(exc, Interrupted):
            raise
        # a signal that arrived inside a Ray call comes out as a plain KeyboardInterrupt
        raise Interrupted(received[-1] if received else signal.SIGINT) from None
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        ray.shutdown()


def run_ray_tasks(
    ray: ModuleType,
    func: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    num_cpus: float,
    on_result: Callable[[int, Any], None],
    on_error: Callable[[int, BaseException], None],
) -> None:
    """Run ``func(*calls[i])`` for every ``i`` as a Ray task requesting ``num_cpus`` CPUs.

    :param on_result: called on the driver with ``(i, result)`` as each task finishes.
    :param on_error: called with ``(i, exception)`` for a task that raised or whose worker
        died; the other tasks go on.

    On any exception (an :class:`~safety_rlhf.agents.interrupts.Interrupted` included),
    every task not finished is cancelled, running ones forcibly, before it propagates.
    """
    remote = ray.remote(num_cpus=num_cpus, max_retries=0)(func)
    refs = {remote.remote(*args): i for i, args in enumerate(calls)}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            i = refs.pop(ready[0])
            try:
                value = ray.get(ready[0])
            except Exception as exc:  # the task raised, or its worker died
                on_error(i, exc)
            else:
                on_result(i, value)
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
