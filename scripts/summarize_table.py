"""Print the figures docs/benchmarks.md quotes for a recorded NAS table.

Accuracy spread, the best configuration per family, how crowded the top is,
PCA variance kept, training time and file size, for any recorded table
(``mnist1d-table``, ``digits-table``):

    python scripts/summarize_table.py --problem digits-table
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def _summary(problem) -> list[str]:
    val, test = problem.val_accuracy, problem.test_accuracy
    with np.load(problem.path, allow_pickle=False) as data:
        kept, diverged = data["variance_kept"], data["diverged"]
    families = np.array([p["family"] for p in problem.params])
    lines = [
        f"{problem.name}: {len(val)} configurations, file {os.path.getsize(problem.path) / 1e6:.1f} MB, "
        f"meta {problem.meta}",
        f"validation accuracy: min {val.min():.3f}, quartiles {np.percentile(val, 25):.3f} / "
        f"{np.median(val):.3f} / {np.percentile(val, 75):.3f}, max {val.max():.3f}; "
        f"test accuracy max {test.max():.3f}; diverged {int(diverged.sum())}",
        f"top: {int((val == val.max()).sum())} configurations at the max, "
        f"{int((val >= val.max() - 0.005).sum())} within 0.005, {int((val >= val.max() - 0.01).sum())} within 0.01",
        f"Spearman(val, test) = {_spearman(val, test):.3f}; "
        f"training seconds: total {problem.train_seconds.sum():.0f}, median {np.median(problem.train_seconds):.2f}",
    ]
    for family in sorted(set(families)):
        rows = np.flatnonzero(families == family)
        best = rows[np.argmax(val[rows])]
        lines.append(
            f"  {family}: {len(rows)} rows, val median {np.median(val[rows]):.3f}, best {val[best]:.3f} "
            f"(test {test[best]:.3f}) {problem.params[best]}; PCA variance kept median "
            f"{np.median(kept[rows]):.3f}, min {kept[rows].min():.3f}"
        )
    return lines


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="digits-table")
    args = parser.parse_args()
    from manifold_search.benchmark import get_problem

    print("\n".join(_summary(get_problem(args.problem))))


if __name__ == "__main__":
    sys.exit(main())
