"""Peak memory (resident set size, MiB) of ``SafetyRLHF-v0``, one process and many workers.

(a) One process each, run as ``python -c ...`` so nothing else is loaded: a bare
interpreter, ``import gymnasium``, ``CartPole-v1`` made and stepped ``--steps`` times
(default 10,000, random actions from a seeded generator, reset at episode ends), and the
same for ``SafetyRLHF-v0`` (``import safety_rlhf``, the default env: ``learned``
reward). Each child prints its own peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).

(b) 16 envs stepped ``--vec-steps`` times (default 2,000), each setup in a fresh child
process of this script:

- ``SubprocVecEnv``: ``make_vec_env("safety_rlhf:SafetyRLHF-v0", n_envs=16,
  vec_env_cls=SubprocVecEnv)`` (SB3's default start method, ``forkserver``, whose workers
  do not inherit the parent's imports: the ``safety_rlhf:`` prefix registers the id
  there). Every worker's RSS is sampled with psutil every ``--sample-every`` steps, and
  its unique set size (USS, memory no other process shares) and proportional set size
  (PSS) every ``--uss-every`` steps (reading them is slow); per-worker maxima are summed
  and the parent's own peak RSS added. Summed RSS counts shared pages (the Python
  runtime, libraries) once per worker, so it overstates the total; parent RSS + summed USS
  understates it; summed PSS is in between and closest to the truth. The helper processes
  (the forkserver) are listed apart;
- ``DummyVecEnv``: the same 16 envs in one process (SB3's default ``make_vec_env``);
- native: ``gym.make_vec("SafetyRLHF-v0", num_envs=16,
  vectorization_mode="vector_entry_point")``, one batched env in one process (skipped,
  with the reason, when it cannot be made).

"parent RSS after imports" is the parent's RSS before any env is built (the native row
imports no SB3, hence no torch; the others do): the peak minus it is what the envs cost.
"start s" is the time to build the vec env and finish its first ``reset`` (for
``SubprocVecEnv``: until all 16 workers have answered). Every process uses the on-disk
caches (``$SAFETY_RLHF_CACHE``, default ``~/.cache/safety_rlhf``: MiniLM embeddings and the
env's prompt tables) as in normal use: with warm caches the env loads its tables without
running the reward model (nor importing torch); the very first run on a machine (or after
the package's code changed) fills them and is slower and larger.

Run (about 1 minute with the defaults)::

    python benchmarks/memory.py
    python benchmarks/memory.py --n-envs 8 --vec-steps 5000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time
from typing import Any

from _common import fmt_float, machine_line, markdown_table

OURS = "SafetyRLHF-v0"

# ru_maxrss is in KiB on Linux (bytes on macOS).
_RU_MAXRSS_MIB = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20

_PEAK = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
_STEP = """
import gymnasium as gym
import numpy as np
{imports}
env = gym.make({env_id!r})
env.reset(seed=0)
actions = np.random.default_rng(0).integers(0, env.action_space.n, size={steps}).tolist()
for a in actions:
    _, _, terminated, truncated, _ = env.step(a)
    if terminated or truncated:
        env.reset()
"""


def single_process_rows(steps: int) -> list[list[str]]:
    """Peak RSS of the ``python -c`` children of part (a)."""
    cases = [
        ("bare interpreter (python -c pass)", ""),
        ("import gymnasium", "import gymnasium"),
        (
            f"CartPole-v1, {steps:,} steps",
            _STEP.format(imports="", env_id="CartPole-v1", steps=steps),
        ),
        (
            f"{OURS} (default env), {steps:,} steps",
            _STEP.format(imports="import safety_rlhf", env_id=OURS, steps=steps),
        ),
    ]
    rows = []
    base: float | None = None
    for name, code in cases:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", f"{code}\n{_PEAK}"],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        mib = int(out.stdout.strip().splitlines()[-1]) * _RU_MAXRSS_MIB
        if name == "import gymnasium":
            base = mib
        extra = "" if base is None or name == "import gymnasium" else fmt_float(mib - base, 1)
        rows.append([name, fmt_float(mib, 1), extra, fmt_float(seconds, 1)])
    return rows


# --- part (b): runs inside a child process of this script (--child KIND) ---------------


def child(kind: str, n_envs: int, steps: int, sample_every: int, uss_every: int) -> dict[str, Any]:
    """Build a 16-env setup of ``kind``, step it, and return its memory figures."""
    import gymnasium as gym
    import numpy as np
    import psutil

    import safety_rlhf  # noqa: F401  (registers SafetyRLHF-v0)

    if kind != "native":  # SB3 (and with it torch) only where it is needed
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    me = psutil.Process()
    imports_mib = me.memory_info().rss / 2**20
    start = time.perf_counter()
    if kind == "native":
        venv: Any = gym.make_vec(OURS, num_envs=n_envs, vectorization_mode="vector_entry_point")
        venv.reset(seed=0)
    else:
        cls = SubprocVecEnv if kind == "subproc" else DummyVecEnv
        # "safety_rlhf:" makes gym.make import the package (so register the id) in each
        # worker: forkserver workers do not run this script's imports.
        venv = make_vec_env(
            f"safety_rlhf:{OURS}",
            n_envs=n_envs,
            seed=0,
            vec_env_cls=cls,
            env_kwargs={"render_mode": None},
        )
        venv.reset()
    start_seconds = time.perf_counter() - start

    workers = [psutil.Process(p.pid) for p in getattr(venv, "processes", [])]
    worker_pids = {w.pid for w in workers}
    others = [c for c in me.children(recursive=True) if c.pid not in worker_pids]
    peak = {key: [0] * len(workers) for key in ("rss", "uss", "pss")}

    def sample(full: bool) -> None:
        for i, w in enumerate(workers):
            if full:
                info = w.memory_full_info()
                peak["uss"][i] = max(peak["uss"][i], info.uss)
                peak["pss"][i] = max(peak["pss"][i], getattr(info, "pss", 0))
                peak["rss"][i] = max(peak["rss"][i], info.rss)
            else:
                peak["rss"][i] = max(peak["rss"][i], w.memory_info().rss)

    n_actions = int(venv.single_action_space.n if kind == "native" else venv.action_space.n)
    actions = np.random.default_rng(0).integers(0, n_actions, size=(steps, n_envs))
    sample(full=True)
    for k, a in enumerate(actions, start=1):
        venv.step(a)
        if workers and k % sample_every == 0:
            sample(full=k % uss_every == 0)
    sample(full=True)
    other_rss = 0
    for c in others:
        with contextlib.suppress(psutil.Error):
            other_rss += c.memory_info().rss
    venv.close()
    return {
        "start_seconds": start_seconds,
        "imports_mib": imports_mib,
        "parent_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _RU_MAXRSS_MIB,
        "workers": len(workers),
        "workers_rss_mib": sum(peak["rss"]) / 2**20,
        "workers_uss_mib": sum(peak["uss"]) / 2**20,
        "workers_pss_mib": sum(peak["pss"]) / 2**20,
        "worker_rss_max_mib": max(peak["rss"], default=0) / 2**20,
        "helpers_rss_mib": other_rss / 2**20,
    }


def run_child(kind: str, args: argparse.Namespace) -> dict[str, Any] | str:
    """Run :func:`child` in a fresh process; its result, or the error text."""
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--n-envs",
        str(args.n_envs),
        "--vec-steps",
        str(args.vec_steps),
        "--sample-every",
        str(args.sample_every),
        "--uss-every",
        str(args.uss_every),
    ]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit code {out.returncode}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000, help="single-env steps in (a)")
    parser.add_argument("--n-envs", type=int, default=16, help="envs / workers in (b)")
    parser.add_argument("--vec-steps", type=int, default=2_000, help="vector steps in (b)")
    parser.add_argument("--sample-every", type=int, default=10, help="RSS sample interval")
    parser.add_argument("--uss-every", type=int, default=500, help="USS/PSS sample interval")
    parser.add_argument("--child", choices=["subproc", "dummy", "native"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        figures = child(args.child, args.n_envs, args.vec_steps, args.sample_every, args.uss_every)
        print(json.dumps(figures))
        return

    print("## (a) Peak RSS of one process\n")
    print(
        markdown_table(
            ["process", "peak RSS MiB", "over import gymnasium", "wall s"],
            single_process_rows(args.steps),
        )
    )

    n = args.n_envs
    rows = []
    notes = []
    for kind, label in (
        ("subproc", f"SubprocVecEnv, {n} workers"),
        ("dummy", f"DummyVecEnv, {n} envs in 1 process"),
        ("native", f"native vector env, {n} envs in 1 process"),
    ):
        r = run_child(kind, args)
        if isinstance(r, str):
            rows.append([label] + ["n/a"] * 7)
            notes.append(f"{label}: not available ({r})")
            continue
        if r["workers"]:
            total_rss = r["parent_mib"] + r["workers_rss_mib"]
            total_uss = r["parent_mib"] + r["workers_uss_mib"]
            total_pss = r["parent_mib"] + r["workers_pss_mib"]
            notes.append(
                f"{label}: parent {r['parent_mib']:.0f} MiB; workers peak RSS "
                f"{r['workers_rss_mib']:.0f} MiB in all (largest {r['worker_rss_max_mib']:.0f}), "
                f"USS {r['workers_uss_mib']:.0f}, PSS {r['workers_pss_mib']:.0f}; "
                f"helper processes (forkserver) {r['helpers_rss_mib']:.0f} MiB RSS, "
                "not in the totals"
            )
            cells = [fmt_float(total_rss, 0), fmt_float(total_pss, 0), fmt_float(total_uss, 0)]
        else:
            cells = [fmt_float(r["parent_mib"], 0)] * 3
        rows.append(
            [
                label,
                str(1 + r["workers"]),
                *cells,
                fmt_float(r["imports_mib"], 0),
                fmt_float(r["start_seconds"], 1),
                f"{args.vec_steps:,}",
            ]
        )

    print(f"\n## (b) {n} envs of {OURS}: peak memory of all processes\n")
    print(
        markdown_table(
            [
                "setup",
                "processes",
                "sum of peak RSS MiB",
                "parent + workers' PSS MiB",
                "parent + workers' USS MiB",
                "parent RSS after imports MiB",
                "start s",
                "steps",
            ],
            rows,
        )
    )
    for note in notes:
        print(f"\n{note}")
    print(
        "\nRSS counts shared pages in every process (an overstatement), USS only each "
        "worker's own pages (an understatement); PSS splits shared pages between processes."
    )
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
