"""Cost of ``kernel="mixed"`` against the default surrogate, per proposal, at 100 and 1,000 trials.

Times the surrogate step of a proposal (fit on the finished trials, posterior on the
candidate pool, the kernel from candidates to trials that the region lift uses), which
is the only step ``kernel="mixed"`` changes: ``MetricGP`` (default) against ``MixedGP``.
Configurations are random draws of the MNIST-1D table space (conditional, 14 parameters)
made with RandomSampler on the real table objective; network distances are Euclidean
distances between random points (timing does not depend on their values).

    python benchmarks/bench_mixed_kernel.py [--sizes 100,1000] [--candidates 450] [--repeats 3]

With ``--study DB`` (a recorded MNIST-1D table study, e.g. one that
``benchmarks/bench_growth.py`` builds under ``runs/growth/studies/n1000.db``) it times
whole proposals instead: on a fresh copy of the study per sampler, ``--proposals`` more
trials, the median seconds inside the sampler (the first, which reads the records, left
out), default against ``kernel="mixed"``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from manifold_search import ManifoldSampler
from manifold_search._history import gather
from manifold_search._mixed_gp import MixedGP
from manifold_search._surrogate import MetricGP
from manifold_search.benchmark.problems import get_problem
from manifold_search.representations import release_artifact_store


def _history(n: int, seed: int = 0):
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    objective = get_problem("mnist1d-table").objective(seed)
    try:
        study.optimize(objective, n_trials=n)
    finally:
        release_artifact_store(study)
    return gather(study, 2)


def _time(make, x, y, cand, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        gp = make().fit(x, y)
        gp.predict(cand)
        gp.kernel(cand, x)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--candidates", type=int, default=450)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--study", help="time whole proposals on copies of this recorded study")
    parser.add_argument("--proposals", type=int, default=6)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.study:
        for kernel in ("params", "mixed"):
            print(f"kernel={kernel}: median {_proposals(Path(args.study), kernel, args.proposals):.3f} s "
                  f"per proposal ({os.cpu_count()} cores, shared)")
        return
    print(f"Machine: {os.cpu_count()} cores, shared. Best of {args.repeats}; s per proposal (surrogate step).")
    print("| finished trials | default (MetricGP) | kernel=\"mixed\" (MixedGP) | ratio | beta chosen |")
    print("|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        print(_row(n, args.candidates, args.repeats))


def _proposals(db: Path, kernel: str, n: int) -> float:
    """Median seconds inside ``ManifoldSampler(kernel=kernel)`` over ``n`` proposals on a
    copy of the study in ``db`` (its records folder beside it), the first left out."""
    from manifold_search.benchmark.mnist1d_table import Mnist1DTable
    from manifold_search.benchmark.timing import TimedSampler

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp, db.name)
        shutil.copy(db, copy)
        shutil.copytree(Path(f"{db}.artifacts"), Path(f"{copy}.artifacts"))
        sampler = TimedSampler(ManifoldSampler(seed=0, kernel=kernel))
        study = optuna.load_study(study_name=None, storage=f"sqlite:///{copy}", sampler=sampler)
        before = len(study.trials)
        study.optimize(Mnist1DTable.load().objective(0), n_trials=n + 1)
        return statistics.median(sampler.seconds[t.number] for t in study.trials[before + 1:])


def _row(n: int, n_candidates: int, repeats: int) -> str:
    """One table row: ``n`` finished trials, ``n_candidates`` candidates."""
    history = _history(n + n_candidates)
    x, y, cand = history.x[:n], history.values[:n], history.x[n:]
    weights = np.ones(len(history.encoder.columns))
    points = np.random.default_rng(0).normal(size=(n, 8))
    net_d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(axis=2))
    base = _time(lambda: MetricGP(weights, history.encoder.deltas), x, y, cand, repeats)
    mixed = _time(lambda: MixedGP(weights, history.encoder.deltas, x, net_d), x, y, cand, repeats)
    beta = MixedGP(weights, history.encoder.deltas, x, net_d).fit(x, y).beta
    return f"| {n} | {base:.3f} | {mixed:.3f} | {mixed / base:.2f} | {beta} |"

if __name__ == "__main__":
    main()
