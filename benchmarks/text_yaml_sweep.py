"""The sweep behind the text env's PPO and MaskablePPO YAML entries.

Each cell is ``safety-rlhf train --env SafetyRLHF-Text-v0 --algo ALGO --kl-coef 0.05
--timesteps 50000 --eval-freq 0 --seed S --hyperparams KEY:VALUE`` (one setting changed from
the YAML at a time; the env's default reward ``learned-text``), run as separate processes,
``--jobs`` at a time. Every run ends with ``safety-rlhf train``'s evaluation of the sampled
policy on the test split; the table gives the mean over seeds of its test figures and the
KL-regularised objective ``proxy - 0.05 * kl_ref`` that the agent maximises, which is what
the settings are chosen by (the gold columns are shown, not used to choose).

Run (about 20 minutes on 2 cores with the defaults)::

    python benchmarks/text_yaml_sweep.py --out /tmp/text-sweep
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import machine_line, markdown_table

#: (algo, label, --hyperparams overrides) of every cell.
CELLS: list[tuple[str, str, list[str]]] = [
    ("ppo", "YAML", []),
    ("ppo", "learning_rate 1e-3", ["learning_rate:1e-3"]),
    ("ppo", "learning_rate 1e-4", ["learning_rate:1e-4"]),
    ("ppo", "n_epochs 10", ["n_epochs:10"]),
    ("ppo", "n_steps 128", ["n_steps:128"]),
    ("maskableppo", "YAML", []),
    ("maskableppo", "learning_rate 1e-3", ["learning_rate:1e-3"]),
    ("maskableppo", "n_epochs 10", ["n_epochs:10"]),
]
METRICS = ("gold_success", "harmful_compliance", "proxy_reward", "kl_ref", "degenerate")
KL_COEF = 0.05


def run(algo: str, overrides: list[str], seed: int, out: Path, timesteps: int) -> dict[str, float]:
    """One ``safety-rlhf train`` run; its test metrics."""
    name = f"{algo}-{'-'.join(overrides) or 'yaml'}-seed{seed}".replace(":", "_")
    cmd = [sys.executable, "-m", "safety_rlhf.experiments.cli", "train",
           "--env", "SafetyRLHF-Text-v0", "--algo", algo, "--kl-coef", str(KL_COEF),
           "--timesteps", str(timesteps), "--seed", str(seed), "--eval-freq", "0",
           "--no-progress-bar", "--log-dir", str(out / name)]  # fmt: skip
    if overrides:
        cmd += ["--hyperparams", *overrides]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    (out / f"{name}.log").write_text(text, encoding="utf-8")
    found = {}
    for key in METRICS:
        match = re.search(rf"^{key}\s+\S+\s+(\S+)\s*$", text, re.M)
        if match is None:
            raise RuntimeError(f"{name}: no test {key} in the output of {' '.join(cmd)}")
        found[key] = float(match.group(1))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(cell, seed) for cell in CELLS for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda j: run(j[0][0], j[0][2], j[1], args.out, args.timesteps),
                                jobs))  # fmt: skip
    rows = []
    for i, (algo, label, _) in enumerate(CELLS):
        cell = results[i * len(args.seeds) : (i + 1) * len(args.seeds)]
        mean = {k: sum(r[k] for r in cell) / len(cell) for k in METRICS}
        objective = mean["proxy_reward"] - KL_COEF * mean["kl_ref"]
        rows.append([algo, label, f"{objective:.3f}", *(f"{mean[k]:.3f}" for k in METRICS)])
    print(machine_line())
    print(f"kl_coef {KL_COEF}, {args.timesteps:,} steps, seeds {args.seeds}; test split, means")
    print(markdown_table(["algo", "setting", "proxy - 0.05 kl", *METRICS], rows))


if __name__ == "__main__":
    main()
