"""Time spent inside the sampler per trial once 200 trials have finished, against TPE.

Runs ``manifold-search benchmark`` on the MNIST-1D table for ``--trials`` (default
220) trials and ``--seeds`` seeds per sampler (the manifold sampler with its
defaults, annotations included; TPE and GP with Optuna's defaults), then
reports the median time inside the sampler over trials 201..T, measured in the
same run. Resumable (the benchmark's result files are reused).

    python benchmarks/bench_sampler_overhead.py --out runs/overhead
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=220)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--samplers", default="manifold,tpe,gp")
    parser.add_argument("--out", default="runs/overhead")
    parser.add_argument("--doc", default="docs/sampler_overhead.md")
    args = parser.parse_args()
    command = [
        sys.executable, "-m", "manifold_search.cli", "benchmark", "--problem", "mnist1d-table", "--samplers", args.samplers,
        "--seeds", str(args.seeds), "--trials", str(args.trials), "--jobs", "2",
        "--budgets", f"100,200,{args.trials}", "--out", args.out, "--no-progress",
    ]  # fmt: skip
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    rows = []
    for label in args.samplers.split(","):
        seconds = []
        for path in sorted(Path(args.out, "runs", label).glob("seed-*.json")):
            seconds.extend(json.loads(path.read_text())["sampler_seconds"][200:])
        rows.append((label, float(np.median(seconds)), float(np.percentile(seconds, 90)), len(seconds)))
    tpe = dict((r[0], r[1]) for r in rows).get("tpe")
    lines = [
        "# Sampler overhead with 200 finished trials",
        "",
        f"Command: `python benchmarks/bench_sampler_overhead.py --trials {args.trials} --seeds {args.seeds}`"
        f" (runs `manifold-search {' '.join(command[3:])}`). Machine: {os.cpu_count()} cores, shared; one thread per run.",
        "",
        "Time inside the sampler (all Optuna sampler hooks, including the manifold sampler's "
        "after-trial annotation: features, region score, PHATE refit) for trials 201 and later.",
        "",
        "| sampler | median s / trial | 90th percentile s | trials | ratio to TPE (median) |",
        "|---|---|---|---|---|",
        *[f"| {label} | {med:.3f} | {p90:.3f} | {n} | {med / tpe:.1f}x |" if tpe else
          f"| {label} | {med:.3f} | {p90:.3f} | {n} | - |" for label, med, p90, n in rows],
        "",
    ]
    Path(args.doc).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
