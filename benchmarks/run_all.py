"""Run every benchmark script in sequence, each in its own process, and print their tables.

Each script runs as ``python benchmarks/<name>.py`` (its defaults, or smaller budgets with
``--quick``), one after the other so they do not compete for the cores. Its stdout (the
Markdown tables) is printed under a heading with the command; its stderr (progress, errors)
goes to this script's stderr. A summary table of exit codes and wall-clock seconds ends the
output; the exit code is non-zero if any script failed.

Run (about 8 minutes with the defaults; ``--quick`` took 1 min 41 s)::

    python benchmarks/run_all.py
    python benchmarks/run_all.py --quick
    python benchmarks/run_all.py --only env_steps ppo_fps
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from _common import fmt_float, machine_line, markdown_table

HERE = Path(__file__).resolve().parent

#: script name -> arguments of --quick (smaller budgets; the defaults otherwise).
SCRIPTS: dict[str, list[str]] = {
    "env_steps": ["--steps", "20000", "--repeats", "2"],
    "vector_env": ["--env-steps", "20000", "--sync-env-steps", "5000", "--sync-max-envs", "16"],
    "reward_models": ["--min-pairs", "512", "--min-seconds", "0.5", "--learned-max-calls", "20"],
    "ppo_fps": ["--timesteps", "5120"],
    "time_to_solve": ["--seeds", "2", "--max-steps", "15000"],
    "ppo_targets": ["--seeds", "2"],
    "observation_ceiling": ["--encoders", "minilm"],
    "memory": ["--steps", "2000", "--n-envs", "4", "--vec-steps", "200"],
    "profile_env": ["--steps", "20000"],
    "text_env": [
        "--steps",
        "5000",
        "--vector-steps",
        "50",
        "--ppo-steps",
        "4096",
        "--repeats",
        "1",
    ],
    "text_reference": ["--episodes", "200"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(SCRIPTS), help="run just these")
    parser.add_argument("--skip", nargs="+", choices=list(SCRIPTS), default=[], help="skip these")
    parser.add_argument("--quick", action="store_true", help="small budgets: a smoke test")
    args = parser.parse_args(argv)

    names = [n for n in (args.only or SCRIPTS) if n not in args.skip]
    print(f"# Benchmarks{' (--quick)' if args.quick else ''}\n\n{machine_line()}")
    summary = []
    for name in names:
        command = [sys.executable, str(HERE / f"{name}.py"), *(SCRIPTS[name] if args.quick else [])]
        shown = shlex.join(["python", f"benchmarks/{name}.py", *command[2:]])
        print(f"\n# {name}: `{shown}`\n", flush=True)
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
        print(done.stdout.rstrip() or "(no output)", flush=True)
        if done.returncode:
            print(f"\n**{name} failed with exit code {done.returncode}** (see stderr)")
        summary.append([name, done.returncode, fmt_float(seconds, 1)])

    print("\n# Summary\n")
    print(markdown_table(["script", "exit code", "seconds"], summary))
    return 1 if any(row[1] for row in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
