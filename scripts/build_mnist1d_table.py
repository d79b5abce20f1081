"""Build the MNIST-1D NAS table: train every configuration of the grid once.

Each configuration of ``search_spaces.mnist1d_grid`` is trained with a fixed
seed and budget (15 epochs) and recorded on the live ``mnist1d`` space's probe
set (256 validation inputs, seed 0). Per configuration the table stores
validation and test accuracy, the per-epoch validation curve, training
seconds, parameter count, and the penultimate representation reduced by PCA
to ``--components`` dimensions in float16 (pairwise distances between probe
points -- all the diffusion operator needs -- are kept up to the discarded
variance, which is stored too).

Resumable: every finished configuration is written at once to
``WORKDIR/parts/NNNN.npz``; a rerun trains only what is missing, then packs
all parts into ``--out``. Runs ``--jobs`` worker processes, one torch thread each.

    nohup python scripts/build_mnist1d_table.py --jobs 2 > runs/table.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import numpy as np

EPOCHS = 15
SEED = 0


def _reduce(rep: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """PCA scores of the first ``k`` components and the fraction of variance kept."""
    rep = np.nan_to_num(rep.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    centred = rep - rep.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    total = float((s**2).sum())
    kept = float((s[:k] ** 2).sum()) / total if total > 0 else 1.0
    scores = u[:, :k] * s[:k]
    if scores.shape[1] < k:  # narrower than k: pad with zero columns
        scores = np.pad(scores, ((0, 0), (0, k - scores.shape[1])))
    return scores.astype(np.float16), kept


def train_one(index: int, params: dict, workdir: str, components: int) -> tuple[int, float, float]:
    import torch

    from manifold_search.representations import capture_representations
    from search_spaces.mnist1d_grid import Mnist1DGridSpace, to_config

    torch.set_num_threads(1)
    space = Mnist1DGridSpace(epochs=EPOCHS, seed=SEED, record=False)
    config = to_config(params)

    class Curve:  # collects per-epoch validation accuracy like an Optuna trial would
        def __init__(self) -> None:
            self.values: list[float] = []

        def report(self, value, step):
            self.values.append(value)

        def should_prune(self):
            return False

    curve = Curve()
    model = space.seeded_build(config)
    metrics = space.train_and_evaluate(model, config, curve)
    rep = capture_representations(model, space.probe())["penultimate"]
    reduced, kept = _reduce(rep, components)
    path = os.path.join(workdir, "parts", f"{index:04d}.npz")
    np.savez_compressed(
        path + ".tmp.npz",
        params=json.dumps(params, sort_keys=True),
        val_accuracy=metrics["val_accuracy"],
        test_accuracy=metrics["test_accuracy"],
        train_seconds=metrics["train_seconds"],
        n_params=metrics["n_params"],
        diverged=metrics["diverged"],
        val_curve=np.asarray(curve.values + [np.nan] * (EPOCHS - len(curve.values)), np.float32),
        representation=reduced,
        rep_width=rep.shape[1],
        variance_kept=kept,
        finite=bool(np.isfinite(rep).all()),
    )
    os.replace(path + ".tmp.npz", path)
    return index, metrics["val_accuracy"], metrics["train_seconds"]


def pack(workdir: str, out: str, n: int, components: int) -> None:
    import optuna
    import torch

    from search_spaces.mnist1d import Mnist1DSpace

    parts = [np.load(os.path.join(workdir, "parts", f"{i:04d}.npz")) for i in range(n)]
    probe = Mnist1DSpace(seed=SEED).probe()
    meta = {
        "epochs": EPOCHS, "seed": SEED, "components": components, "probe": probe.fingerprint,
        "probe_size": len(probe), "torch": torch.__version__, "optuna": optuna.__version__,
        "numpy": np.__version__, "python": platform.python_version(),
        "built": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
    }  # fmt: skip
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


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the MNIST-1D NAS table (resumable).")
    parser.add_argument("--workdir", default="runs/mnist1d_table")
    parser.add_argument("--out", default="manifold_search/tables/mnist1d_nas.npz")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--components", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="only the first N configurations")
    args = parser.parse_args()

    from search_spaces.mnist1d_grid import all_params

    grid = all_params()[: args.limit]
    os.makedirs(os.path.join(args.workdir, "parts"), exist_ok=True)
    todo = [i for i in range(len(grid))
            if not os.path.exists(os.path.join(args.workdir, "parts", f"{i:04d}.npz"))]  # fmt: skip
    print(f"{len(grid)} configurations, {len(grid) - len(todo)} done, {len(todo)} to train", flush=True)
    start = time.time()
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(train_one, i, grid[i], args.workdir, args.components) for i in todo]
        for done, future in enumerate(as_completed(futures), 1):
            index, val, seconds = future.result()
            eta = (time.time() - start) / done * (len(todo) - done)
            print(f"[{done}/{len(todo)}] config {index}: val {val:.3f} in {seconds:.1f}s, "
                  f"eta {eta / 60:.1f} min", flush=True)  # fmt: skip
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    pack(args.workdir, args.out, len(grid), args.components)


if __name__ == "__main__":
    sys.exit(main())
