"""Build a recorded NAS table: train every configuration of a discrete grid once.

Shared by ``scripts/build_mnist1d_table.py`` and ``scripts/build_digits_table.py``.
A grid module (``search_spaces.mnist1d_grid``, ``search_spaces.digits_grid``)
defines ``all_params()`` and ``to_config(params)``; a live grid space class
trains a configuration and owns the probe set. Each configuration is trained
with a fixed seed and budget and recorded on the space's probe set. Per
configuration the table stores validation and test accuracy, the per-epoch
validation curve, training seconds, parameter count, and the penultimate
representation reduced by PCA to ``components`` dimensions in float16
(pairwise distances between probe points -- all the diffusion operator needs
-- are kept up to the discarded variance, which is stored too).

Resumable: every finished configuration is written at once to
``WORKDIR/parts/NNNN.npz``; a rerun trains only what is missing, then packs
all parts into ``out``. Runs ``jobs`` spawned worker processes, one torch
thread each, at the niceness the caller asks for.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np

from manifold_search.registry import import_object


@dataclass(frozen=True)
class TableSpec:
    """What a table is built from.

    Attributes:
        grid: module with ``all_params()`` and ``to_config(params)``.
        space: ``module:Class`` of the live grid space that trains and probes.
        epochs: training epochs per configuration.
        seed: space seed (data split, probe, initial weights, shuffling).
        workdir, out: default parts directory and table file.
    """

    grid: str
    space: str
    epochs: int
    workdir: str
    out: str
    seed: int = 0

    def make_space(self, record: bool = False) -> Any:
        return import_object(self.space)(epochs=self.epochs, seed=self.seed, record=record)

    def all_params(self) -> list[dict[str, Any]]:
        return import_object(f"{self.grid}:all_params")()


def reduce_pca(rep: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """PCA scores of the first ``k`` components (float16) and the fraction of variance kept."""
    rep = np.nan_to_num(rep.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    centred = rep - rep.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    total = float((s**2).sum())
    kept = float((s[:k] ** 2).sum()) / total if total > 0 else 1.0
    scores = u[:, :k] * s[:k]
    if scores.shape[1] < k:  # narrower than k: pad with zero columns
        scores = np.pad(scores, ((0, 0), (0, k - scores.shape[1])))
    return scores.astype(np.float16), kept


class _Curve:
    """Collects per-epoch validation accuracy as an Optuna trial would (never prunes)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def report(self, value: float, step: int) -> None:
        self.values.append(value)

    def should_prune(self) -> bool:
        return False


def _part_path(workdir: str, index: int) -> str:
    return os.path.join(workdir, "parts", f"{index:04d}.npz")


def train_one(spec: TableSpec, index: int, params: dict, workdir: str, components: int) -> tuple[int, float, float]:
    """Train configuration ``index`` and write its part file atomically."""
    import torch

    from manifold_search.representations import capture_representations

    torch.set_num_threads(1)
    space = spec.make_space()
    config = import_object(f"{spec.grid}:to_config")(params)
    curve = _Curve()
    model = space.seeded_build(config)
    metrics = space.train_and_evaluate(model, config, curve)
    rep = capture_representations(model, space.probe())["penultimate"]
    reduced, kept = reduce_pca(rep, components)
    path = _part_path(workdir, index)
    np.savez_compressed(
        path + ".tmp.npz",
        params=json.dumps(params, sort_keys=True),
        val_accuracy=metrics["val_accuracy"],
        test_accuracy=metrics["test_accuracy"],
        train_seconds=metrics["train_seconds"],
        n_params=metrics["n_params"],
        diverged=metrics["diverged"],
        val_curve=np.asarray(curve.values + [np.nan] * (spec.epochs - len(curve.values)), np.float32),
        representation=reduced,
        rep_width=rep.shape[1],
        variance_kept=kept,
        finite=bool(np.isfinite(rep).all()),
    )
    os.replace(path + ".tmp.npz", path)
    return index, metrics["val_accuracy"], metrics["train_seconds"]


def pack(spec: TableSpec, workdir: str, out: str, n: int, components: int) -> None:
    """Stack the ``n`` part files into one compressed table (no pickled objects)."""
    import optuna
    import torch

    parts = [np.load(_part_path(workdir, i), allow_pickle=False) for i in range(n)]
    probe = spec.make_space().probe()
    meta = {
        "epochs": spec.epochs, "seed": spec.seed, "components": components, "probe": probe.fingerprint,
        "probe_size": len(probe), "torch": torch.__version__, "optuna": optuna.__version__,
        "numpy": np.__version__, "python": platform.python_version(),
        "built": time.strftime("%Y-%m-%d"), "machine": platform.machine(), "grid": spec.grid,
    }  # fmt: skip
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    np.savez_compressed(
        out,
        params=np.array([str(p["params"]) for p in parts]),
        val_accuracy=np.array([float(p["val_accuracy"]) for p in parts], np.float32),
        test_accuracy=np.array([float(p["test_accuracy"]) for p in parts], np.float32),
        train_seconds=np.array([float(p["train_seconds"]) for p in parts], np.float32),
        n_params=np.array([int(p["n_params"]) for p in parts], np.int64),
        diverged=np.array([bool(p["diverged"]) for p in parts]),
        finite=np.array([bool(p["finite"]) for p in parts]),
        val_curve=np.stack([p["val_curve"] for p in parts]),
        representation=np.stack([p["representation"] for p in parts]),
        rep_width=np.array([int(p["rep_width"]) for p in parts], np.int32),
        variance_kept=np.array([float(p["variance_kept"]) for p in parts], np.float32),
        probe_labels=probe.labels,
        meta=json.dumps(meta),
    )
    print(f"packed {n} configurations into {out} ({os.path.getsize(out) / 1e6:.1f} MB)", flush=True)


def build(spec: TableSpec, workdir: str, out: str, jobs: int = 2, components: int = 32,
          limit: int | None = None) -> None:  # fmt: skip
    """Train what is missing under ``workdir`` (``jobs`` processes), then pack into ``out``."""
    grid = spec.all_params()[:limit]
    os.makedirs(os.path.join(workdir, "parts"), exist_ok=True)
    todo = [i for i in range(len(grid)) if not os.path.exists(_part_path(workdir, i))]
    print(f"{len(grid)} configurations, {len(grid) - len(todo)} done, {len(todo)} to train", flush=True)
    start = time.time()
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(train_one, spec, i, grid[i], workdir, components) for i in todo]
        for done, future in enumerate(as_completed(futures), 1):
            index, val, seconds = future.result()
            eta = (time.time() - start) / done * (len(todo) - done)
            print(f"[{done}/{len(todo)}] config {index}: val {val:.3f} in {seconds:.1f}s, "
                  f"eta {eta / 60:.1f} min", flush=True)  # fmt: skip
    print(f"trained {len(todo)} configurations in {time.time() - start:.0f} s wall", flush=True)
    pack(spec, workdir, out, len(grid), components)


def main(spec: TableSpec, description: str, argv: list[str] | None = None) -> None:
    """Command line of a table-building script."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workdir", default=spec.workdir, help="where the per-configuration parts go")
    parser.add_argument("--out", default=spec.out, help="the packed table file")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one torch thread each)")
    parser.add_argument("--components", type=int, default=32, help="PCA components kept per representation")
    parser.add_argument("--limit", type=int, default=None, help="only the first N configurations")
    parser.add_argument("--nice", type=int, default=10, help="niceness increment (0: none); workers inherit it")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    build(spec, args.workdir, args.out, args.jobs, args.components, args.limit)
