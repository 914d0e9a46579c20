"""Running independent work on Ray: ``benchmark --backend ray`` cells and ``tune`` trials.

Ray is an optional extra (``pip install "safety-rlhf-gym[ray]"``): this module imports it
only when a command asks for the Ray backend (:func:`import_ray`), so that the package and
its local backends work without it.

:func:`check_ray` refuses what can be refused before anything is written: Ray missing, an
``--address`` where nothing listens (within seconds: ``ray.init`` itself waits without end),
where no Ray cluster answers or one refuses this driver (a trial join in a child process,
within a minute), or a CPU request no node can meet (the task would wait for ever).
:func:`ray_session` then starts a new local Ray instance with the machine's cores, or joins
the cluster at ``--address``.
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
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any

from safety_rlhf.agents.interrupts import SIGNALS, Interrupted
from safety_rlhf.experiments.extras import import_extra

__all__ = [
    "BACKENDS",
    "RAY_INSTALL",
    "check_address",
    "check_cluster",
    "check_ray",
    "cpu_count",
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
    return import_extra("ray", "--backend ray", RAY_INSTALL)


def _split_address(address: str) -> tuple[str, int]:
    hostport = address.removeprefix("ray://")
    host, sep, port_text = hostport.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address: [::1]:6379
    elif "[" in host or "]" in host or ":" in host:
        host = ""  # unbalanced brackets, or an IPv6 address without them
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(
            f"--address {address!r}: expected HOST:PORT, e.g. 127.0.0.1:6379 or [::1]:6379"
        )
    return host, int(port_text)


def check_address(address: str) -> tuple[str, int]:
    """``address`` (``HOST:PORT``, ``[IPv6]:PORT`` or ``ray://HOST:PORT``) as (host, port),
    once a TCP connection to it has succeeded within :data:`CONNECT_TIMEOUT` seconds.

    :raises ValueError: one line naming ``--address`` for a malformed or unreachable address.
    """
    host, port = _split_address(address)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        start = (
            "'ray start --head --ray-client-server-port=PORT'"
            if address.startswith("ray://")
            else f"'ray start --head --port={port}'"
        )
        raise ValueError(
            f"--address {address}: no Ray cluster reachable there ({reason}); start one with "
            f"{start} or drop --address to start a local one"
        ) from None
    return host, port


#: Seconds a trial join of ``--address`` may take (:func:`check_cluster`).
JOIN_TIMEOUT = 60.0

_JOIN_SCRIPT = """
import sys
import ray
ray.init(address=sys.argv[1], include_dashboard=False, configure_logging=False)
print("cpus", max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0))
ray.shutdown()
"""


def _join_error(address: str, reason: str, said: str = "") -> str:
    """One line on why joining the cluster at ``address`` failed (``reason``: Ray's last
    error; ``said``: all Ray printed, where an authentication failure shows)."""
    text = f"{reason}\n{said}".lower()
    if "invalidauthtoken" in text or "authenticationerror" in text:
        return (
            f"--address {address}: the cluster refused the connection: it uses token "
            "authentication; run with RAY_AUTH_MODE=token and the cluster's token in "
            "RAY_AUTH_TOKEN or ~/.ray/auth_token ('ray get-auth-token' on the head prints it)"
        )
    return f"--address {address}: Ray could not join the cluster: {reason}"


def check_cluster(address: str, cpus_per_task: float) -> None:
    """Refuse ``address`` unless a Ray cluster there accepts this driver, within
    :data:`JOIN_TIMEOUT` seconds, and has a node with ``cpus_per_task`` CPUs.

    The trial join runs in a child process: ``ray.init`` waits without end for an address
    where something listens but no Ray answers, and cannot be interrupted safely.

    :raises ValueError: one line naming ``--address`` (or ``--cpus-per-*``) and why.
    """
    check_address(address)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _JOIN_SCRIPT, address],
            capture_output=True,
            text=True,
            timeout=JOIN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(
            f"--address {address}: no Ray cluster answered there within {JOIN_TIMEOUT:.0f} s"
        ) from None
    if done.returncode != 0:
        lines = [x for x in done.stderr.splitlines() if x.strip()]
        errors = [x for x in lines if "Error" in x.split(":", 1)[0]] or lines or ["no output"]
        raise ValueError(_join_error(address, errors[-1].strip(), done.stderr))
    cpus = float(done.stdout.split()[-1])
    if cpus_per_task > cpus:
        raise ValueError(
            f"--cpus-per-run/--cpus-per-trial {cpus_per_task:g}: the largest node of the "
            f"cluster at {address} has {cpus:g} CPU(s); every task would wait for ever"
        )


def check_ray(address: str | None, cpus_per_task: float, local_cpus: int | None) -> None:
    """Everything about a Ray run that can be refused before it starts: Ray installed, the
    cluster at ``address`` joinable (:func:`check_cluster`), or, for a local instance of
    ``local_cpus`` CPUs (``None``: the machine's), ``cpus_per_task`` within it.

    :raises ValueError: one line naming the flag and why.
    """
    import_ray()
    if address is not None:
        check_cluster(address, cpus_per_task)
        return
    cpus = local_cpus or cpu_count()
    if cpus_per_task > cpus:
        raise ValueError(
            f"--cpus-per-run/--cpus-per-trial {cpus_per_task:g}: the local Ray instance has "
            f"{cpus} CPU(s); every task would wait for ever"
        )


def cpu_count() -> int:
    """The CPUs this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


@contextmanager
def ray_session(address: str | None, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Ray, connected for the duration of the block, and shut down (or disconnected) after it.

    :param address: an existing cluster's ``HOST:PORT`` (or ``ray://HOST:PORT``); ``None``
        starts a new local instance (never a cluster named by ``RAY_ADDRESS`` or started
        by ``ray start`` on this machine: ``address="local"``).
    :param num_cpus: CPUs of the local instance (``None``: the machine's); ignored when
        joining a cluster, whose nodes declared their own.
    :raises ValueError: when Ray is missing or the cluster at ``address`` refuses this
        driver (e.g. a token it lacks). :func:`check_ray` refuses these beforehand.

    SIGINT and SIGTERM raise :class:`~safety_rlhf.agents.interrupts.Interrupted` inside the
    block and while Ray starts, as in the rest of the package (``ray.init`` installs a
    handler of its own, replaced here once it returns; a signal that arrives inside a Ray
    call, which Ray turns into a plain ``KeyboardInterrupt``, comes out as the
    ``Interrupted`` of that signal). Ray is shut down however the block ends.
    """
    ray = import_ray()
    env_vars = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "configure_logging": False,
        "runtime_env": {"env_vars": env_vars} if env_vars else None,
    }
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise Interrupted(signum)

    main = _main_thread()
    previous = {s: signal.signal(s, on_signal) for s in SIGNALS} if main else {}
    try:
        if address is None:
            ray.init(address="local", num_cpus=num_cpus, **kwargs)
        else:
            try:
                ray.init(address=address, **kwargs)
            except Exception as exc:  # ConnectionError, with Ray's reason as its cause
                cause = exc.__cause__ or exc
                reason = f"{type(cause).__name__}: {cause}"
                raise ValueError(
                    _join_error(address, f"{type(exc).__name__}: {exc}", reason)
                ) from exc
        if main:  # ray.init put its own SIGTERM handler in
            for s in SIGNALS:
                signal.signal(s, on_signal)
        yield ray
    except KeyboardInterrupt as exc:
        if isinstance(exc, Interrupted):
            raise
        # a signal that arrived inside a Ray call comes out as a plain KeyboardInterrupt
        raise Interrupted(received[-1] if received else signal.SIGINT) from None
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        if ray.is_initialized():
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
