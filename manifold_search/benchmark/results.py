"""The results of a benchmark directory as arrays, and the statistics computed from them.

Everything is recomputed from the run files, so a report can be regenerated at
any time, also while runs are missing: the paired statistics then use the seeds
every sampler has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manifold_search.benchmark import stats, store, time_to_target


@dataclass
class Collected:
    """Run files of one directory as aligned arrays (samplers x seeds x trials)."""

    problem: str
    n_trials: int
    labels: list[str]
    specs: dict[str, dict[str, Any]]
    seeds: list[int]
    incomplete: dict[str, list[int]]
    regret: np.ndarray
    test_regret: np.ndarray | None
    seconds: np.ndarray
    wall: np.ndarray
    cpu: np.ndarray
    elapsed: np.ndarray
    steps: np.ndarray
    failed_trials: dict[tuple[str, int], tuple[int, str | None]]


def as_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=float)


def collect(out: Path, order: Sequence[str] = ()) -> Collected:
    """Load every run under ``out``; keep the seeds that all samplers finished."""
    meta = store.read_meta(out)
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    specs: dict[str, dict[str, Any]] = {}
    for run in store.iter_runs(out):
        label = run["sampler"]["label"]
        runs.setdefault(label, {})[run["seed"]] = run
        specs[label] = run["sampler"]
    if not runs:
        raise store.ResultsDirError(
            f"{str(out)!r} holds no finished runs yet; run the benchmark first"
        )
    labels = [x for x in order if x in runs] + sorted(x for x in runs if x not in order)
    all_seeds = sorted(set().union(*(set(r) for r in runs.values())))
    seeds = [s for s in all_seeds if all(s in runs[x] for x in labels)]
    incomplete = {x: [s for s in all_seeds if s not in runs[x]] for x in labels}
    incomplete = {x: v for x, v in incomplete.items() if v}
    n_trials = int(meta["n_trials"])

    def stack(key: str) -> np.ndarray:
        arr = np.full((len(labels), len(seeds), n_trials), math.nan)
        for i, x in enumerate(labels):
            for j, s in enumerate(seeds):
                vals = runs[x][s].get(key)
                if vals is not None:
                    a = as_array(vals)[:n_trials]
                    arr[i, j, : a.size] = a
        return arr

    failed_trials = {
        (x, s): (runs[x][s].get("failed_trials", 0), runs[x][s].get("first_error"))
        for x in labels for s in seeds if runs[x][s].get("failed_trials")
    }
    has_test = any(runs[x][s].get("test_regret") is not None for x in labels for s in seeds)
    wall = np.array([[runs[x][s]["wall_seconds"] for s in seeds] for x in labels], dtype=float)
    cpu = np.array([[runs[x][s].get("cpu_seconds", math.nan) for s in seeds] for x in labels],
                   dtype=float)
    return Collected(
        problem=meta["problem"], n_trials=n_trials, labels=labels, specs=specs, seeds=seeds,
        incomplete=incomplete, regret=stack("regret"),
        test_regret=stack("test_regret") if has_test else None,
        seconds=stack("sampler_seconds"), wall=wall.reshape(len(labels), len(seeds)),
        cpu=cpu.reshape(len(labels), len(seeds)),
        elapsed=stack("elapsed_seconds"), steps=stack("steps"),
        failed_trials=failed_trials,
    )


def compute(c: Collected, budgets: Sequence[int], reference: str | None) -> dict[str, Any]:
    """All statistics of a collected benchmark, JSON-serialisable."""
    budgets = sorted({b for b in budgets if 1 <= b <= c.n_trials} | {c.n_trials})
    if reference not in c.labels:
        reference = "tpe" if "tpe" in c.labels else c.labels[0]
    result: dict[str, Any] = {
        "budgets": budgets,
        "reference": reference,
        "seeds": c.seeds,
        "regret": {str(b): stats.budget_table(c.regret[:, :, b - 1], c.labels, reference)
                   for b in budgets},
        "curves": {x: stats.curve(c.regret[i]) for i, x in enumerate(c.labels)},
        "overhead": {x: {**stats.overhead(c.seconds[i]),
                         "mean_wall_per_run": stats.summarize(c.wall[i])["mean"],
                         "mean_cpu_per_run": stats.summarize(c.cpu[i])["mean"],
                         "total_wall": _sum(c.wall[i]), "total_cpu": _sum(c.cpu[i])}
                     for i, x in enumerate(c.labels)},
    }
    reached = time_to_target.table(c.regret, c.elapsed, c.steps, c.labels, reference)
    if reached is not None:
        result["time_to_target"] = reached
    if c.test_regret is not None:
        result["test_regret"] = {
            str(b): stats.budget_table(c.test_regret[:, :, b - 1], c.labels, reference)
            for b in budgets
        }
        result["test_curves"] = {x: stats.curve(c.test_regret[i]) for i, x in enumerate(c.labels)}
    return result


def _sum(x: np.ndarray) -> float | None:
    x = np.asarray(x, dtype=float)
    return float(x.sum()) if x.size and np.isfinite(x).all() else None
