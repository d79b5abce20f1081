"""Observed regret of benchmark runs, paired on the seeds every compared sampler finished.

    python scripts/v2_summary.py OUT_DIR [--budgets 25,50,100] [--against gp,tpe]

Reads ``OUT_DIR/runs/<label>/seed-*.json`` (``manifold-search benchmark --out``) and
prints, per budget, a markdown table: seeds, mean ± s.e. and median of the observed
regret (best value found so far against the table's best single value), and per
reference sampler W/T/L and the one-sided Wilcoxon p that the regret is lower than the
reference's, over the seeds both finished. Written for runs where not every sampler
finished every seed (the benchmark report pairs on the full seed list only). Runs with
failed trials are named in a warning before the tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon


def load(out: Path) -> dict[str, dict[int, list[float]]]:
    runs: dict[str, dict[int, list[float]]] = {}
    for path in sorted(out.glob("runs/*/seed-*.json")):
        data = json.loads(path.read_text())
        runs.setdefault(path.parent.name, {})[int(data["seed"])] = data["regret"]
    return runs


def failed_trials(out: Path) -> list[str]:
    """One line per sampler whose runs had failed trials: a regret table over runs whose
    trials failed measures the failures, so say it before the tables."""
    counts: dict[str, list[int]] = {}
    for path in sorted(out.glob("runs/*/seed-*.json")):
        data = json.loads(path.read_text())
        if data.get("failed_trials"):
            counts.setdefault(path.parent.name, []).append(int(data["seed"]))
    return [f"WARNING: {label}: failed trials in the runs of seeds {seeds} (see the benchmark report)"
            for label, seeds in counts.items()]  # fmt: skip


def paired(a: dict[int, list[float]], b: dict[int, list[float]], budget: int) -> str:
    seeds = sorted(set(a) & set(b))
    x = np.array([a[s][budget - 1] for s in seeds])
    y = np.array([b[s][budget - 1] for s in seeds])
    w, t, ell = int((x < y).sum()), int((x == y).sum()), int((x > y).sum())
    p = 1.0 if w + ell == 0 else float(wilcoxon(x, y, alternative="less", zero_method="wilcox").pvalue)
    return f"{w}/{t}/{ell} (n={len(seeds)}), p={p:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--budgets", default="25,50,100")
    parser.add_argument("--against", default="gp,tpe")
    args = parser.parse_args()
    runs = load(args.out)
    refs = [r for r in args.against.split(",") if r in runs]
    for line in failed_trials(args.out):
        print(line)
    for budget in map(int, args.budgets.split(",")):
        print(f"\n{args.out.name}: observed regret after {budget} trials\n")
        print("| sampler | seeds | mean ± s.e. | median | " + " | ".join(f"vs {r}: W/T/L, p" for r in refs) + " |")
        print("|---|---|---|---|" + "---|" * len(refs))
        for label, seeds in sorted(runs.items()):
            v = np.array([r[budget - 1] for r in seeds.values() if len(r) >= budget])
            if not len(v):
                continue
            se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
            cells = ["-" if r == label else paired(seeds, runs[r], budget) for r in refs]
            print(f"| {label} | {len(v)} | {v.mean():.4g} ± {se:.2g} | {np.median(v):.4g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
