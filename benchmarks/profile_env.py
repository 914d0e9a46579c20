"""Where ``SafetyRLHF-v0``'s time goes: cProfile of making the env and of stepping it.

Profiles, with the standard library's ``cProfile``:

(i) ``gym.make("SafetyRLHF-v0")`` in a fresh child process (after ``import gymnasium,
    safety_rlhf``, which are not profiled), as a training run or a ``SubprocVecEnv`` worker
    pays it. The child uses the normal on-disk caches (``$SAFETY_RLHF_CACHE``, default
    ``~/.cache/safety_rlhf``), so a warm cache shows the load path; ``--cold`` adds a second
    child whose cache is a fresh empty temp dir, which shows the full build (MiniLM
    embedding of the corpus, reward-model scoring; tens of seconds);
(ii) ``--steps`` steps (default 100,000) of the single env with Gymnasium's default
    wrappers, random actions precomputed from a seeded generator, ``reset()`` at episode
    ends, in this process (env creation not profiled).

For each it prints the top ``--top`` functions (default 15) by cumulative time and by
total (own) time as Markdown tables. cProfile's overhead inflates many small calls, so the
absolute figures are larger than in ``env_steps.py``; the ranking is what to read.

Run (about 30 s with the defaults)::

    python benchmarks/profile_env.py
    python benchmarks/profile_env.py --cold --top 25
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from _common import fmt_float, machine_line, markdown_table

OURS = "SafetyRLHF-v0"
_REPO = str(Path(__file__).resolve().parents[1]) + os.sep
_PREFIXES = (
    (sysconfig.get_paths()["purelib"] + os.sep, ""),
    (_REPO, ""),
    (sysconfig.get_paths()["stdlib"] + os.sep, "<stdlib>/"),
)


def short_name(func: tuple[str, int, str]) -> str:
    """``path:line(function)`` with site-packages, the repo and the stdlib prefix cut."""
    path, line, name = func
    if path == "~" and line == 0:  # built-ins
        return name
    for prefix, replacement in _PREFIXES:
        if path.startswith(prefix):
            path = replacement + path[len(prefix) :]
            break
    return f"{path}:{line}({name})"


def top_table(stats: pstats.Stats, key: str, top: int) -> str:
    """The ``top`` functions of ``stats`` sorted by ``key`` (``cumulative`` or ``tottime``)."""
    raw = stats.stats  # type: ignore[attr-defined]
    index = 3 if key == "cumulative" else 2
    order = sorted(raw.items(), key=lambda kv: kv[1][index], reverse=True)[:top]
    rows = []
    for func, (cc, nc, tt, ct, _) in order:
        calls = f"{nc:,}" if cc == nc else f"{nc:,}/{cc:,}"
        rows.append(
            [
                calls,
                fmt_float(tt, 3),
                fmt_float(ct, 3),
                fmt_float(1e6 * ct / nc, 1) if nc else "n/a",
                short_name(func),
            ]
        )
    return markdown_table(["calls", "tottime s", "cumtime s", "cum µs/call", "function"], rows)


def print_profile(title: str, stats: pstats.Stats, top: int) -> None:
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n## {title}: top {top} by cumulative time (profiled total {total:.3f} s)\n")
    print(top_table(stats, "cumulative", top))
    print(f"\n## {title}: top {top} by total (own) time\n")
    print(top_table(stats, "tottime", top))


def child_make(out: str) -> None:
    """In a fresh process: profile ``gym.make`` and dump the stats to ``out``."""
    import gymnasium as gym

    import safety_rlhf  # noqa: F401  (registers SafetyRLHF-v0)

    profiler = cProfile.Profile()
    profiler.enable()
    env = gym.make(OURS)
    profiler.disable()
    env.close()
    profiler.dump_stats(out)


def profile_make(cold: bool) -> tuple[pstats.Stats, float]:
    """Profile ``gym.make`` in a child process; (stats, child wall-clock seconds)."""
    with tempfile.TemporaryDirectory(prefix="safety-rlhf-profile-") as tmp:
        out = str(Path(tmp) / "make.prof")
        env = dict(os.environ)
        if cold:
            env["SAFETY_RLHF_CACHE"] = str(Path(tmp) / "cache")
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--child-make", out], check=True, env=env)
        seconds = time.perf_counter() - start
        return pstats.Stats(out), seconds


def profile_steps(steps: int, seed: int) -> tuple[pstats.Stats, float]:
    """Profile ``steps`` random steps of the single env; (stats, unprofiled-free seconds)."""
    import gymnasium as gym
    import numpy as np

    import safety_rlhf  # noqa: F401  (registers SafetyRLHF-v0)

    env = gym.make(OURS)
    env.reset(seed=seed)
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    actions = np.random.default_rng(seed).integers(0, n_actions, size=steps).tolist()

    def run() -> None:
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()

    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(run)
    seconds = time.perf_counter() - start
    env.close()
    return pstats.Stats(profiler), seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps profiled in (ii)")
    parser.add_argument("--top", type=int, default=15, help="functions per table")
    parser.add_argument("--cold", action="store_true", help="also profile a cold-cache make")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child-make", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_make:
        child_make(args.child_make)
        return

    for cold in (False, True) if args.cold else (False,):
        stats, seconds = profile_make(cold)
        cache = "empty temp cache" if cold else "normal caches"
        print_profile(f'(i) gym.make("{OURS}") in a fresh process, {cache}', stats, args.top)
        print(f"\nchild process wall-clock, imports included: {seconds:.1f} s")

    stats, seconds = profile_steps(args.steps, args.seed)
    print_profile(f"(ii) {args.steps:,} steps of {OURS}", stats, args.top)
    print(
        f"\n{args.steps:,} steps in {seconds:.2f} s under the profiler "
        f"({args.steps / seconds:,.0f} steps/s; see env_steps.py for unprofiled figures)"
    )
    print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
